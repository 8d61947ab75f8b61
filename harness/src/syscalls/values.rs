//! Naming raw syscall values: the flag and constant tables, and the
//! functions that turn a register's number into an [`Arg`].
//!
//! Both backends name values here. The native decoder hands them the
//! numbers it reads out of registers and tracee memory; the strace backend
//! turns strace's `SOCK_STREAM|SOCK_CLOEXEC` back into its number first, so
//! both produce identical arguments. The numbers are libc's constants
//! wherever libc has them. Nothing here reads a tracee.

use crate::trace::{Arg, EpollEvent, Time};

/// libc's constant `NAME` as the raw register value it stands for: every
/// type (`c_int`, `c_short`, `c_ulong`, ...) through its 32 bits, so that
/// `EPOLLET`, `1 << 31` in a `c_int`, stays `0x80000000`.
macro_rules! c {
    ($name:ident) => {
        libc::$name as u32 as u64
    };
}

/// How many bytes of a read or written buffer the trace keeps.
pub const BUFFER_HEAD: usize = 64;
/// How many argv entries of an `execve` the trace keeps.
pub(crate) const ARGV_MAX: usize = 8;
pub(crate) const SOCK_TYPES: &[(u64, &str)] = &[
    (c!(SOCK_STREAM), "SOCK_STREAM"),
    (c!(SOCK_DGRAM), "SOCK_DGRAM"),
    (c!(SOCK_RAW), "SOCK_RAW"),
    (c!(SOCK_SEQPACKET), "SOCK_SEQPACKET"),
];
pub(crate) const SOCK_FLAGS: &[(u64, &str)] = &[
    (c!(SOCK_NONBLOCK), "SOCK_NONBLOCK"),
    (c!(SOCK_CLOEXEC), "SOCK_CLOEXEC"),
];
pub(crate) const MSG_FLAGS: &[(u64, &str)] = &[
    (c!(MSG_OOB), "MSG_OOB"),
    (c!(MSG_PEEK), "MSG_PEEK"),
    (c!(MSG_DONTROUTE), "MSG_DONTROUTE"),
    (c!(MSG_TRUNC), "MSG_TRUNC"),
    (c!(MSG_DONTWAIT), "MSG_DONTWAIT"),
    (c!(MSG_EOR), "MSG_EOR"),
    (c!(MSG_WAITALL), "MSG_WAITALL"),
    (c!(MSG_NOSIGNAL), "MSG_NOSIGNAL"),
    (c!(MSG_MORE), "MSG_MORE"),
    (c!(MSG_CMSG_CLOEXEC), "MSG_CMSG_CLOEXEC"),
];
/// Open-file status flags (access mode handled separately).
pub(crate) const O_FLAGS: &[(u64, &str)] = &[
    (c!(O_CREAT), "O_CREAT"),
    (c!(O_EXCL), "O_EXCL"),
    (c!(O_NOCTTY), "O_NOCTTY"),
    (c!(O_TRUNC), "O_TRUNC"),
    (c!(O_APPEND), "O_APPEND"),
    (c!(O_NONBLOCK), "O_NONBLOCK"),
    (c!(O_DSYNC), "O_DSYNC"),
    (c!(O_ASYNC), "O_ASYNC"),
    (c!(O_DIRECT), "O_DIRECT"),
    // The kernel's bit: libc has 0 (implied on 64-bit), yet a 32-bit
    // program, or one that asks, passes it.
    (0o100000, "O_LARGEFILE"),
    (c!(O_DIRECTORY), "O_DIRECTORY"),
    (c!(O_NOFOLLOW), "O_NOFOLLOW"),
    (c!(O_NOATIME), "O_NOATIME"),
    (c!(O_CLOEXEC), "O_CLOEXEC"),
    (c!(O_PATH), "O_PATH"),
];
pub(crate) const CLONE_FLAGS: &[(u64, &str)] = &[
    (c!(CLONE_VM), "CLONE_VM"),
    (c!(CLONE_FS), "CLONE_FS"),
    (c!(CLONE_FILES), "CLONE_FILES"),
    (c!(CLONE_SIGHAND), "CLONE_SIGHAND"),
    (c!(CLONE_PIDFD), "CLONE_PIDFD"),
    (c!(CLONE_PTRACE), "CLONE_PTRACE"),
    (c!(CLONE_VFORK), "CLONE_VFORK"),
    (c!(CLONE_PARENT), "CLONE_PARENT"),
    (c!(CLONE_THREAD), "CLONE_THREAD"),
    (c!(CLONE_NEWNS), "CLONE_NEWNS"),
    (c!(CLONE_SYSVSEM), "CLONE_SYSVSEM"),
    (c!(CLONE_SETTLS), "CLONE_SETTLS"),
    (c!(CLONE_PARENT_SETTID), "CLONE_PARENT_SETTID"),
    (c!(CLONE_CHILD_CLEARTID), "CLONE_CHILD_CLEARTID"),
    (c!(CLONE_DETACHED), "CLONE_DETACHED"),
    (c!(CLONE_UNTRACED), "CLONE_UNTRACED"),
    (c!(CLONE_CHILD_SETTID), "CLONE_CHILD_SETTID"),
    (c!(CLONE_NEWCGROUP), "CLONE_NEWCGROUP"),
    (c!(CLONE_NEWUTS), "CLONE_NEWUTS"),
    (c!(CLONE_NEWIPC), "CLONE_NEWIPC"),
    (c!(CLONE_NEWUSER), "CLONE_NEWUSER"),
    (c!(CLONE_NEWPID), "CLONE_NEWPID"),
    (c!(CLONE_NEWNET), "CLONE_NEWNET"),
    (c!(CLONE_IO), "CLONE_IO"),
];
pub(crate) const POLL_EVENTS: &[(u64, &str)] = &[
    (c!(POLLIN), "POLLIN"),
    (c!(POLLPRI), "POLLPRI"),
    (c!(POLLOUT), "POLLOUT"),
    (c!(POLLERR), "POLLERR"),
    (c!(POLLHUP), "POLLHUP"),
    (c!(POLLNVAL), "POLLNVAL"),
    (c!(POLLRDNORM), "POLLRDNORM"),
    (c!(POLLRDBAND), "POLLRDBAND"),
    (c!(POLLWRNORM), "POLLWRNORM"),
    (c!(POLLWRBAND), "POLLWRBAND"),
    (c!(POLLRDHUP), "POLLRDHUP"),
];
pub(crate) const EPOLL_EVENTS: &[(u64, &str)] = &[
    (c!(EPOLLIN), "EPOLLIN"),
    (c!(EPOLLPRI), "EPOLLPRI"),
    (c!(EPOLLOUT), "EPOLLOUT"),
    (c!(EPOLLERR), "EPOLLERR"),
    (c!(EPOLLHUP), "EPOLLHUP"),
    (c!(EPOLLRDNORM), "EPOLLRDNORM"),
    (c!(EPOLLRDBAND), "EPOLLRDBAND"),
    (c!(EPOLLWRNORM), "EPOLLWRNORM"),
    (c!(EPOLLWRBAND), "EPOLLWRBAND"),
    (c!(EPOLLMSG), "EPOLLMSG"),
    (c!(EPOLLRDHUP), "EPOLLRDHUP"),
    (c!(EPOLLEXCLUSIVE), "EPOLLEXCLUSIVE"),
    (c!(EPOLLWAKEUP), "EPOLLWAKEUP"),
    (c!(EPOLLONESHOT), "EPOLLONESHOT"),
    (c!(EPOLLET), "EPOLLET"),
];
pub(crate) const WAIT_OPTIONS: &[(u64, &str)] = &[
    (c!(WNOHANG), "WNOHANG"),
    (c!(WUNTRACED), "WUNTRACED"),
    (c!(WCONTINUED), "WCONTINUED"),
    (c!(__WALL), "__WALL"),
    (c!(__WCLONE), "__WCLONE"),
];

pub(crate) const FAMILIES: &[(u64, &str)] = &[
    (c!(AF_UNSPEC), "AF_UNSPEC"),
    (c!(AF_UNIX), "AF_UNIX"),
    (c!(AF_INET), "AF_INET"),
    (c!(AF_INET6), "AF_INET6"),
    (c!(AF_NETLINK), "AF_NETLINK"),
    (c!(AF_PACKET), "AF_PACKET"),
];

pub(crate) const PROTOCOLS: &[(u64, &str)] = &[
    (c!(IPPROTO_IP), "IPPROTO_IP"),
    (c!(IPPROTO_TCP), "IPPROTO_TCP"),
    (c!(IPPROTO_UDP), "IPPROTO_UDP"),
];

pub(crate) const EPOLL_OPS: &[(u64, &str)] = &[
    (c!(EPOLL_CTL_ADD), "EPOLL_CTL_ADD"),
    (c!(EPOLL_CTL_DEL), "EPOLL_CTL_DEL"),
    (c!(EPOLL_CTL_MOD), "EPOLL_CTL_MOD"),
];

pub(crate) const SOCKOPT_LEVELS: &[(u64, &str)] = &[
    (c!(SOL_SOCKET), "SOL_SOCKET"),
    (c!(IPPROTO_TCP), "IPPROTO_TCP"),
    (c!(IPPROTO_IPV6), "IPPROTO_IPV6"),
];

pub(crate) const SOCKET_OPTIONS: &[(u64, &str)] = &[
    (c!(SO_REUSEADDR), "SO_REUSEADDR"),
    (c!(SO_ERROR), "SO_ERROR"),
    (c!(SO_SNDBUF), "SO_SNDBUF"),
    (c!(SO_RCVBUF), "SO_RCVBUF"),
    (c!(SO_KEEPALIVE), "SO_KEEPALIVE"),
    (c!(SO_LINGER), "SO_LINGER"),
    (c!(SO_REUSEPORT), "SO_REUSEPORT"),
    (c!(SO_RCVTIMEO), "SO_RCVTIMEO"),
    (c!(SO_SNDTIMEO), "SO_SNDTIMEO"),
];

pub(crate) const TCP_OPTIONS: &[(u64, &str)] =
    &[(c!(TCP_NODELAY), "TCP_NODELAY"), (c!(TCP_CORK), "TCP_CORK")];

pub(crate) const IPV6_OPTIONS: &[(u64, &str)] = &[(c!(IPV6_V6ONLY), "IPV6_V6ONLY")];

pub(crate) const FCNTL_CMDS: &[(u64, &str)] = &[
    (c!(F_DUPFD), "F_DUPFD"),
    (c!(F_GETFD), "F_GETFD"),
    (c!(F_SETFD), "F_SETFD"),
    (c!(F_GETFL), "F_GETFL"),
    (c!(F_SETFL), "F_SETFL"),
    (c!(F_DUPFD_CLOEXEC), "F_DUPFD_CLOEXEC"),
];

/// The `fcntl` commands whose argument or result the decoders name.
pub(crate) const F_DUPFD: u64 = c!(F_DUPFD);
pub(crate) const F_SETFD: u64 = c!(F_SETFD);
pub(crate) const F_GETFL: u64 = c!(F_GETFL);
pub(crate) const F_SETFL: u64 = c!(F_SETFL);
pub(crate) const F_DUPFD_CLOEXEC: u64 = c!(F_DUPFD_CLOEXEC);

pub(crate) const SHUTDOWN_HOWS: &[(u64, &str)] = &[
    (c!(SHUT_RD), "SHUT_RD"),
    (c!(SHUT_WR), "SHUT_WR"),
    (c!(SHUT_RDWR), "SHUT_RDWR"),
];

pub(crate) const IOCTL_REQUESTS: &[(u64, &str)] = &[
    (c!(FIONBIO), "FIONBIO"),
    (c!(FIONREAD), "FIONREAD"),
    (c!(TCGETS), "TCGETS"),
    (c!(TIOCGWINSZ), "TIOCGWINSZ"),
];

pub(crate) const CLOCKS: &[(u64, &str)] = &[
    (c!(CLOCK_REALTIME), "CLOCK_REALTIME"),
    (c!(CLOCK_MONOTONIC), "CLOCK_MONOTONIC"),
];

pub(crate) const TIMER_FLAGS: &[(u64, &str)] = &[(c!(TIMER_ABSTIME), "TIMER_ABSTIME")];

pub(crate) const ID_TYPES: &[(u64, &str)] = &[
    (c!(P_ALL), "P_ALL"),
    (c!(P_PID), "P_PID"),
    (c!(P_PGID), "P_PGID"),
    (c!(P_PIDFD), "P_PIDFD"),
];

pub(crate) const SIGPROCMASK_HOWS: &[(u64, &str)] = &[
    (c!(SIG_BLOCK), "SIG_BLOCK"),
    (c!(SIG_UNBLOCK), "SIG_UNBLOCK"),
    (c!(SIG_SETMASK), "SIG_SETMASK"),
];

/// The ptrace requests a program under test might try (to detect or
/// attach a debugger): named so the report can say which.
pub(crate) const PTRACE_REQUESTS: &[(u64, &str)] = &[
    (c!(PTRACE_TRACEME), "PTRACE_TRACEME"),
    (c!(PTRACE_ATTACH), "PTRACE_ATTACH"),
    (c!(PTRACE_DETACH), "PTRACE_DETACH"),
    (c!(PTRACE_SEIZE), "PTRACE_SEIZE"),
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

pub(crate) const EPOLL_CREATE_FLAGS: &[(u64, &str)] = &[(c!(EPOLL_CLOEXEC), "EPOLL_CLOEXEC")];

pub(crate) const FD_FLAGS: &[(u64, &str)] = &[(c!(FD_CLOEXEC), "FD_CLOEXEC")];

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

pub(crate) const FIONBIO: u64 = c!(FIONBIO);
pub(crate) const FIONREAD: u64 = c!(FIONREAD);

pub(crate) fn ioctl_request(value: u64) -> Arg {
    sym_or_int(value, IOCTL_REQUESTS)
}

pub(crate) fn timespec(secs: u64, nanos: u64) -> Arg {
    Arg::Time(Time::timespec(secs, nanos))
}

pub(crate) fn timeval(secs: u64, micros: u64) -> Arg {
    Arg::Time(Time::timeval(secs, micros))
}

pub(crate) const WAITID_OPTIONS: &[(u64, &str)] = &[
    (c!(WNOHANG), "WNOHANG"),
    (c!(WSTOPPED), "WSTOPPED"),
    (c!(WEXITED), "WEXITED"),
    (c!(WCONTINUED), "WCONTINUED"),
    (c!(WNOWAIT), "WNOWAIT"),
    (c!(__WALL), "__WALL"),
    (c!(__WCLONE), "__WCLONE"),
];

pub(crate) const SA_FLAGS: &[(u64, &str)] = &[
    (c!(SA_NOCLDSTOP), "SA_NOCLDSTOP"),
    (c!(SA_NOCLDWAIT), "SA_NOCLDWAIT"),
    (c!(SA_SIGINFO), "SA_SIGINFO"),
    // Kernel-only (the C library sets it itself): not in libc.
    (0x04000000, "SA_RESTORER"),
    (c!(SA_ONSTACK), "SA_ONSTACK"),
    (c!(SA_RESTART), "SA_RESTART"),
    (c!(SA_NODEFER), "SA_NODEFER"),
    (c!(SA_RESETHAND), "SA_RESETHAND"),
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
pub(crate) const FUTEX_PRIVATE_FLAG: u64 = c!(FUTEX_PRIVATE_FLAG);
pub(crate) const FUTEX_CLOCK_REALTIME: u64 = c!(FUTEX_CLOCK_REALTIME);

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
pub(crate) fn ret_arg(nr: u64, arg1: u64, v: u64) -> Arg {
    match nr as libc::c_long {
        libc::SYS_socket
        | libc::SYS_accept
        | libc::SYS_accept4
        | libc::SYS_dup
        | libc::SYS_dup2
        | libc::SYS_dup3
        | libc::SYS_open
        | libc::SYS_openat
        | libc::SYS_epoll_create
        | libc::SYS_epoll_create1
        | libc::SYS_eventfd2
        | libc::SYS_timerfd_create
        | libc::SYS_signalfd4 => Arg::Fd(v as i32),
        libc::SYS_fcntl => match arg1 {
            F_GETFL => open_flags(v),
            F_DUPFD | F_DUPFD_CLOEXEC => Arg::Fd(v as i32),
            _ => int(v),
        },
        libc::SYS_clone
        | libc::SYS_clone3
        | libc::SYS_fork
        | libc::SYS_vfork
        | libc::SYS_getpid
        | libc::SYS_getppid
        | libc::SYS_gettid => Arg::Tid(v as i32),
        libc::SYS_wait4 if (v as i64) > 0 => Arg::Tid(v as i32),
        libc::SYS_mmap | libc::SYS_mremap | libc::SYS_brk => Arg::Ptr(v),
        _ if v > u64::from(u32::MAX) => Arg::Ptr(v),
        _ => int(v),
    }
}
