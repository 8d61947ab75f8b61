//! What the kernel says about a client's TCP connection (queues, bytes
//! acknowledged, the server side's send queue): how the client drivers know
//! data has arrived without waiting on a clock.

use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::outcome::Limits;
use super::server::Server;
use crate::procfs::tcp_table;
use crate::sys;
use crate::trace::Tid;

/// Bytes in the client's send queue not yet acknowledged by the server's
/// kernel.
pub(super) fn unsent(stream: &TcpStream) -> libc::c_int {
    sys::socket::unsent(stream)
}

/// Bytes of the server's replies waiting in the client's receive queue.
pub(super) fn arrived(stream: &TcpStream) -> libc::c_int {
    sys::socket::arrived(stream)
}

/// Bytes of the client's the server's kernel has acknowledged so far, or
/// `None` if the kernel will not say.
pub(super) fn acked(stream: &TcpStream) -> Option<u64> {
    sys::socket::bytes_acked(stream)
}

/// Waits until what the client sent (data, or its FIN) has reached the
/// server's kernel: its send queue is empty, every byte acknowledged. On
/// loopback that happens at once, unless the machine is loaded and the
/// packets wait for `ksoftirqd`; a server whose receive buffer is full never
/// acknowledges, so this gives up after the reply timeout.
pub(super) fn delivered(server: &mut Server, stream: &TcpStream, limits: &Limits) {
    let start = Instant::now();
    loop {
        if unsent(stream) == 0 || start.elapsed() > limits.reply || server.overdue() {
            return;
        }
        server.pump(Duration::from_micros(200));
    }
}

/// Bytes the server's side of `stream` has written and the client has not
/// acknowledged (its socket's `tx_queue` in `/proc/PID/net/tcp`, the table
/// of the server's own network namespace, which
/// includes bytes not sent yet), or `None` if that socket is not found
/// (then `collect` goes by settles alone, as it did before: an IPv6
/// server reached over IPv4 is listed under an IPv4-mapped address that
/// this does not look for).
pub(super) fn server_unacked(stream: &TcpStream, server_pid: Tid) -> Option<u32> {
    // The server's socket: local address the client's peer, remote the
    // client's own; each written as the kernel prints it (the address's
    // 32-bit words in host order, then the port, in hex).
    let (server, client) = (stream.peer_addr().ok()?, stream.local_addr().ok()?);
    let hex = |addr: &SocketAddr| {
        let words: String = match addr.ip() {
            IpAddr::V4(ip) => format!("{:08X}", u32::from_ne_bytes(ip.octets())),
            IpAddr::V6(ip) => ip
                .octets()
                .chunks(4)
                .map(|w| format!("{:08X}", u32::from_ne_bytes([w[0], w[1], w[2], w[3]])))
                .collect(),
        };
        format!("{words}:{:04X}", addr.port())
    };
    let table = if server.is_ipv4() { "tcp" } else { "tcp6" };
    let (local, remote) = (hex(&server), hex(&client));
    tcp_table(&format!("/proc/{server_pid}/net/{table}"))
        .into_iter()
        .find(|row| row.local == local && row.remote == remote)
        .map(|row| row.tx_queue)
}

/// Appends to `got` what has arrived on `stream`, up to `want` bytes in
/// all, without waiting; returns whether the server closed the connection
/// (or it failed). MSG_DONTWAIT rather than O_NONBLOCK: a writer thread may
/// share the socket's file description and must keep blocking writes.
pub(super) fn drain(stream: &TcpStream, got: &mut Vec<u8>, want: usize) -> bool {
    use nix::errno::Errno;
    use nix::sys::socket::{MsgFlags, recv};
    let fd = std::os::fd::AsRawFd::as_raw_fd(stream);
    let mut buf = [0u8; 64 * 1024];
    while got.len() < want {
        let room = (want - got.len()).min(buf.len());
        match recv(fd, &mut buf[..room], MsgFlags::MSG_DONTWAIT) {
            Ok(0) => return true,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => return false,
            Err(_) => return true,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::time::{Duration, Instant};

    #[test]
    fn the_server_side_send_queue_is_found_for_both_families() {
        for ip in ["127.0.0.1:0", "[::1]:0"] {
            let listener = std::net::TcpListener::bind(ip).expect("bind on loopback");
            let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let (mut served, _) = listener.accept().unwrap();
            assert_eq!(
                server_unacked(&client, std::process::id() as Tid),
                Some(0),
                "{ip}: a quiet connection"
            );
            // The client reads nothing: what does not fit its window waits
            // in the server's send queue.
            served.set_nonblocking(true).unwrap();
            let chunk = vec![b'x'; 64 * 1024];
            let mut wrote = 0;
            while let Ok(n) = served.write(&chunk) {
                wrote += n;
            }
            let held =
                server_unacked(&client, std::process::id() as Tid).expect("the server's socket");
            assert!(held > 0, "{ip}: {held} of {wrote} bytes held");
            let mut sink = vec![0u8; wrote];
            (&client).read_exact(&mut sink).unwrap();
            let start = Instant::now();
            while server_unacked(&client, std::process::id() as Tid) != Some(0) {
                assert!(
                    start.elapsed() < Duration::from_secs(10),
                    "{ip}: never drained"
                );
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
}
