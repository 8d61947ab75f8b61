//! Turning raw syscall registers into decoded [`Call`]s and [`Return`]s.
//!
//! Inputs are decoded at syscall entry and outputs (buffers filled by the
//! kernel, accepted addresses) at exit, both by reading the tracee's memory
//! while it is stopped.

use std::io::IoSliceMut;
use std::net::{Ipv4Addr, Ipv6Addr};

use nix::sys::uio::{RemoteIoVec, process_vm_readv};
use nix::unistd::Pid;

use crate::trace::{Arg, Call, EpollEvent, PollFd, Ret, Return, SockAddr, syscall_name};

/// How many bytes of a read or written buffer the trace keeps.
pub const BUFFER_HEAD: usize = 64;
/// How many argv entries of an `execve` the trace keeps.
pub(crate) const ARGV_MAX: usize = 8;
/// How many pollfds of a `poll` the trace keeps.
const POLLFD_MAX: usize = 64;
/// How many events of an `epoll_wait` the trace keeps.
const EPOLL_EVENTS_MAX: usize = 64;
/// The size of a kernel `fd_set`, in bits.
const FD_SETSIZE: u64 = 1024;

/// Reads memory of a stopped tracee.
pub(crate) struct Memory {
    pid: Pid,
}

impl Memory {
    pub(crate) fn new(pid: i32) -> Memory {
        Memory {
            pid: Pid::from_raw(pid),
        }
    }

    /// Up to `len` bytes at `addr`; fewer if the range ends in unmapped memory.
    fn read(&self, addr: u64, len: usize) -> Option<Vec<u8>> {
        if addr == 0 {
            return None;
        }
        let mut buf = vec![0u8; len];
        let remote = [RemoteIoVec {
            base: addr as usize,
            len,
        }];
        let n = process_vm_readv(self.pid, &mut [IoSliceMut::new(&mut buf)], &remote).ok()?;
        buf.truncate(n);
        Some(buf)
    }

    fn read_exact(&self, addr: u64, len: usize) -> Option<Vec<u8>> {
        self.read(addr, len).filter(|b| b.len() == len)
    }

    fn read_i32(&self, addr: u64) -> Option<i32> {
        let b = self.read_exact(addr, 4)?;
        Some(i32::from_ne_bytes(b.try_into().ok()?))
    }

    pub(crate) fn read_u64(&self, addr: u64) -> Option<u64> {
        let b = self.read_exact(addr, 8)?;
        Some(u64::from_ne_bytes(b.try_into().ok()?))
    }

    /// A NUL-terminated string, read in pages so that a string at the end of
    /// a mapping is still found.
    fn read_cstr(&self, addr: u64, max: usize) -> Option<String> {
        let mut out = Vec::new();
        let mut at = addr;
        while out.len() < max {
            let to_page_end = 4096 - (at % 4096) as usize;
            let chunk = self.read(at, to_page_end.min(max - out.len()))?;
            if chunk.is_empty() {
                break;
            }
            if let Some(nul) = chunk.iter().position(|&b| b == 0) {
                out.extend_from_slice(&chunk[..nul]);
                return Some(String::from_utf8_lossy(&out).into_owned());
            }
            at += chunk.len() as u64;
            out.extend_from_slice(&chunk);
        }
        Some(String::from_utf8_lossy(&out).into_owned())
    }
}

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

fn sockaddr(mem: &Memory, addr: u64, len: u64) -> Arg {
    if addr == 0 {
        return Arg::Ptr(0);
    }
    let len = (len as usize).min(128);
    let Some(b) = mem.read(addr, len) else {
        return Arg::Unknown;
    };
    if b.len() < 2 {
        return Arg::Unknown;
    }
    let family = u16::from_ne_bytes([b[0], b[1]]);
    let port = |b: &[u8]| u16::from_be_bytes([b[2], b[3]]);
    let addr = match i32::from(family) {
        libc::AF_INET if b.len() >= 8 => {
            SockAddr::Inet(Ipv4Addr::new(b[4], b[5], b[6], b[7]), port(&b))
        }
        libc::AF_INET6 if b.len() >= 24 => {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(&b[8..24]);
            SockAddr::Inet6(Ipv6Addr::from(octets), port(&b))
        }
        libc::AF_UNIX => {
            let path = &b[2..];
            let end = path.iter().position(|&c| c == 0).unwrap_or(path.len());
            SockAddr::Unix(String::from_utf8_lossy(&path[..end]).into_owned())
        }
        _ => SockAddr::Other(family),
    };
    Arg::Addr(addr)
}

/// The socket address an output (`addr`, `*addrlen`) pair holds after the call.
fn sockaddr_out(mem: &Memory, addr: u64, lenp: u64) -> (Arg, Arg) {
    if addr == 0 || lenp == 0 {
        return (Arg::Ptr(addr), Arg::Ptr(lenp));
    }
    match mem.read_i32(lenp) {
        Some(len) => (
            sockaddr(mem, addr, len.max(0) as u64),
            Arg::IntRef(i64::from(len)),
        ),
        None => (Arg::Unknown, Arg::Unknown),
    }
}

fn bytes(mem: &Memory, addr: u64, len: u64) -> Arg {
    let head = mem
        .read(addr, (len as usize).min(BUFFER_HEAD))
        .unwrap_or_default();
    Arg::Bytes { head, len }
}

/// Gathers the first bytes of a `struct msghdr`'s iovecs, up to `len` in all.
fn msg_bytes(mem: &Memory, msghdr: u64, len: u64) -> Arg {
    // struct msghdr: name, namelen(+pad), iov, iovlen, control, controllen, flags.
    let (Some(iov), Some(iovlen)) = (mem.read_u64(msghdr + 16), mem.read_u64(msghdr + 24)) else {
        return Arg::Unknown;
    };
    let mut head = Vec::new();
    let mut left = (len as usize).min(BUFFER_HEAD);
    for i in 0..iovlen.min(16) {
        if left == 0 {
            break;
        }
        let (Some(base), Some(n)) = (mem.read_u64(iov + 16 * i), mem.read_u64(iov + 16 * i + 8))
        else {
            break;
        };
        let take = (n as usize).min(left);
        if let Some(b) = mem.read(base, take) {
            left -= b.len();
            head.extend(b);
        }
    }
    Arg::Bytes { head, len }
}

fn pollfds(mem: &Memory, addr: u64, n: u64, with_revents: bool) -> Arg {
    let n = (n as usize).min(POLLFD_MAX);
    let Some(b) = mem.read_exact(addr, 8 * n) else {
        return Arg::Unknown;
    };
    let list = b
        .chunks_exact(8)
        .map(|c| {
            let events = |v: i16| match flags(v as u16 as u64, POLL_EVENTS) {
                Arg::Flags { names, .. } => names,
                _ => Vec::new(),
            };
            PollFd {
                fd: i32::from_ne_bytes([c[0], c[1], c[2], c[3]]),
                events: events(i16::from_ne_bytes([c[4], c[5]])),
                revents: with_revents.then(|| events(i16::from_ne_bytes([c[6], c[7]]))),
            }
        })
        .collect();
    Arg::PollFds(list)
}

/// The members of the `fd_set` at `addr` among fds below `nfds`; `None`
/// for a NULL set or unreadable memory.
fn fd_set_members(mem: &Memory, addr: u64, nfds: u64) -> Option<Vec<i32>> {
    if addr == 0 {
        return None;
    }
    let bits = nfds.min(FD_SETSIZE);
    let raw = mem.read_exact(addr, 8 * bits.div_ceil(64) as usize)?;
    Some(fd_set_bits(&raw, bits))
}

/// The fds below `bits` whose bit is set in an `fd_set`'s words.
fn fd_set_bits(raw: &[u8], bits: u64) -> Vec<i32> {
    let mut members = Vec::new();
    for (w, chunk) in raw.chunks_exact(8).enumerate() {
        let word = u64::from_ne_bytes(chunk.try_into().expect("chunks of 8"));
        for bit in 0..64 {
            let fd = (w * 64 + bit) as u64;
            if fd < bits && word & (1 << bit) != 0 {
                members.push(fd as i32);
            }
        }
    }
    members
}

/// A `select` fd set argument at entry.
fn fd_set(mem: &Memory, addr: u64, nfds: u64) -> Arg {
    if addr == 0 {
        return Arg::Ptr(0);
    }
    match fd_set_members(mem, addr, nfds) {
        Some(given) => Arg::FdSet { given, ready: None },
        None => Arg::Unknown,
    }
}

fn timeval(mem: &Memory, addr: u64) -> Arg {
    if addr == 0 {
        return Arg::Ptr(0);
    }
    match (mem.read_u64(addr), mem.read_u64(addr + 8)) {
        (Some(s), Some(us)) => timeval_text(s, us),
        _ => Arg::Unknown,
    }
}

pub(crate) fn epoll_flags(value: u64) -> (Vec<&'static str>, u64) {
    match flags(value, EPOLL_EVENTS) {
        Arg::Flags { names, rest } => (names, rest),
        _ => (Vec::new(), value),
    }
}

/// One packed `struct epoll_event` (x86_64: u32 events, u64 data; 12 bytes).
fn epoll_event_at(raw: &[u8]) -> EpollEvent {
    let events = u32::from_ne_bytes(raw[0..4].try_into().expect("4 bytes"));
    let data = u64::from_ne_bytes(raw[4..12].try_into().expect("8 bytes"));
    let (events, rest) = epoll_flags(u64::from(events));
    EpollEvent { events, rest, data }
}

fn epoll_event(mem: &Memory, addr: u64) -> Arg {
    if addr == 0 {
        return Arg::Ptr(0);
    }
    mem.read_exact(addr, 12)
        .map_or(Arg::Unknown, |raw| Arg::Epoll(epoll_event_at(&raw)))
}

fn epoll_events(mem: &Memory, addr: u64, n: u64) -> Arg {
    let n = (n as usize).min(EPOLL_EVENTS_MAX);
    mem.read_exact(addr, 12 * n).map_or(Arg::Unknown, |raw| {
        Arg::EpollEvents(raw.chunks_exact(12).map(epoll_event_at).collect())
    })
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

fn sockopt_value(mem: &Memory, addr: u64, len: u64) -> Arg {
    if len == 4 {
        mem.read_i32(addr)
            .map_or(Arg::Unknown, |v| Arg::IntRef(i64::from(v)))
    } else {
        Arg::Ptr(addr)
    }
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

fn argv(mem: &Memory, addr: u64) -> Arg {
    let mut out = Vec::new();
    for i in 0..ARGV_MAX as u64 {
        match mem.read_u64(addr + 8 * i) {
            Some(0) | None => break,
            Some(p) => out.push(mem.read_cstr(p, 256).unwrap_or_default()),
        }
    }
    Arg::Strs(out)
}

pub(crate) fn timespec_text(secs: u64, nanos: u64) -> Arg {
    Arg::Text(format!("{{tv_sec={secs}, tv_nsec={nanos}}}"))
}

pub(crate) fn timeval_text(secs: u64, micros: u64) -> Arg {
    Arg::Text(format!("{{tv_sec={secs}, tv_usec={micros}}}"))
}

fn timespec(mem: &Memory, addr: u64) -> Arg {
    if addr == 0 {
        return Arg::Ptr(0);
    }
    match (mem.read_u64(addr), mem.read_u64(addr + 8)) {
        (Some(s), Some(ns)) => timespec_text(s, ns),
        _ => Arg::Unknown,
    }
}

/// Decodes a syscall's inputs at entry.
pub(crate) fn decode_entry(mem: &Memory, nr: u64, a: &[u64; 6]) -> Call {
    let name = syscall_name(nr);
    let args = match name {
        "socket" => vec![family(a[0]), socket_type(a[1]), protocol(a[2])],
        "socketpair" => vec![
            family(a[0]),
            socket_type(a[1]),
            protocol(a[2]),
            Arg::Out(a[3]),
        ],
        "bind" | "connect" => vec![fd(a[0]), sockaddr(mem, a[1], a[2]), int(a[2])],
        "listen" => vec![fd(a[0]), int32(a[1])],
        "accept" | "getsockname" | "getpeername" => {
            vec![fd(a[0]), Arg::Out(a[1]), Arg::Out(a[2])]
        }
        "accept4" => vec![
            fd(a[0]),
            Arg::Out(a[1]),
            Arg::Out(a[2]),
            flags(a[3], SOCK_FLAGS),
        ],
        "setsockopt" => vec![
            fd(a[0]),
            sockopt_level(a[1]),
            sockopt_name(a[1], a[2]),
            sockopt_value(mem, a[3], a[4]),
            int(a[4]),
        ],
        "getsockopt" => vec![
            fd(a[0]),
            sockopt_level(a[1]),
            sockopt_name(a[1], a[2]),
            Arg::Out(a[3]),
            Arg::Out(a[4]),
        ],
        "read" => vec![fd(a[0]), Arg::Out(a[1]), int(a[2])],
        "write" => vec![fd(a[0]), bytes(mem, a[1], a[2]), int(a[2])],
        "recvfrom" => vec![
            fd(a[0]),
            Arg::Out(a[1]),
            int(a[2]),
            flags(a[3], MSG_FLAGS),
            Arg::Out(a[4]),
            Arg::Out(a[5]),
        ],
        "sendto" => {
            let to = if a[4] == 0 {
                Arg::Ptr(0)
            } else {
                sockaddr(mem, a[4], a[5])
            };
            vec![
                fd(a[0]),
                bytes(mem, a[1], a[2]),
                int(a[2]),
                flags(a[3], MSG_FLAGS),
                to,
                int(a[5]),
            ]
        }
        "recvmsg" => vec![fd(a[0]), Arg::Out(a[1]), flags(a[2], MSG_FLAGS)],
        "sendmsg" => vec![
            fd(a[0]),
            msg_bytes(mem, a[1], u64::MAX),
            flags(a[2], MSG_FLAGS),
        ],
        "readv" => vec![fd(a[0]), Arg::Ptr(a[1]), int(a[2])],
        "writev" => vec![fd(a[0]), Arg::Ptr(a[1]), int(a[2])],
        "recvmmsg" | "sendmmsg" => vec![fd(a[0]), Arg::Ptr(a[1]), int(a[2])],
        "close" => vec![fd(a[0])],
        "shutdown" => vec![fd(a[0]), shutdown_how(a[1])],
        "dup" => vec![fd(a[0])],
        "dup2" => vec![fd(a[0]), fd(a[1])],
        "dup3" => vec![fd(a[0]), fd(a[1]), flags(a[2], O_FLAGS)],
        "fcntl" => {
            let arg = match a[1] {
                4 => open_flags(a[2]),
                2 => flags(a[2], FD_FLAGS),
                0 | 1030 => int(a[2]),
                _ => Arg::Unknown,
            };
            let mut v = vec![fd(a[0]), fcntl_cmd(a[1])];
            if arg != Arg::Unknown {
                v.push(arg);
            }
            v
        }
        "ioctl" => {
            let arg = match a[1] {
                FIONBIO => mem
                    .read_i32(a[2])
                    .map_or(Arg::Unknown, |v| Arg::IntRef(i64::from(v))),
                FIONREAD => Arg::Out(a[2]),
                _ => Arg::Ptr(a[2]),
            };
            vec![fd(a[0]), ioctl_request(a[1]), arg]
        }
        "open" => vec![
            Arg::Str(mem.read_cstr(a[0], 4096).unwrap_or_default()),
            open_flags(a[1]),
        ],
        "openat" => vec![
            if a[0] as i32 == libc::AT_FDCWD {
                Arg::Sym("AT_FDCWD")
            } else {
                fd(a[0])
            },
            Arg::Str(mem.read_cstr(a[1], 4096).unwrap_or_default()),
            open_flags(a[2]),
        ],
        "pipe" => vec![Arg::Out(a[0])],
        "pipe2" => vec![Arg::Out(a[0]), flags(a[1], O_FLAGS)],
        "poll" => vec![pollfds(mem, a[0], a[1], false), int(a[1]), int32(a[2])],
        "ppoll" => vec![
            pollfds(mem, a[0], a[1], false),
            int(a[1]),
            timespec(mem, a[2]),
        ],
        "select" => vec![
            int(a[0]),
            fd_set(mem, a[1], a[0]),
            fd_set(mem, a[2], a[0]),
            fd_set(mem, a[3], a[0]),
            timeval(mem, a[4]),
        ],
        "pselect6" => vec![
            int(a[0]),
            fd_set(mem, a[1], a[0]),
            fd_set(mem, a[2], a[0]),
            fd_set(mem, a[3], a[0]),
            timespec(mem, a[4]),
            Arg::Ptr(a[5]),
        ],
        "epoll_create" => vec![int32(a[0])],
        "epoll_create1" => vec![flags(a[0], EPOLL_CREATE_FLAGS)],
        "epoll_ctl" => vec![fd(a[0]), epoll_op(a[1]), fd(a[2]), epoll_event(mem, a[3])],
        "epoll_wait" => vec![fd(a[0]), Arg::Out(a[1]), int32(a[2]), int32(a[3])],
        "epoll_pwait" => vec![
            fd(a[0]),
            Arg::Out(a[1]),
            int32(a[2]),
            int32(a[3]),
            Arg::Ptr(a[4]),
        ],
        "epoll_pwait2" => vec![
            fd(a[0]),
            Arg::Out(a[1]),
            int32(a[2]),
            timespec(mem, a[3]),
            Arg::Ptr(a[4]),
        ],
        "nanosleep" => vec![timespec(mem, a[0]), Arg::Ptr(a[1])],
        "clock_nanosleep" => vec![
            sym_or_int(a[0], CLOCKS),
            flags(a[1], TIMER_FLAGS),
            timespec(mem, a[2]),
            Arg::Ptr(a[3]),
        ],
        "clone" => vec![clone_flags(a[0])],
        "clone3" => {
            let f = mem.read_u64(a[0]).unwrap_or(0);
            let signal = mem.read_u64(a[0] + 32).unwrap_or(0);
            vec![clone_flags(f | (signal & 0xff)), int(a[1])]
        }
        "fork" | "vfork" => Vec::new(),
        "execve" => vec![
            Arg::Str(mem.read_cstr(a[0], 4096).unwrap_or_default()),
            argv(mem, a[1]),
        ],
        "execveat" => vec![
            fd(a[0]),
            Arg::Str(mem.read_cstr(a[1], 4096).unwrap_or_default()),
            argv(mem, a[2]),
        ],
        "wait4" => vec![
            wait_pid(a[0]),
            Arg::Out(a[1]),
            flags(a[2], WAIT_OPTIONS),
            Arg::Ptr(a[3]),
        ],
        "waitid" => vec![
            sym_or_int(a[0], ID_TYPES),
            if a[0] == 1 {
                wait_pid(a[1])
            } else {
                int32(a[1])
            },
            Arg::Out(a[2]),
            flags(a[3], WAITID_OPTIONS),
            Arg::Ptr(a[4]),
        ],
        "futex" => futex(mem, a),
        "rt_sigaction" => vec![
            signal(a[0]),
            sigaction(mem, a[1]),
            Arg::Ptr(a[2]),
            int(a[3]),
        ],
        "rt_sigprocmask" => vec![
            sym_or_int(a[0], SIGPROCMASK_HOWS),
            Arg::Ptr(a[1]),
            Arg::Ptr(a[2]),
            int(a[3]),
        ],
        "exit" | "exit_group" => vec![int32(a[0])],
        "kill" => vec![wait_pid(a[0]), signal(a[1])],
        "tgkill" => vec![wait_pid(a[0]), Arg::Tid(a[1] as i32), signal(a[2])],
        "tkill" => vec![Arg::Tid(a[0] as i32), signal(a[1])],
        "getpid" | "getppid" | "gettid" | "sched_yield" | "pause" => Vec::new(),
        "ptrace" => ptrace_args(a),
        _ => vec![Arg::Text("...".into())],
    };
    Call { nr, args }
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

/// A kernel `struct sigaction` (handler, flags, restorer, mask) as
/// `{SIG_DFL, SA_RESTORER}`: the handler's address varies, so a handler
/// is shown as `handler`; the flags say whether interrupted calls restart.
fn sigaction(mem: &Memory, addr: u64) -> Arg {
    if addr == 0 {
        return Arg::Ptr(0);
    }
    match (mem.read_u64(addr), mem.read_u64(addr + 8)) {
        (Some(handler), Some(sa_flags)) => sigaction_text(handler, sa_flags),
        _ => Arg::Unknown,
    }
}

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

/// `futex(uaddr, op, val, timeout or val2, uaddr2, val3)`, with the
/// arguments the operation uses, in strace's layout. The word is named, not
/// shown; an absolute timeout (the `_BITSET` waits, the PI locks) is a point
/// in time that differs every run, so only whether there is one is shown.
fn futex(mem: &Memory, a: &[u64; 6]) -> Vec<Arg> {
    let relative = if futex_cmd(a[1]) == 0 {
        timespec(mem, a[3])
    } else {
        Arg::Unknown
    };
    futex_layout(a, relative)
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

fn futex_bitset(v: u64) -> Arg {
    if v as u32 == u32::MAX {
        Arg::Sym("FUTEX_BITSET_MATCH_ANY")
    } else {
        Arg::Hex(v & 0xffff_ffff)
    }
}

/// `waitid`'s `siginfo_t` for a reaped child: si_signo, si_errno, si_code
/// (ints at 0, 4, 8), then, in the union that 64-bit alignment puts at 16,
/// si_pid (16), si_uid (20), si_status (24).
fn child_info(mem: &Memory, addr: u64) -> Option<Arg> {
    let raw = mem.read_exact(addr, 28)?;
    let at = |i: usize| i32::from_ne_bytes(raw[i..i + 4].try_into().expect("4 bytes"));
    child_info_arg(at(8), at(16), at(24))
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

/// Decodes a syscall's result and outputs at exit. `a` are the entry's raw
/// arguments; `value` the raw return value.
pub(crate) fn decode_exit(
    mem: &Memory,
    nr: u64,
    a: &[u64; 6],
    value: i64,
    is_error: bool,
) -> Return {
    let name = syscall_name(nr);
    if is_error {
        return Return {
            nr,
            ret: Ret::Err((-value) as i32),
            outs: Vec::new(),
        };
    }
    let v = value as u64;
    let mut outs = Vec::new();
    match name {
        "accept" | "accept4" | "getsockname" | "getpeername" => {
            let (addr, len) = sockaddr_out(mem, a[1], a[2]);
            outs.push((1, addr));
            outs.push((2, len));
        }
        "getsockopt" => {
            let len = mem.read_i32(a[4]).unwrap_or(0);
            outs.push((3, sockopt_value(mem, a[3], len as u64)));
            outs.push((4, Arg::IntRef(i64::from(len))));
        }
        "read" => outs.push((1, bytes(mem, a[1], v))),
        "recvfrom" => {
            outs.push((1, bytes(mem, a[1], v)));
            if a[4] != 0 {
                let (addr, len) = sockaddr_out(mem, a[4], a[5]);
                outs.push((4, addr));
                outs.push((5, len));
            }
        }
        "recvmsg" => outs.push((1, msg_bytes(mem, a[1], v))),
        "pipe" | "pipe2" | "socketpair" => {
            let at = if name == "socketpair" { a[3] } else { a[0] };
            let idx = if name == "socketpair" { 3 } else { 0 };
            if let (Some(r), Some(w)) = (mem.read_i32(at), mem.read_i32(at + 4)) {
                outs.push((idx, Arg::FdPair(r, w)));
            }
        }
        "poll" | "ppoll" => outs.push((0, pollfds(mem, a[0], a[1], true))),
        "select" | "pselect6" => {
            for i in 1..=3 {
                if let Some(ready) = fd_set_members(mem, a[i], a[0]) {
                    outs.push((
                        i,
                        Arg::FdSet {
                            given: Vec::new(),
                            ready: Some(ready),
                        },
                    ));
                }
            }
        }
        "epoll_wait" | "epoll_pwait" | "epoll_pwait2" => {
            outs.push((1, epoll_events(mem, a[1], v)));
        }
        "ioctl" if a[1] == FIONREAD => {
            if let Some(n) = mem.read_i32(a[2]) {
                outs.push((2, Arg::IntRef(i64::from(n))));
            }
        }
        "wait4" if a[1] != 0 && value > 0 => {
            if let Some(s) = mem.read_i32(a[1]) {
                outs.push((1, Arg::Text(wait_status(s))));
            }
        }
        "waitid" => {
            if let Some(info) = child_info(mem, a[2]) {
                outs.push((2, info));
            }
        }
        _ => {}
    }
    let ret = ret_arg(name, a[1], v);
    Return {
        nr,
        ret: Ret::Ok(ret),
        outs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_set_bits_are_fds_below_nfds() {
        let mut raw = [0u8; 16];
        raw[0] = 0b1001_1000; // fds 3, 4, 7
        raw[8] = 0b1; // fd 64
        assert_eq!(fd_set_bits(&raw, 128), vec![3, 4, 7, 64]);
        assert_eq!(fd_set_bits(&raw, 5), vec![3, 4]);
    }

    #[test]
    fn epoll_events_are_packed_and_split_into_flags() {
        let mut raw = Vec::new();
        raw.extend_from_slice(&(0x1u32 | 0x2000 | 1 << 31).to_ne_bytes());
        raw.extend_from_slice(&0x1_0000_0005u64.to_ne_bytes());
        let e = epoll_event_at(&raw);
        assert_eq!(e.events, vec!["EPOLLIN", "EPOLLRDHUP", "EPOLLET"]);
        assert_eq!((e.rest, e.data), (0, 0x1_0000_0005));
    }

    #[test]
    fn socket_type_splits_base_type_and_flags() {
        assert_eq!(
            socket_type(1 | 0o4000 | 0o2000000),
            Arg::Flags {
                names: vec!["SOCK_STREAM", "SOCK_NONBLOCK", "SOCK_CLOEXEC"],
                rest: 0
            }
        );
    }

    #[test]
    fn open_flags_put_the_access_mode_first_and_keep_unknown_bits() {
        assert_eq!(
            open_flags(0o2 | 0o4000 | 0o40000000000),
            Arg::Flags {
                names: vec!["O_RDWR", "O_NONBLOCK"],
                rest: 0o40000000000
            }
        );
    }

    #[test]
    fn clone_flags_name_the_exit_signal() {
        let f = (libc::CLONE_VM | libc::CLONE_THREAD) as u64 | libc::SIGCHLD as u64;
        assert_eq!(
            clone_flags(f),
            Arg::Flags {
                names: vec!["CLONE_VM", "CLONE_THREAD", "SIGCHLD"],
                rest: 0
            }
        );
    }

    #[test]
    fn futex_ops_name_the_command_and_its_flags() {
        assert_eq!(
            futex_op(128),
            Arg::Flags {
                names: vec!["FUTEX_WAIT_PRIVATE"],
                rest: 0
            }
        );
        assert_eq!(
            futex_op(9 | 128 | 256),
            Arg::Flags {
                names: vec!["FUTEX_WAIT_BITSET_PRIVATE", "FUTEX_CLOCK_REALTIME"],
                rest: 0
            }
        );
        assert_eq!(
            futex_op(1),
            Arg::Flags {
                names: vec!["FUTEX_WAKE"],
                rest: 0
            }
        );
        assert_eq!(futex_op(99), Arg::Hex(99));
    }

    #[test]
    fn futex_arguments_follow_the_operation() {
        let mem = Memory::new(std::process::id() as i32);
        let word = 0x7f00_0010;
        // FUTEX_WAIT_PRIVATE with no timeout: word, op, expected value, NULL.
        let wait = futex(&mem, &[word, 128, 3, 0, 0, 0]);
        assert_eq!(wait.len(), 4);
        assert_eq!(
            (&wait[0], &wait[2], &wait[3]),
            (&Arg::Word(word), &Arg::Int(3), &Arg::Ptr(0))
        );
        // FUTEX_WAKE_PRIVATE: word, op, how many to wake.
        let wake = futex(&mem, &[word, 129, i32::MAX as u64, 0, 0, 0]);
        assert_eq!(wake.len(), 3);
        assert_eq!(wake[2], Arg::Int(i64::from(i32::MAX)));
        // FUTEX_WAIT_BITSET: the absolute timeout is not read, only shown as there.
        let bitset = futex(&mem, &[word, 9 | 128, 0, 0xdead, 0, u64::from(u32::MAX)]);
        assert_eq!(bitset[3], Arg::Ptr(0xdead));
        assert_eq!(bitset[4], Arg::Sym("FUTEX_BITSET_MATCH_ANY"));
        assert_eq!(bitset.len(), 5, "no uaddr2, as strace shows it");
    }

    #[test]
    fn wait_status_is_shown_like_strace() {
        assert_eq!(
            wait_status(3 << 8),
            "[{WIFEXITED(s) && WEXITSTATUS(s) == 3}]"
        );
        assert_eq!(
            wait_status(libc::SIGSEGV),
            "[{WIFSIGNALED(s) && WTERMSIG(s) == SIGSEGV}]"
        );
    }
}
