//! Turning raw syscall registers into decoded [`Call`]s and [`Return`]s.
//!
//! Inputs are decoded at syscall entry and outputs (buffers filled by the
//! kernel, accepted addresses) at exit, both by reading the tracee's memory
//! while it is stopped. A call is dispatched by its number's class in the
//! syscall table to the module of its family (as strace's `src/` has
//! `net.c`, `poll.c`, ...); this module holds what they share: reading
//! memory, and the structs several families read.

use std::io::IoSliceMut;
use std::net::{Ipv4Addr, Ipv6Addr};

use nix::sys::uio::{RemoteIoVec, process_vm_readv};
use nix::unistd::Pid;

use crate::syscalls;
use crate::trace::{Arg, Call, PollFd, Ret, Return, Sigaction, SockAddr};
use crate::values::{self, *};

pub use crate::syscalls::flags::BUFFER_HEAD;

mod desc;
mod epoll;
mod futex;
mod io;
mod net;
pub(crate) mod pids;
mod poll_select;
mod process;
mod signal;
mod time;

/// How many pollfds of a `poll` the trace keeps.
const POLLFD_MAX: usize = 64;
/// How many events of an `epoll_wait` the trace keeps.
const EPOLL_EVENTS_MAX: usize = 64;
/// How many fds of a `select` set the decoder reads at most.
const FD_BITS_MAX: u64 = 1 << 20;

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

/// A path argument: the string, or its address if it is NULL or cannot be
/// read (as strace prints it).
fn path(mem: &Memory, addr: u64) -> Arg {
    mem.read_cstr(addr, 4096).map_or(Arg::Ptr(addr), Arg::Str)
}

fn sockaddr(mem: &Memory, addr: u64, len: u64) -> Arg {
    if addr == 0 {
        return Arg::Ptr(0);
    }
    let len = (len as usize).min(128);
    let Some(b) = mem.read(addr, len).filter(|b| b.len() >= 2) else {
        return Arg::Ptr(addr);
    };
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
    let Some(b) = mem.read_exact(addr, 8 * n).filter(|_| addr != 0) else {
        return Arg::Ptr(addr);
    };
    let list = b
        .chunks_exact(8)
        .map(|c| {
            let events = |v: i16| match flags(v as u16 as u64, POLL_EVENTS) {
                Arg::Flags { names, rest } => (names, rest),
                _ => (Vec::new(), 0),
            };
            let (given, rest) = events(i16::from_ne_bytes([c[4], c[5]]));
            PollFd {
                fd: i32::from_ne_bytes([c[0], c[1], c[2], c[3]]),
                events: given,
                rest,
                revents: with_revents.then(|| events(i16::from_ne_bytes([c[6], c[7]])).0),
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
    // As strace: every fd below nfds (an int), whatever the kernel's limit.
    let bits = u64::from((nfds as i32).max(0) as u32).min(FD_BITS_MAX);
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

/// The two fds `pipe` or `socketpair` wrote at `addr`.
fn fd_pair(mem: &Memory, addr: u64) -> Option<Arg> {
    Some(Arg::FdPair(mem.read_i32(addr)?, mem.read_i32(addr + 4)?))
}

/// A `select` fd set argument at entry.
fn fd_set(mem: &Memory, addr: u64, nfds: u64) -> Arg {
    if addr == 0 {
        return Arg::Ptr(0);
    }
    match fd_set_members(mem, addr, nfds) {
        Some(given) => Arg::FdSet { given, ready: None },
        None => Arg::Ptr(addr),
    }
}

fn timeval(mem: &Memory, addr: u64) -> Arg {
    if addr == 0 {
        return Arg::Ptr(0);
    }
    match (mem.read_u64(addr), mem.read_u64(addr + 8)) {
        (Some(s), Some(us)) => values::timeval(s, us),
        _ => Arg::Ptr(addr),
    }
}

fn epoll_event(mem: &Memory, addr: u64) -> Arg {
    if addr == 0 {
        return Arg::Ptr(0);
    }
    mem.read_exact(addr, 12)
        .map_or(Arg::Ptr(addr), |raw| Arg::Epoll(epoll_event_at(&raw)))
}

fn epoll_events(mem: &Memory, addr: u64, n: u64) -> Arg {
    let n = (n as usize).min(EPOLL_EVENTS_MAX);
    mem.read_exact(addr, 12 * n).map_or(Arg::Unknown, |raw| {
        Arg::EpollEvents(raw.chunks_exact(12).map(epoll_event_at).collect())
    })
}

/// A signal mask (its first 64 signals); its address if it is NULL or
/// cannot be read.
fn sigset(mem: &Memory, addr: u64) -> Arg {
    mem.read_u64(addr).map_or(Arg::Ptr(addr), Arg::SigSet)
}

fn sockopt_value(mem: &Memory, addr: u64, len: u64) -> Arg {
    if len == 4 {
        mem.read_i32(addr)
            .map_or(Arg::Unknown, |v| Arg::IntRef(i64::from(v)))
    } else {
        Arg::Ptr(addr)
    }
}

fn timespec(mem: &Memory, addr: u64) -> Arg {
    if addr == 0 {
        return Arg::Ptr(0);
    }
    match (mem.read_u64(addr), mem.read_u64(addr + 8)) {
        (Some(s), Some(ns)) => values::timespec(s, ns),
        _ => Arg::Ptr(addr),
    }
}

/// Decodes a syscall's inputs at entry.
pub(crate) fn decode_entry(mem: &Memory, nr: u64, a: &[u64; 6]) -> Call {
    use syscalls::Class::*;
    let a = &syscalls::by_nr(nr).map_or(*a, |row| row.as_kernel_reads(a));
    let args = match syscalls::class_of(nr) {
        Socket | Bind | Connect | Listen | Accept | SockName | SockOpt | Shutdown => {
            net::entry(mem, nr, a)
        }
        Read | Write | Splice => io::entry(mem, nr, a),
        Close | Dup | Fcntl | Ioctl | Open | Pipe | Other => desc::entry(mem, nr, a),
        Select | Poll => poll_select::entry(mem, nr, a),
        EpollCreate | EpollCtl | EpollWait => epoll::entry(mem, nr, a),
        Sleep | Yield => time::entry(mem, nr, a),
        Futex => futex::entry(mem, nr, a),
        Spawn | Exec | Reap | Exit | Identity | Ptrace => process::entry(mem, nr, a),
        Kill | Signal => signal::entry(mem, nr, a),
        EpollOld => None,
    };
    let args = args.unwrap_or_else(|| vec![Arg::Text("...".into())]);
    Call { nr, args }
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
    if is_error {
        return Return {
            nr,
            ret: Ret::Err((-value) as i32),
            outs: Vec::new(),
        };
    }
    use syscalls::Class::*;
    let v = value as u64;
    let mut outs = Vec::new();
    match syscalls::class_of(nr) {
        Socket | Accept | SockName | SockOpt => net::exit(mem, nr, a, value, &mut outs),
        Read => io::exit(mem, nr, a, value, &mut outs),
        Ioctl | Pipe => desc::exit(mem, nr, a, value, &mut outs),
        Select | Poll => poll_select::exit(mem, nr, a, value, &mut outs),
        EpollWait => epoll::exit(mem, nr, a, value, &mut outs),
        Reap => process::exit(mem, nr, a, value, &mut outs),
        _ => {}
    }
    let ret = ret_arg(nr, a[1], v);
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
        let wait = futex::args(&mem, &[word, 128, 3, 0, 0, 0]);
        assert_eq!(wait.len(), 4);
        assert_eq!(
            (&wait[0], &wait[2], &wait[3]),
            (&Arg::Word(word), &Arg::Int(3), &Arg::Ptr(0))
        );
        // FUTEX_WAKE_PRIVATE: word, op, how many to wake.
        let wake = futex::args(&mem, &[word, 129, i32::MAX as u64, 0, 0, 0]);
        assert_eq!(wake.len(), 3);
        assert_eq!(wake[2], Arg::Int(i64::from(i32::MAX)));
        // FUTEX_WAIT_BITSET: the absolute timeout is not read, only shown as there.
        let bitset = futex::args(&mem, &[word, 9 | 128, 0, 0xdead, 0, u64::from(u32::MAX)]);
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
