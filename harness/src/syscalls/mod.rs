//! The syscall table: what the harness knows about each x86_64 system call
//! it decodes, by number, written once.
//!
//! A row gives a call's name, its [`Class`] (what checks ask: "is this a
//! read?", "does it wait for readiness?"), and the kind of each argument
//! (which one is the fd, the byte count, the timeout, which flag table
//! names a flag set). Checks test classes and read typed accessors on
//! [`crate::trace::Record`] instead of matching names; both backends name
//! raw values with [`values`]. The names of every syscall and errno number
//! are generated from the kernel headers (`generate.py` writes `names.rs`).

mod names;
mod table;
pub(crate) mod values;

use std::sync::OnceLock;

pub(crate) use names::{ERRNO_NAMES, SYSCALL_NAMES};

/// What a system call does, as far as the checks, the transcripts and the
/// explanations care. Several calls share a class (`accept` and
/// `accept4`; `read`, `readv`, `recvfrom`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Class {
    /// Reads bytes from an fd: `read`, `readv`, `recvfrom`, `recvmsg`, `recvmmsg`.
    Read,
    /// Writes bytes to an fd: `write`, `writev`, `sendto`, `sendmsg`, `sendmmsg`.
    Write,
    /// Takes a connection off a listening socket: `accept`, `accept4`.
    Accept,
    /// `connect`.
    Connect,
    /// `bind`.
    Bind,
    /// `listen`.
    Listen,
    /// Creates sockets: `socket`, `socketpair`.
    Socket,
    /// A socket's own or its peer's address: `getsockname`, `getpeername`.
    SockName,
    /// `setsockopt`, `getsockopt`.
    SockOpt,
    /// `shutdown`.
    Shutdown,
    /// `close`.
    Close,
    /// `dup`, `dup2`, `dup3`.
    Dup,
    /// `fcntl`.
    Fcntl,
    /// `ioctl`.
    Ioctl,
    /// `open`, `openat`.
    Open,
    /// `pipe`, `pipe2`.
    Pipe,
    /// The `select` family: `select`, `pselect6`.
    Select,
    /// The `poll` family: `poll`, `ppoll`.
    Poll,
    /// The `epoll_wait` family: `epoll_wait`, `epoll_pwait`, `epoll_pwait2`.
    EpollWait,
    /// `epoll_ctl`.
    EpollCtl,
    /// `epoll_create`, `epoll_create1`.
    EpollCreate,
    /// The obsolete `epoll_ctl_old` and `epoll_wait_old` (never
    /// implemented on x86_64).
    EpollOld,
    /// Sleeps for a time: `nanosleep`, `clock_nanosleep`.
    Sleep,
    /// `sched_yield`.
    Yield,
    /// `futex`.
    Futex,
    /// Creates a thread or process: `clone`, `clone3`, `fork`, `vfork`.
    Spawn,
    /// Replaces the program: `execve`, `execveat`.
    Exec,
    /// Reaps a child: `wait4`, `waitid`.
    Reap,
    /// Ends a thread or the process: `exit`, `exit_group`.
    Exit,
    /// Sends a signal: `kill`, `tgkill`, `tkill`.
    Kill,
    /// Signal dispositions and masks: `rt_sigaction`, `rt_sigprocmask`, `pause`.
    Signal,
    /// Who am I: `getpid`, `getppid`, `gettid`.
    Identity,
    /// `ptrace`.
    Ptrace,
    /// Everything else (every call without a row in the table).
    Other,
}

impl Class {
    /// The readiness waits: the select, poll and epoll_wait families.
    pub const READINESS: [Class; 3] = [Class::Select, Class::Poll, Class::EpollWait];

    /// Whether calls of this class wait for fds to become ready.
    pub fn is_readiness_wait(self) -> bool {
        Class::READINESS.contains(&self)
    }

    /// Whether calls of this class are part of the epoll API (`epoll_*`).
    pub fn is_epoll(self) -> bool {
        matches!(
            self,
            Class::EpollWait | Class::EpollCtl | Class::EpollCreate | Class::EpollOld
        )
    }
}

/// A `futex` operation: its command (libc's `FUTEX_WAIT`, `FUTEX_WAKE`,
/// ...) and the flags beside it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FutexOp {
    pub cmd: u32,
    /// `FUTEX_PRIVATE_FLAG`: the word is not shared between processes.
    pub private: bool,
    /// `FUTEX_CLOCK_REALTIME`: a timeout counts on the real-time clock.
    pub realtime: bool,
}

impl FutexOp {
    /// The operation an `op` argument holds.
    pub fn from_raw(op: u64) -> FutexOp {
        FutexOp {
            cmd: values::futex_cmd(op) as u32,
            private: op & values::FUTEX_PRIVATE_FLAG != 0,
            realtime: op & values::FUTEX_CLOCK_REALTIME != 0,
        }
    }

    /// The operation named `FUTEX_WAIT_PRIVATE` (and the like), with the
    /// other names of its flag set (`FUTEX_CLOCK_REALTIME`).
    pub fn from_names(names: &[&str]) -> Option<FutexOp> {
        let (first, more) = names.split_first()?;
        let (cmd, private) =
            values::FUTEX_OPS
                .iter()
                .enumerate()
                .find_map(|(cmd, &(plain, private))| {
                    (*first == plain || *first == private).then_some((cmd, *first == private))
                })?;
        Some(FutexOp {
            cmd: cmd as u32,
            private,
            realtime: more.contains(&"FUTEX_CLOCK_REALTIME"),
        })
    }

    /// Whether it is `FUTEX_WAIT`, relative to now.
    pub fn is_plain_wait(self) -> bool {
        self.cmd == libc::FUTEX_WAIT as u32
    }

    /// Whether it waits, of any kind (`FUTEX_WAIT`, `FUTEX_WAIT_BITSET`,
    /// `FUTEX_WAIT_REQUEUE_PI`).
    pub fn is_wait(self) -> bool {
        [
            libc::FUTEX_WAIT,
            libc::FUTEX_WAIT_BITSET,
            libc::FUTEX_WAIT_REQUEUE_PI,
        ]
        .contains(&(self.cmd as i32))
    }

    /// Whether it wakes waiters (`FUTEX_WAKE`, `FUTEX_WAKE_OP`,
    /// `FUTEX_WAKE_BITSET`).
    pub fn is_wake(self) -> bool {
        [
            libc::FUTEX_WAKE,
            libc::FUTEX_WAKE_OP,
            libc::FUTEX_WAKE_BITSET,
        ]
        .contains(&(self.cmd as i32))
    }
}

/// How a relative time is passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeUnit {
    /// An `int` of milliseconds, -1 for forever (`poll`, `epoll_wait`).
    Millis,
    /// A pointer to a `struct timespec`, `NULL` for forever.
    Timespec,
    /// A pointer to a `struct timeval`, `NULL` for forever (`select`).
    Timeval,
}

/// A flag or constant table: each value's bit (or number) and name.
pub type Names = &'static [(u64, &'static str)];

/// What one argument is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A file descriptor.
    Fd,
    /// How many bytes the call moves or asks to move, in one number.
    Len,
    /// Any other number (a count, a backlog, a size).
    Int,
    /// A set of flags named by the table.
    Flags(Names),
    /// A socket type and its `SOCK_*` flags.
    SocketType,
    /// Open flags: the access mode and the `O_*` flags.
    OpenFlags,
    /// `clone` flags and the exit signal.
    CloneFlags,
    /// A constant named by the table.
    Sym(Names),
    /// The call's timeout, or (for a sleep) its length.
    Timeout(TimeUnit),
    /// A buffer (given at entry, or filled in at exit).
    Buf,
    /// A socket address.
    Addr,
    /// A pointer the decoders do not follow, or an output read at exit.
    Ptr,
    /// A path.
    Path,
    /// A string array (`argv`).
    Argv,
    /// A task id, or a negative process selector.
    Pid,
    /// A signal number.
    SignalNr,
    /// A futex word's address.
    Word,
    /// Depends on another argument (`fcntl`'s and `ioctl`'s third, the
    /// futex operation's arguments).
    Varies,
}

/// One row of the table.
#[derive(Debug)]
pub struct Syscall {
    /// The x86_64 number (libc's `SYS_*`).
    pub nr: u64,
    /// The name, as strace prints it.
    pub name: &'static str,
    pub class: Class,
    /// Each argument's kind, in order.
    pub args: &'static [Kind],
}

impl Syscall {
    /// Which argument is the call's (first) fd.
    pub fn fd_index(&self) -> Option<usize> {
        self.args.iter().position(|k| *k == Kind::Fd)
    }

    /// Which argument says how many bytes the call moves, in one number
    /// (`read`, `write`, `recvfrom`, `sendto`; not the vectored and
    /// message forms, whose count is of buffers).
    pub fn len_index(&self) -> Option<usize> {
        self.args.iter().position(|k| *k == Kind::Len)
    }

    /// Which argument holds the call's timeout (of a sleep: its length),
    /// and how it is passed. A futex's is one only for its wait commands.
    pub fn timeout_index(&self) -> Option<(usize, TimeUnit)> {
        self.args.iter().enumerate().find_map(|(i, k)| match k {
            Kind::Timeout(unit) => Some((i, *unit)),
            _ => None,
        })
    }

    /// The flag names argument `i` can hold, and their bits.
    pub fn flag_names(&self, i: usize) -> Option<Names> {
        match self.args.get(i)? {
            Kind::Flags(names) => Some(names),
            Kind::SocketType => Some(values::SOCK_FLAGS),
            Kind::OpenFlags => Some(values::O_FLAGS),
            Kind::CloneFlags => Some(values::CLONE_FLAGS),
            _ => None,
        }
    }
}

/// The row for syscall `nr`, if the table has one.
pub fn by_nr(nr: u64) -> Option<&'static Syscall> {
    static INDEX: OnceLock<Vec<Option<&'static Syscall>>> = OnceLock::new();
    let index = INDEX.get_or_init(|| {
        let mut index = vec![None; SYSCALL_NAMES.len()];
        for row in table::SYSCALLS {
            index[row.nr as usize] = Some(row);
        }
        index
    });
    index.get(usize::try_from(nr).ok()?).copied().flatten()
}

/// The class of syscall `nr` ([`Class::Other`] when the table has no row).
pub fn class_of(nr: u64) -> Class {
    by_nr(nr).map_or(Class::Other, |s| s.class)
}

/// Every row, in the table's order.
pub fn all() -> &'static [Syscall] {
    table::SYSCALLS
}

/// The name of syscall `nr` on x86_64 (`syscall_unknown` when unknown).
pub fn name(nr: u64) -> &'static str {
    match usize::try_from(nr).ok().and_then(|i| SYSCALL_NAMES.get(i)) {
        Some(name) if !name.is_empty() => name,
        _ => "syscall_unknown",
    }
}

/// The syscall number for `name`, if it exists on x86_64.
pub fn number(name: &str) -> Option<u64> {
    SYSCALL_NAMES
        .iter()
        .position(|n| *n == name)
        .map(|i| i as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_has_its_number_and_name() {
        for row in all() {
            assert_eq!(name(row.nr), row.name, "row {}", row.nr);
            assert!(
                std::ptr::eq(by_nr(row.nr).unwrap(), row),
                "{} twice",
                row.name
            );
        }
    }

    #[test]
    fn the_generated_names_agree_with_libc() {
        let libc_numbers: &[(libc::c_long, &str)] = &[
            (libc::SYS_read, "read"),
            (libc::SYS_write, "write"),
            (libc::SYS_accept, "accept"),
            (libc::SYS_accept4, "accept4"),
            (libc::SYS_socket, "socket"),
            (libc::SYS_bind, "bind"),
            (libc::SYS_listen, "listen"),
            (libc::SYS_connect, "connect"),
            (libc::SYS_close, "close"),
            (libc::SYS_recvfrom, "recvfrom"),
            (libc::SYS_sendto, "sendto"),
            (libc::SYS_readv, "readv"),
            (libc::SYS_writev, "writev"),
            (libc::SYS_select, "select"),
            (libc::SYS_pselect6, "pselect6"),
            (libc::SYS_poll, "poll"),
            (libc::SYS_ppoll, "ppoll"),
            (libc::SYS_epoll_create1, "epoll_create1"),
            (libc::SYS_epoll_ctl, "epoll_ctl"),
            (libc::SYS_epoll_wait, "epoll_wait"),
            (libc::SYS_epoll_pwait, "epoll_pwait"),
            (libc::SYS_epoll_pwait2, "epoll_pwait2"),
            (libc::SYS_fcntl, "fcntl"),
            (libc::SYS_ioctl, "ioctl"),
            (libc::SYS_clone, "clone"),
            (libc::SYS_clone3, "clone3"),
            (libc::SYS_fork, "fork"),
            (libc::SYS_vfork, "vfork"),
            (libc::SYS_execve, "execve"),
            (libc::SYS_wait4, "wait4"),
            (libc::SYS_waitid, "waitid"),
            (libc::SYS_futex, "futex"),
            (libc::SYS_nanosleep, "nanosleep"),
            (libc::SYS_clock_nanosleep, "clock_nanosleep"),
            (libc::SYS_sched_yield, "sched_yield"),
            (libc::SYS_exit_group, "exit_group"),
            (libc::SYS_kill, "kill"),
            (libc::SYS_rt_sigaction, "rt_sigaction"),
            (libc::SYS_ptrace, "ptrace"),
            (libc::SYS_set_mempolicy_home_node, "set_mempolicy_home_node"),
        ];
        for &(nr, expected) in libc_numbers {
            assert_eq!(name(nr as u64), expected);
            assert_eq!(number(expected), Some(nr as u64));
        }
        assert_eq!(name(9999), "syscall_unknown");
    }

    #[test]
    fn the_generated_errno_names_agree_with_libc() {
        for (errno, expected) in [
            (libc::EPERM, "EPERM"),
            (libc::EAGAIN, "EAGAIN"),
            (libc::EINTR, "EINTR"),
            (libc::ECONNRESET, "ECONNRESET"),
            (libc::EPIPE, "EPIPE"),
            (libc::EMFILE, "EMFILE"),
            (libc::ENOMEM, "ENOMEM"),
            (libc::EDEADLK, "EDEADLK"),
            (libc::ENOTSUP, "EOPNOTSUPP"),
            (libc::EHWPOISON, "EHWPOISON"),
        ] {
            assert_eq!(ERRNO_NAMES[errno as usize], expected);
        }
        assert_eq!(ERRNO_NAMES[512], "ERESTARTSYS");
    }

    #[test]
    fn classes_group_the_families() {
        let class = |n: &str| class_of(number(n).unwrap());
        assert_eq!(class("accept4"), Class::Accept);
        assert_eq!(class("recvmmsg"), Class::Read);
        assert_eq!(class("getrandom"), Class::Other);
        assert!(class("epoll_pwait2").is_readiness_wait());
        assert!(class("epoll_wait_old").is_epoll());
        let row = |n: &str| by_nr(number(n).unwrap()).unwrap();
        assert_eq!(row("recvfrom").len_index(), Some(2));
        assert_eq!(row("readv").len_index(), None, "a count of buffers");
        assert_eq!(row("select").timeout_index(), Some((4, TimeUnit::Timeval)));
        assert_eq!(row("epoll_ctl").fd_index(), Some(0));
    }

    #[test]
    fn futex_ops_are_read_back_from_their_names() {
        for raw in [0, 1, 9, 10, 11, 13] {
            for flags in [0, 128, 256, 384] {
                let op = FutexOp::from_raw(raw | flags);
                let names = match values::futex_op(raw | flags) {
                    crate::trace::Arg::Flags { names, .. } => names,
                    other => panic!("{other:?}"),
                };
                assert_eq!(FutexOp::from_names(&names), Some(op), "{names:?}");
            }
        }
        let wait = FutexOp::from_names(&["FUTEX_WAIT_BITSET_PRIVATE"]).unwrap();
        assert!(wait.is_wait() && wait.private && !wait.is_plain_wait() && !wait.is_wake());
        assert!(FutexOp::from_names(&["FUTEX_WAKE_OP"]).unwrap().is_wake());
        assert_eq!(FutexOp::from_names(&["FUTEX_NOPE"]), None);
    }
}
