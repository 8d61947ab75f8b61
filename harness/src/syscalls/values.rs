//! Naming raw syscall values: the flag and constant tables, and the
//! functions that turn a register's number into an [`Arg`].
//!
//! Both backends name values here. The native decoder hands them the
//! numbers it reads out of registers and tracee memory; the strace backend
//! turns strace's `SOCK_STREAM|SOCK_CLOEXEC` back into its number first, so
//! both produce identical arguments. The numbers are libc's constants
//! wherever libc has them. Nothing here reads a tracee.

use crate::trace::{Arg, EpollEvent};

/// How many bytes of a read or written buffer the trace keeps.
pub const BUFFER_HEAD: usize = 64;
/// How many argv entries of an `execve` the trace keeps.
pub(crate) const ARGV_MAX: usize = 8;
pub(crate) const SOCK_TYPES: &[(u64, &str)] = &[
    (1, "SOCK_STREAM"),
    (2, "SOCK_DGRAM"),
    (3, "SOCK_RAW"),
    (5, "SOCK_SEQPACKET"),
];
pub(crate) const SOCK_FLAGS: &[(u64, &str)] =
    &[(0o4000, "SOCK_NONBLOCK"), (0o2000000, "SOCK_CLOEXEC")];
pub(crate) const MSG_FLAGS: &[(u64, &str)] = &[
    (0x1, "MSG_OOB"),
    (0x2, "MSG_PEEK"),
    (0x8, "MSG_DONTROUTE"),
    (0x20, "MSG_TRUNC"),
    (0x40, "MSG_DONTWAIT"),
    (0x80, "MSG_EOR"),
    (0x100, "MSG_WAITALL"),
    (0x4000, "MSG_NOSIGNAL"),
    (0x8000, "MSG_MORE"),
    (0x40000000, "MSG_CMSG_CLOEXEC"),
];
/// Open-file status flags (access mode handled separately).
pub(crate) const O_FLAGS: &[(u64, &str)] = &[
    (0o100, "O_CREAT"),
    (0o200, "O_EXCL"),
    (0o400, "O_NOCTTY"),
    (0o1000, "O_TRUNC"),
    (0o2000, "O_APPEND"),
    (0o4000, "O_NONBLOCK"),
    (0o10000, "O_DSYNC"),
    (0o20000, "O_ASYNC"),
    (0o40000, "O_DIRECT"),
    (0o100000, "O_LARGEFILE"),
    (0o200000, "O_DIRECTORY"),
    (0o400000, "O_NOFOLLOW"),
    (0o1000000, "O_NOATIME"),
    (0o2000000, "O_CLOEXEC"),
    (0o10000000, "O_PATH"),
];
pub(crate) const CLONE_FLAGS: &[(u64, &str)] = &[
    (0x100, "CLONE_VM"),
    (0x200, "CLONE_FS"),
    (0x400, "CLONE_FILES"),
    (0x800, "CLONE_SIGHAND"),
    (0x1000, "CLONE_PIDFD"),
    (0x2000, "CLONE_PTRACE"),
    (0x4000, "CLONE_VFORK"),
    (0x8000, "CLONE_PARENT"),
    (0x10000, "CLONE_THREAD"),
    (0x20000, "CLONE_NEWNS"),
    (0x40000, "CLONE_SYSVSEM"),
    (0x80000, "CLONE_SETTLS"),
    (0x100000, "CLONE_PARENT_SETTID"),
    (0x200000, "CLONE_CHILD_CLEARTID"),
    (0x400000, "CLONE_DETACHED"),
    (0x800000, "CLONE_UNTRACED"),
    (0x1000000, "CLONE_CHILD_SETTID"),
    (0x2000000, "CLONE_NEWCGROUP"),
    (0x4000000, "CLONE_NEWUTS"),
    (0x8000000, "CLONE_NEWIPC"),
    (0x10000000, "CLONE_NEWUSER"),
    (0x20000000, "CLONE_NEWPID"),
    (0x40000000, "CLONE_NEWNET"),
    (0x80000000, "CLONE_IO"),
];
pub(crate) const POLL_EVENTS: &[(u64, &str)] = &[
    (0x1, "POLLIN"),
    (0x2, "POLLPRI"),
    (0x4, "POLLOUT"),
    (0x8, "POLLERR"),
    (0x10, "POLLHUP"),
    (0x20, "POLLNVAL"),
    (0x40, "POLLRDNORM"),
    (0x80, "POLLRDBAND"),
    (0x100, "POLLWRNORM"),
    (0x200, "POLLWRBAND"),
    (0x2000, "POLLRDHUP"),
];
pub(crate) const EPOLL_EVENTS: &[(u64, &str)] = &[
    (0x1, "EPOLLIN"),
    (0x2, "EPOLLPRI"),
    (0x4, "EPOLLOUT"),
    (0x8, "EPOLLERR"),
    (0x10, "EPOLLHUP"),
    (0x40, "EPOLLRDNORM"),
    (0x80, "EPOLLRDBAND"),
    (0x100, "EPOLLWRNORM"),
    (0x200, "EPOLLWRBAND"),
    (0x400, "EPOLLMSG"),
    (0x2000, "EPOLLRDHUP"),
    (1 << 28, "EPOLLEXCLUSIVE"),
    (1 << 29, "EPOLLWAKEUP"),
    (1 << 30, "EPOLLONESHOT"),
    (1 << 31, "EPOLLET"),
];
pub(crate) const WAIT_OPTIONS: &[(u64, &str)] = &[
    (0x1, "WNOHANG"),
    (0x2, "WUNTRACED"),
    (0x8, "WCONTINUED"),
    (0x40000000, "__WALL"),
    (0x80000000, "__WCLONE"),
];

pub(crate) const FAMILIES: &[(u64, &str)] = &[
    (0, "AF_UNSPEC"),
    (1, "AF_UNIX"),
    (2, "AF_INET"),
    (10, "AF_INET6"),
    (16, "AF_NETLINK"),
    (17, "AF_PACKET"),
];

pub(crate) const PROTOCOLS: &[(u64, &str)] =
    &[(0, "IPPROTO_IP"), (6, "IPPROTO_TCP"), (17, "IPPROTO_UDP")];

pub(crate) const EPOLL_OPS: &[(u64, &str)] = &[
    (1, "EPOLL_CTL_ADD"),
    (2, "EPOLL_CTL_DEL"),
    (3, "EPOLL_CTL_MOD"),
];

pub(crate) const SOCKOPT_LEVELS: &[(u64, &str)] =
    &[(1, "SOL_SOCKET"), (6, "IPPROTO_TCP"), (41, "IPPROTO_IPV6")];

pub(crate) const SOCKET_OPTIONS: &[(u64, &str)] = &[
    (2, "SO_REUSEADDR"),
    (4, "SO_ERROR"),
    (7, "SO_SNDBUF"),
    (8, "SO_RCVBUF"),
    (9, "SO_KEEPALIVE"),
    (13, "SO_LINGER"),
    (15, "SO_REUSEPORT"),
    (20, "SO_RCVTIMEO"),
    (21, "SO_SNDTIMEO"),
];

pub(crate) const TCP_OPTIONS: &[(u64, &str)] = &[(1, "TCP_NODELAY"), (3, "TCP_CORK")];

pub(crate) const IPV6_OPTIONS: &[(u64, &str)] = &[(26, "IPV6_V6ONLY")];

pub(crate) const FCNTL_CMDS: &[(u64, &str)] = &[
    (0, "F_DUPFD"),
    (1, "F_GETFD"),
    (2, "F_SETFD"),
    (3, "F_GETFL"),
    (4, "F_SETFL"),
    (1030, "F_DUPFD_CLOEXEC"),
];

pub(crate) const SHUTDOWN_HOWS: &[(u64, &str)] =
    &[(0, "SHUT_RD"), (1, "SHUT_WR"), (2, "SHUT_RDWR")];

pub(crate) const IOCTL_REQUESTS: &[(u64, &str)] = &[
    (FIONBIO, "FIONBIO"),
    (FIONREAD, "FIONREAD"),
    (0x5401, "TCGETS"),
    (0x5413, "TIOCGWINSZ"),
];

pub(crate) const CLOCKS: &[(u64, &str)] = &[(0, "CLOCK_REALTIME"), (1, "CLOCK_MONOTONIC")];

pub(crate) const TIMER_FLAGS: &[(u64, &str)] = &[(1, "TIMER_ABSTIME")];

pub(crate) const ID_TYPES: &[(u64, &str)] =
    &[(0, "P_ALL"), (1, "P_PID"), (2, "P_PGID"), (3, "P_PIDFD")];

pub(crate) const SIGPROCMASK_HOWS: &[(u64, &str)] =
    &[(0, "SIG_BLOCK"), (1, "SIG_UNBLOCK"), (2, "SIG_SETMASK")];

/// The ptrace requests a program under test might try (to detect or
/// attach a debugger): named so the report can say which.
pub(crate) const PTRACE_REQUESTS: &[(u64, &str)] = &[
    (0, "PTRACE_TRACEME"),
    (16, "PTRACE_ATTACH"),
    (17, "PTRACE_DETACH"),
    (0x4206, "PTRACE_SEIZE"),
];

/// ptrace's arguments as strace shows them: the request alone for
/// `PTRACE_TRACEME`, the request and the pid for `PTRACE_ATTACH` and
/// `PTRACE_SEIZE`'s first two.
pub(crate) fn ptrace_args(a: &[u64]) -> Vec<Arg> {
    let request = sym_or_int(a[0], PTRACE_REQUESTS);
    match a[0] {
        0 => vec![request],
        _ => vec![request, Arg::Tid(a[1] as i32)],
    }
}

pub(crate) const EPOLL_CREATE_FLAGS: &[(u64, &str)] = &[(0o2000000, "EPOLL_CLOEXEC")];

pub(crate) const FD_FLAGS: &[(u64, &str)] = &[(1, "FD_CLOEXEC")];

/// Splits `value` into the names in `table` and leftover bits.
pub(crate) fn flags(value: u64, table: &[(u64, &'static str)]) -> Arg {
    let mut names = Vec::new();
    let mut rest = value;
    for &(bit, name) in table {
        if value & bit == bit && bit != 0 {
            names.push(name);
            rest &= !bit;
        }
    }
    Arg::Flags { names, rest }
}

pub(crate) fn sym_or_int(value: u64, table: &[(u64, &'static str)]) -> Arg {
    table
        .iter()
        .find(|(v, _)| *v == value)
        .map_or(Arg::Int(value as i64), |(_, n)| Arg::Sym(n))
}

pub(crate) fn family(value: u64) -> Arg {
    sym_or_int(value, FAMILIES)
}

pub(crate) fn socket_type(value: u64) -> Arg {
    let base = value & 0xf;
    let mut names: Vec<&'static str> = SOCK_TYPES
        .iter()
        .filter(|(v, _)| *v == base)
        .map(|(_, n)| *n)
        .collect();
    let mut rest = if names.is_empty() { base } else { 0 };
    if let Arg::Flags {
        names: more,
        rest: r,
    } = flags(value & !0xf, SOCK_FLAGS)
    {
        names.extend(more);
        rest |= r;
    }
    Arg::Flags { names, rest }
}

pub(crate) fn protocol(value: u64) -> Arg {
    sym_or_int(value, PROTOCOLS)
}

/// Open flags: the access mode first, then the status flags.
pub(crate) fn open_flags(value: u64) -> Arg {
    let mode = match value & 0o3 {
        0 => "O_RDONLY",
        1 => "O_WRONLY",
        _ => "O_RDWR",
    };
    match flags(value & !0o3, O_FLAGS) {
        Arg::Flags { mut names, rest } => {
            names.insert(0, mode);
            Arg::Flags { names, rest }
        }
        other => other,
    }
}

pub(crate) fn clone_flags(value: u64) -> Arg {
    match flags(value & !0xff, CLONE_FLAGS) {
        Arg::Flags { mut names, rest } => {
            let signal = value & 0xff;
            if signal == libc::SIGCHLD as u64 {
                names.push("SIGCHLD");
                Arg::Flags { names, rest }
            } else {
                Arg::Flags {
                    names,
                    rest: rest | signal,
                }
            }
        }
        other => other,
    }
}

pub(crate) fn fd(value: u64) -> Arg {
    Arg::Fd(value as i32)
}

pub(crate) fn int(value: u64) -> Arg {
    Arg::Int(value as i64)
}

pub(crate) fn int32(value: u64) -> Arg {
    Arg::Int(i64::from(value as i32))
}

pub(crate) fn epoll_flags(value: u64) -> (Vec<&'static str>, u64) {
    match flags(value, EPOLL_EVENTS) {
        Arg::Flags { names, rest } => (names, rest),
        _ => (Vec::new(), value),
    }
}

/// One packed `struct epoll_event` (x86_64: u32 events, u64 data; 12 bytes).
pub(crate) fn epoll_event_at(raw: &[u8]) -> EpollEvent {
    let events = u32::from_ne_bytes(raw[0..4].try_into().expect("4 bytes"));
    let data = u64::from_ne_bytes(raw[4..12].try_into().expect("8 bytes"));
    let (events, rest) = epoll_flags(u64::from(events));
    EpollEvent { events, rest, data }
}

pub(crate) fn epoll_op(value: u64) -> Arg {
    sym_or_int(value, EPOLL_OPS)
}

pub(crate) fn sockopt_level(value: u64) -> Arg {
    sym_or_int(value, SOCKOPT_LEVELS)
}

pub(crate) fn sockopt_name(level: u64, value: u64) -> Arg {
    let table: &[(u64, &'static str)] = match level {
        1 => SOCKET_OPTIONS,
        6 => TCP_OPTIONS,
        41 => IPV6_OPTIONS,
        _ => &[],
    };
    sym_or_int(value, table)
}

pub(crate) fn fcntl_cmd(value: u64) -> Arg {
    sym_or_int(value, FCNTL_CMDS)
}

pub(crate) fn shutdown_how(value: u64) -> Arg {
    sym_or_int(value, SHUTDOWN_HOWS)
}

pub(crate) const FIONBIO: u64 = 0x5421;
pub(crate) const FIONREAD: u64 = 0x541b;

pub(crate) fn ioctl_request(value: u64) -> Arg {
    sym_or_int(value, IOCTL_REQUESTS)
}

pub(crate) fn timespec_text(secs: u64, nanos: u64) -> Arg {
    Arg::Text(format!("{{tv_sec={secs}, tv_nsec={nanos}}}"))
}

pub(crate) fn timeval_text(secs: u64, micros: u64) -> Arg {
    Arg::Text(format!("{{tv_sec={secs}, tv_usec={micros}}}"))
}

pub(crate) const WAITID_OPTIONS: &[(u64, &str)] = &[
    (0x1, "WNOHANG"),
    (0x2, "WSTOPPED"),
    (0x4, "WEXITED"),
    (0x8, "WCONTINUED"),
    (0x01000000, "WNOWAIT"),
    (0x40000000, "__WALL"),
    (0x80000000, "__WCLONE"),
];

pub(crate) const SA_FLAGS: &[(u64, &str)] = &[
    (0x1, "SA_NOCLDSTOP"),
    (0x2, "SA_NOCLDWAIT"),
    (0x4, "SA_SIGINFO"),
    (0x04000000, "SA_RESTORER"),
    (0x08000000, "SA_ONSTACK"),
    (0x10000000, "SA_RESTART"),
    (0x40000000, "SA_NODEFER"),
    (0x80000000, "SA_RESETHAND"),
];

/// A `struct sigaction` from its handler (0 `SIG_DFL`, 1 `SIG_IGN`, else
/// an address) and flags.
pub(crate) fn sigaction_text(handler: u64, sa_flags: u64) -> Arg {
    let handler = match handler {
        0 => "SIG_DFL",
        1 => "SIG_IGN",
        _ => "handler",
    };
    let shown = match flags(sa_flags, SA_FLAGS) {
        Arg::Flags { names, rest } if rest == 0 && !names.is_empty() => names.join("|"),
        Arg::Flags { names, rest } if !names.is_empty() => format!("{}|{rest:#x}", names.join("|")),
        _ => format!("{sa_flags:#x}"),
    };
    Arg::Text(format!("{{{handler}, {shown}}}"))
}

/// `futex` operations by command number, plain and with `FUTEX_PRIVATE_FLAG`.
pub(crate) const FUTEX_OPS: &[(&str, &str)] = &[
    ("FUTEX_WAIT", "FUTEX_WAIT_PRIVATE"),
    ("FUTEX_WAKE", "FUTEX_WAKE_PRIVATE"),
    ("FUTEX_FD", "FUTEX_FD_PRIVATE"),
    ("FUTEX_REQUEUE", "FUTEX_REQUEUE_PRIVATE"),
    ("FUTEX_CMP_REQUEUE", "FUTEX_CMP_REQUEUE_PRIVATE"),
    ("FUTEX_WAKE_OP", "FUTEX_WAKE_OP_PRIVATE"),
    ("FUTEX_LOCK_PI", "FUTEX_LOCK_PI_PRIVATE"),
    ("FUTEX_UNLOCK_PI", "FUTEX_UNLOCK_PI_PRIVATE"),
    ("FUTEX_TRYLOCK_PI", "FUTEX_TRYLOCK_PI_PRIVATE"),
    ("FUTEX_WAIT_BITSET", "FUTEX_WAIT_BITSET_PRIVATE"),
    ("FUTEX_WAKE_BITSET", "FUTEX_WAKE_BITSET_PRIVATE"),
    ("FUTEX_WAIT_REQUEUE_PI", "FUTEX_WAIT_REQUEUE_PI_PRIVATE"),
    ("FUTEX_CMP_REQUEUE_PI", "FUTEX_CMP_REQUEUE_PI_PRIVATE"),
    ("FUTEX_LOCK_PI2", "FUTEX_LOCK_PI2_PRIVATE"),
];
pub(crate) const FUTEX_PRIVATE_FLAG: u64 = 128;
pub(crate) const FUTEX_CLOCK_REALTIME: u64 = 256;

/// A futex operation like strace shows it: `FUTEX_WAIT_PRIVATE`,
/// `FUTEX_WAIT_BITSET_PRIVATE|FUTEX_CLOCK_REALTIME`.
pub(crate) fn futex_op(op: u64) -> Arg {
    let cmd = op & !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
    let Some(&(plain, private)) = usize::try_from(cmd).ok().and_then(|i| FUTEX_OPS.get(i)) else {
        return Arg::Hex(op);
    };
    let mut names = vec![if op & FUTEX_PRIVATE_FLAG != 0 {
        private
    } else {
        plain
    }];
    if op & FUTEX_CLOCK_REALTIME != 0 {
        names.push("FUTEX_CLOCK_REALTIME");
    }
    Arg::Flags { names, rest: 0 }
}

/// A futex operation's command, without the private and clock flags.
pub(crate) fn futex_cmd(op: u64) -> u64 {
    op & !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME)
}

/// The arguments of `futex` from its raw values; `wait_timeout` is the
/// decoded relative timeout of a `FUTEX_WAIT` (unused by other commands).
pub(crate) fn futex_layout(a: &[u64; 6], wait_timeout: Arg) -> Vec<Arg> {
    let mut args = vec![Arg::Word(a[0]), futex_op(a[1])];
    let val = int32(a[2]);
    match futex_cmd(a[1]) {
        0 => args.extend([val, wait_timeout]),
        1 | 2 => args.push(val),
        6 | 13 => args.push(Arg::Ptr(a[3])),
        7 | 8 => {}
        9 => args.extend([val, Arg::Ptr(a[3]), futex_bitset(a[5])]),
        10 => args.extend([val, futex_bitset(a[5])]),
        3 => args.extend([val, int32(a[3]), Arg::Word(a[4])]),
        4 | 12 => args.extend([val, int32(a[3]), Arg::Word(a[4]), int32(a[5])]),
        5 => args.extend([
            val,
            int32(a[3]),
            Arg::Word(a[4]),
            Arg::Hex(a[5] & 0xffff_ffff),
        ]),
        11 => args.extend([val, Arg::Ptr(a[3]), Arg::Word(a[4])]),
        _ => args.extend([
            val,
            Arg::Ptr(a[3]),
            Arg::Ptr(a[4]),
            Arg::Hex(a[5] & 0xffff_ffff),
        ]),
    }
    args
}

pub(crate) fn futex_bitset(v: u64) -> Arg {
    if v as u32 == u32::MAX {
        Arg::Sym("FUTEX_BITSET_MATCH_ANY")
    } else {
        Arg::Hex(v & 0xffff_ffff)
    }
}

/// What `waitid` reports about a child: `si_code`, `si_pid`, `si_status`.
pub(crate) fn child_info_arg(code: i32, pid: i32, status: i32) -> Option<Arg> {
    if pid == 0 {
        // WNOHANG and no child had changed state: nothing was filled in.
        return None;
    }
    let code_name = match code {
        1 => "CLD_EXITED",
        // Dumped or not depends on the machine's core_pattern: not shown.
        2 | 3 => "CLD_KILLED",
        4 => "CLD_TRAPPED",
        5 => "CLD_STOPPED",
        6 => "CLD_CONTINUED",
        _ => "0",
    };
    let status = if code == 1 {
        status.to_string()
    } else {
        crate::trace::signal_name(status)
    };
    Some(Arg::ChildInfo {
        code: code_name,
        pid,
        status,
    })
}

pub(crate) fn wait_pid(value: u64) -> Arg {
    let v = value as i32;
    if v > 0 {
        Arg::Tid(v)
    } else {
        Arg::Int(v.into())
    }
}

pub(crate) fn signal(value: u64) -> Arg {
    match nix::sys::signal::Signal::try_from(value as i32) {
        Ok(s) => Arg::Sym(s.as_str()),
        Err(_) => int(value),
    }
}

pub(crate) fn wait_status(status: i32) -> String {
    if libc::WIFEXITED(status) {
        format!(
            "[{{WIFEXITED(s) && WEXITSTATUS(s) == {}}}]",
            libc::WEXITSTATUS(status)
        )
    } else if libc::WIFSIGNALED(status) {
        let sig = crate::trace::signal_name(libc::WTERMSIG(status));
        // Whether a core was dumped depends on the machine's core_pattern,
        // not on the program: not shown.
        format!("[{{WIFSIGNALED(s) && WTERMSIG(s) == {sig}}}]")
    } else {
        format!("[{status:#x}]")
    }
}

/// A successful call's result, decoded: an fd, a task, flags, a pointer or
/// a number. `arg1` is the call's second argument (`fcntl`'s command).
pub(crate) fn ret_arg(name: &str, arg1: u64, v: u64) -> Arg {
    match name {
        "socket" | "accept" | "accept4" | "dup" | "dup2" | "dup3" | "open" | "openat"
        | "epoll_create" | "epoll_create1" | "eventfd2" | "timerfd_create" | "signalfd4" => {
            Arg::Fd(v as i32)
        }
        "fcntl" => match arg1 {
            3 => open_flags(v),
            0 | 1030 => Arg::Fd(v as i32),
            _ => int(v),
        },
        "clone" | "clone3" | "fork" | "vfork" | "getpid" | "getppid" | "gettid" => {
            Arg::Tid(v as i32)
        }
        "wait4" if (v as i64) > 0 => Arg::Tid(v as i32),
        "mmap" | "mremap" | "brk" => Arg::Ptr(v),
        _ if v > u64::from(u32::MAX) => Arg::Ptr(v),
        _ => int(v),
    }
}
