//! The flag and constant tables of the syscall table: each value's name,
//! by libc's constant wherever libc has one. Pure data (and the arithmetic
//! on it), shared by both backends' decoders, the table's argument kinds
//! and the typed accessors; [`crate::values`] turns them into arguments.

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
/// How many strings of an argv strace shows (and the trace keeps, and one
/// more to say there are more).
pub const ARGV_SHOWN: usize = 32;
/// How many argv entries of an `execve` the trace keeps: those strace
/// shows, and one more to say there are more.
pub(crate) const ARGV_MAX: usize = ARGV_SHOWN + 1;
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
pub(crate) const SPLICE_FLAGS: &[(u64, &str)] = &[
    (c!(SPLICE_F_MOVE), "SPLICE_F_MOVE"),
    (c!(SPLICE_F_NONBLOCK), "SPLICE_F_NONBLOCK"),
    (c!(SPLICE_F_MORE), "SPLICE_F_MORE"),
    (c!(SPLICE_F_GIFT), "SPLICE_F_GIFT"),
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

pub(crate) const EPOLL_CREATE_FLAGS: &[(u64, &str)] = &[(c!(EPOLL_CLOEXEC), "EPOLL_CLOEXEC")];

pub(crate) const FD_FLAGS: &[(u64, &str)] = &[(c!(FD_CLOEXEC), "FD_CLOEXEC")];

pub(crate) const FIONBIO: u64 = c!(FIONBIO);
pub(crate) const FIONREAD: u64 = c!(FIONREAD);

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

/// `futex` operations by command number, plain and with `FUTEX_PRIVATE_FLAG`.
pub(crate) const O_CREAT: u64 = c!(O_CREAT);
/// `O_TMPFILE`, with the `O_DIRECTORY` bit it includes.
pub(crate) const O_TMPFILE: u64 = c!(O_TMPFILE);
/// `lseek`'s whence.
pub(crate) const SEEK_WHENCES: &[(u64, &str)] = &[
    (c!(SEEK_SET), "SEEK_SET"),
    (c!(SEEK_CUR), "SEEK_CUR"),
    (c!(SEEK_END), "SEEK_END"),
    (c!(SEEK_DATA), "SEEK_DATA"),
    (c!(SEEK_HOLE), "SEEK_HOLE"),
];
pub(crate) const CLONE_PIDFD: u64 = c!(CLONE_PIDFD);
pub(crate) const CLONE_PARENT_SETTID: u64 = c!(CLONE_PARENT_SETTID);
pub(crate) const CLONE_CHILD_SETTID: u64 = c!(CLONE_CHILD_SETTID);
pub(crate) const CLONE_CHILD_CLEARTID: u64 = c!(CLONE_CHILD_CLEARTID);
pub(crate) const CLONE_SETTLS: u64 = c!(CLONE_SETTLS);
/// `SA_RESTORER`, which libc does not export.
pub(crate) const SA_RESTORER: u64 = 0x0400_0000;
/// The `SA_*` flags in the order strace prints them.
pub(crate) const STRACE_SA_FLAGS: &[(u64, &str)] = &[
    (SA_RESTORER, "SA_RESTORER"),
    (c!(SA_ONSTACK), "SA_ONSTACK"),
    (c!(SA_RESTART), "SA_RESTART"),
    (c!(SA_NODEFER), "SA_NODEFER"),
    (c!(SA_RESETHAND), "SA_RESETHAND"),
    (c!(SA_SIGINFO), "SA_SIGINFO"),
    (c!(SA_NOCLDSTOP), "SA_NOCLDSTOP"),
    (c!(SA_NOCLDWAIT), "SA_NOCLDWAIT"),
];
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

/// A futex operation's command, without the private and clock flags.
pub(crate) fn futex_cmd(op: u64) -> u64 {
    op & !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME)
}
