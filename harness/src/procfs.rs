//! What the harness reads about tasks from `/proc`: a task's state, parent
//! and process group, its CPU time, and fields of its status file; and the
//! rows of the TCP socket tables. One parser for each, shared by the
//! tracer, the scenarios and the fences.

use std::time::Duration;

use crate::trace::Tid;

/// The fields of a task's `stat` file the harness reads.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stat {
    /// `R` running or runnable, `S`/`D` asleep, `Z` zombie, ...
    pub(crate) state: char,
    pub(crate) parent: Tid,
    pub(crate) group: Tid,
}

impl Stat {
    /// Of process `pid` (its main thread).
    pub(crate) fn of(pid: Tid) -> Option<Stat> {
        Stat::parse(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
    }

    /// Of thread `tid` of process `pid`.
    pub(crate) fn of_task(pid: Tid, tid: Tid) -> Option<Stat> {
        Stat::parse(&std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")).ok()?)
    }

    fn parse(stat: &str) -> Option<Stat> {
        // The command name is in parentheses and may hold anything: read
        // after the last one.
        let rest = &stat[stat.rfind(')')? + 1..];
        let mut fields = rest.split_whitespace();
        Some(Stat {
            state: fields.next()?.chars().next()?,
            parent: fields.next()?.parse().ok()?,
            group: fields.next()?.parse().ok()?,
        })
    }

    /// Whether it still runs (exists, and is neither a zombie nor dead).
    pub(crate) fn running(&self) -> bool {
        !matches!(self.state, 'Z' | 'X')
    }
}

/// The state letter of thread `tid` of process `pid`.
pub fn task_state(pid: Tid, tid: Tid) -> Option<char> {
    Stat::of_task(pid, tid).map(|s| s.state)
}

/// How long thread `tid` of process `pid` has run on a CPU, from the
/// scheduler's own accounting (`schedstat`).
pub(crate) fn cpu_time(pid: Tid, tid: Tid) -> Option<Duration> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/schedstat")).ok()?;
    text.split_whitespace()
        .next()?
        .parse::<u64>()
        .ok()
        .map(Duration::from_nanos)
}

/// A numeric field of `/proc/<pid>/status`, such as `Tgid` or `TracerPid`.
pub(crate) fn status_field(pid: Tid, name: &str) -> Option<Tid> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .and_then(|v| v.trim().parse().ok())
}

/// One row of a TCP socket table (`/proc/net/tcp`, `tcp6`): addresses as
/// the kernel prints them (`0100007F:1F90`), the bytes written and not yet
/// acknowledged, and the socket's inode.
pub struct TcpRow {
    pub local: String,
    pub remote: String,
    pub tx_queue: u32,
    pub inode: String,
}

/// The rows of the TCP socket table at `path` (empty if it cannot be read).
pub fn tcp_table(path: &str) -> Vec<TcpRow> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let (tx, _) = cols.get(4)?.split_once(':')?;
            Some(TcpRow {
                local: cols.get(1)?.to_string(),
                remote: cols.get(2)?.to_string(),
                tx_queue: u32::from_str_radix(tx, 16).ok()?,
                inode: cols.get(9)?.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_read_from_proc() {
        let me = std::process::id() as Tid;
        let stat = Stat::of(me).expect("readable");
        // The main thread's state: the test runner waits while this runs.
        assert!(matches!(stat.state, 'R' | 'S'), "{}", stat.state);
        assert_eq!(stat.parent, std::os::unix::process::parent_id() as Tid);
        assert_eq!(stat.group, nix::unistd::getpgrp().as_raw());
        assert_eq!(status_field(me, "Tgid"), Some(me));
        assert_eq!(status_field(me, "Tgi"), None);
        assert!(cpu_time(me, me).is_some());
    }

    #[test]
    fn a_command_name_with_parentheses_is_skipped() {
        let stat = Stat::parse("42 (a) b) S 7 9 9 0").expect("parses");
        assert_eq!((stat.state, stat.parent, stat.group), ('S', 7, 9));
    }
}
