//! Where a server listens, when its `bind` did not say: its socket's
//! entry in `/proc`, or the `listening on` line it printed.

use crate::procfs::tcp_table;
use crate::trace::Tid;

/// The local port of socket `fd` of process `pid`, from `/proc`.
pub(super) fn proc_socket_port(pid: Tid, fd: i32) -> Option<u16> {
    let link = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).ok()?;
    let inode = link
        .to_str()?
        .strip_prefix("socket:[")?
        .strip_suffix(']')?
        .to_string();
    ["tcp", "tcp6"].iter().find_map(|table| {
        let row = tcp_table(&format!("/proc/{pid}/net/{table}"))
            .into_iter()
            .find(|row| row.inode == inode)?;
        u16::from_str_radix(row.local.rsplit(':').next()?, 16).ok()
    })
}

/// The port in a `listening on HOST:PORT` line.
pub(super) fn port_from_output(stdout: &str) -> Option<u16> {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("listening on "))
        .and_then(|rest| rest.trim().rsplit(':').next())
        .and_then(|p| p.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_is_found_in_the_listening_line() {
        assert_eq!(
            port_from_output("hello\nlistening on 127.0.0.1:4242\n"),
            Some(4242)
        );
        assert_eq!(port_from_output("listening on [::1]:80\n"), Some(80));
        assert_eq!(port_from_output("ready\n"), None);
    }
}
