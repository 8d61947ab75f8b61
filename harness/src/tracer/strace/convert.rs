//! From strace's printed values to the trace model's [`Arg`]s, the same
//! ones the native decoder reads out of the tracee's memory.
//!
//! Both backends must give the normalizer identical records, so every
//! argument goes through the native decoder's own functions wherever it can:
//! strace's `SOCK_STREAM|SOCK_CLOEXEC` is turned back into its number and
//! handed to the function that names the native tracer's raw value. The
//! syscalls and argument positions here mirror `tracer::decode` one for one.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::syntax::{Field, Outcome, Value};
use crate::trace::{Arg, EpollEvent, PollFd, Ret, Sigaction, SockAddr, Tid};
use crate::values as d;

/// Which half of a call the arguments come from.
#[derive(Clone, Copy)]
enum Phase<'a> {
    /// The entry: inputs only; outputs are placeholders.
    Entry,
    /// The exit, with how the call ended.
    Exit(&'a Outcome, Option<i128>),
}

/// The arguments known at entry. Outputs are [`Arg::Out`], as in the
/// native tracer's entry events; inputs strace has not printed yet are
/// [`Arg::Unknown`] (the exit fills in every argument).
pub(crate) fn entry_args(name: &str, args: &[Field]) -> Vec<Arg> {
    Args::new(name, args).convert(Phase::Entry)
}

/// Every argument once the call returned (what a native record holds
/// after merging the exit's outputs), and the result.
pub(crate) fn exit_args(name: &str, args: &[Field], outcome: &Outcome) -> (Vec<Arg>, Ret) {
    let value = outcome
        .value
        .as_ref()
        .and_then(|v| v.number().or_else(|| raw_value(v).map(i128::from)));
    let ret = result(name, args, outcome, value);
    let args = Args::new(name, args).convert(Phase::Exit(outcome, value));
    (args, ret)
}

/// The result: an errno for failures (and the kernel's restart codes),
/// else the value decoded as the native tracer does.
fn result(name: &str, args: &[Field], outcome: &Outcome, value: Option<i128>) -> Ret {
    if let Some(e) = &outcome.errno {
        return Ret::Err(errno_number(e, outcome.note.as_deref()));
    }
    let v = raw_of(value.unwrap_or(0));
    let arg1 = Args::new(name, args).raw(1).unwrap_or(0);
    // A name this kernel's table lacks decodes as a number, as natively;
    // a 32-bit call only i386 has (`mmap2`) as the native tracer numbers it.
    let nr = crate::syscalls::number(name)
        .or_else(|| crate::syscalls::i386_number(name))
        .unwrap_or(u64::MAX);
    Ret::Ok(d::ret_arg(nr, arg1, v))
}

/// An errno's number from its name (`E123`-style and `Unknown error N` too).
fn errno_number(name: &str, note: Option<&str>) -> i32 {
    if let Some(n) = crate::trace::errno_number(name) {
        return n;
    }
    note.and_then(|n| n.strip_prefix("Unknown error "))
        .or_else(|| name.strip_prefix('E'))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// A number as the raw register value it came from.
fn raw_of(v: i128) -> u64 {
    if v < 0 { v as i64 as u64 } else { v as u64 }
}

/// A syscall's printed arguments, looked at by position.
struct Args<'a> {
    name: &'a str,
    fields: &'a [Field],
}

impl<'a> Args<'a> {
    fn new(name: &'a str, fields: &'a [Field]) -> Args<'a> {
        Args { name, fields }
    }

    fn get(&self, i: usize) -> Option<&'a Value> {
        self.fields.get(i).map(|f| strip(&f.value))
    }

    /// The named argument (`flags=` of `clone`).
    fn named(&self, name: &str) -> Option<&'a Value> {
        self.fields
            .iter()
            .find(|f| f.name.as_deref() == Some(name))
            .map(|f| strip(&f.value))
    }

    /// The raw number argument `i` stands for, symbols included.
    fn raw(&self, i: usize) -> Option<u64> {
        self.get(i).and_then(raw_value)
    }

    /// A converted input: `Unknown` if strace has not printed it (yet).
    fn with(&self, i: usize, f: impl FnOnce(u64) -> Arg) -> Arg {
        self.raw(i).map_or(Arg::Unknown, f)
    }

    /// An output pointer's placeholder, as the native entry has it.
    fn out_ptr(&self, i: usize) -> Arg {
        Arg::Out(u64::from(!matches!(self.get(i), Some(Value::Null))))
    }

    /// A pointer argument strace showed by value (a struct, a set): only
    /// whether it is NULL survives, as in the native trace.
    fn ptr(&self, i: usize) -> Arg {
        match self.get(i) {
            None => Arg::Unknown,
            Some(v) => Arg::Ptr(ptr_of(v)),
        }
    }

    fn convert(&self, phase: Phase<'_>) -> Vec<Arg> {
        let ok = matches!(phase, Phase::Exit(o, _) if o.errno.is_none());
        let ret = match phase {
            Phase::Exit(_, v) => v,
            Phase::Entry => None,
        };
        // An output argument: its value once the call succeeded, else the
        // entry's placeholder.
        let out = |i: usize, value: &dyn Fn() -> Option<Arg>| -> Arg {
            if ok {
                value().unwrap_or_else(|| self.out_ptr(i))
            } else {
                self.out_ptr(i)
            }
        };
        let fd = |i| self.with(i, d::fd);
        let int = |i| self.with(i, d::int);
        let int32 = |i| self.with(i, d::int32);
        let ret_len = || raw_of(ret.unwrap_or(0));
        match self.name {
            "socket" => vec![
                self.with(0, d::family),
                self.with(1, d::socket_type),
                self.with(2, d::protocol),
            ],
            "socketpair" => vec![
                self.with(0, d::family),
                self.with(1, d::socket_type),
                self.with(2, d::protocol),
                out(3, &|| fd_pair(self.get(3)?)),
            ],
            "bind" | "connect" => vec![fd(0), self.sockaddr(1), int(2)],
            "listen" => vec![fd(0), int32(1)],
            "accept" | "getsockname" | "getpeername" | "accept4" => {
                let (addr, len) = if ok {
                    self.sockaddr_out(1, 2)
                } else {
                    (self.out_ptr(1), self.out_ptr(2))
                };
                let mut v = vec![fd(0), addr, len];
                if self.name == "accept4" {
                    v.push(self.with(3, |x| d::flags(x, d::SOCK_FLAGS)));
                }
                v
            }
            "setsockopt" => vec![
                fd(0),
                self.with(1, d::sockopt_level),
                self.sockopt_name(),
                match (self.raw(4), self.get(3)) {
                    (Some(4), Some(v)) => int_ref(v).unwrap_or(Arg::Unknown),
                    (_, Some(v)) => Arg::Ptr(ptr_of(v)),
                    (_, None) => Arg::Unknown,
                },
                int(4),
            ],
            "getsockopt" => {
                let len = self.get(4).and_then(int_ref_value);
                vec![
                    fd(0),
                    self.with(1, d::sockopt_level),
                    self.sockopt_name(),
                    out(3, &|| match len {
                        Some(4) => int_ref(self.get(3)?),
                        _ => Some(Arg::Ptr(ptr_of(self.get(3)?))),
                    }),
                    out(4, &|| Some(Arg::IntRef(len?))),
                ]
            }
            "read" => vec![fd(0), out(1, &|| bytes(self.get(1)?, ret_len())), int(2)],
            "write" => vec![fd(0), self.bytes_in(1, 2), int(2)],
            "recvfrom" => {
                let from = if ok && !matches!(self.get(4), Some(Value::Null)) {
                    self.sockaddr_out(4, 5)
                } else {
                    (self.out_ptr(4), self.out_ptr(5))
                };
                vec![
                    fd(0),
                    out(1, &|| bytes(self.get(1)?, ret_len())),
                    int(2),
                    self.with(3, |x| d::flags(x, d::MSG_FLAGS)),
                    from.0,
                    from.1,
                ]
            }
            "sendto" => vec![
                fd(0),
                self.bytes_in(1, 2),
                int(2),
                self.with(3, |x| d::flags(x, d::MSG_FLAGS)),
                match self.get(4) {
                    Some(Value::Null) => Arg::Ptr(0),
                    _ => self.sockaddr(4),
                },
                int(5),
            ],
            "recvmsg" => vec![
                fd(0),
                out(1, &|| msg_bytes(self.get(1)?, ret_len())),
                self.with(2, |x| d::flags(x, d::MSG_FLAGS)),
            ],
            "sendmsg" => vec![
                fd(0),
                self.get(1)
                    .and_then(|v| msg_bytes(v, u64::MAX))
                    .unwrap_or(Arg::Unknown),
                self.with(2, |x| d::flags(x, d::MSG_FLAGS)),
            ],
            "readv" | "writev" | "recvmmsg" | "sendmmsg" => vec![fd(0), self.ptr(1), int(2)],
            "splice" => vec![
                fd(0),
                self.ptr(1),
                fd(2),
                self.ptr(3),
                int(4),
                self.with(5, |x| d::flags(x, d::SPLICE_FLAGS)),
            ],
            "tee" => vec![
                fd(0),
                fd(1),
                int(2),
                self.with(3, |x| d::flags(x, d::SPLICE_FLAGS)),
            ],
            "sendfile" => vec![fd(0), fd(1), self.ptr(2), int(3)],
            "copy_file_range" => vec![fd(0), self.ptr(1), fd(2), self.ptr(3), int(4), int(5)],
            "close" | "dup" => vec![fd(0)],
            "shutdown" => vec![fd(0), self.with(1, d::shutdown_how)],
            "dup2" => vec![fd(0), fd(1)],
            "dup3" => vec![fd(0), fd(1), self.with(2, |x| d::flags(x, d::O_FLAGS))],
            "fcntl" => {
                let mut v = vec![fd(0), self.with(1, d::fcntl_cmd)];
                let arg = match self.raw(1) {
                    Some(d::F_SETFL) => self.with(2, d::open_flags),
                    Some(d::F_SETFD) => self.with(2, |x| d::flags(x, d::FD_FLAGS)),
                    Some(d::F_DUPFD | d::F_DUPFD_CLOEXEC) => int(2),
                    _ => Arg::Unknown,
                };
                if arg != Arg::Unknown {
                    v.push(arg);
                }
                v
            }
            "ioctl" => {
                let arg = match self.raw(1) {
                    Some(d::FIONBIO) => self.get(2).and_then(int_ref).unwrap_or(Arg::Unknown),
                    Some(d::FIONREAD) => out(2, &|| int_ref(self.get(2)?)),
                    _ => self.ptr(2),
                };
                vec![fd(0), self.ioctl_request(), arg]
            }
            "open" | "openat" => {
                let at = usize::from(self.name == "openat");
                let mut v = Vec::new();
                if at == 1 {
                    v.push(match self.get(0) {
                        Some(Value::Sym(s)) if s == "AT_FDCWD" => Arg::Sym("AT_FDCWD"),
                        _ => fd(0),
                    });
                }
                v.push(self.path(at));
                v.push(self.with(at + 1, d::open_flags));
                if self.raw(at + 1).is_some_and(d::open_takes_mode) {
                    v.push(self.with(at + 2, Arg::Mode));
                }
                v
            }
            "lseek" => vec![
                fd(0),
                int(1),
                self.with(2, |x| d::sym_or_int(x, d::SEEK_WHENCES)),
            ],
            "pipe" => vec![out(0, &|| fd_pair(self.get(0)?))],
            "pipe2" => vec![
                out(0, &|| fd_pair(self.get(0)?)),
                self.with(1, |x| d::flags(x, d::O_FLAGS)),
            ],
            "poll" | "ppoll" => {
                let revents = match phase {
                    Phase::Exit(o, _) if ok => Some(o.note.as_deref()),
                    _ => None,
                };
                let fds = match self.get(0) {
                    Some(v) => pollfds(v, revents).unwrap_or_else(|| Arg::Ptr(ptr_of(v))),
                    None => Arg::Unknown,
                };
                if self.name == "poll" {
                    vec![fds, int(1), int32(2)]
                } else {
                    vec![fds, int(1), self.timespec(2), self.sigset(3), int(4)]
                }
            }
            "select" | "pselect6" => {
                let ready = match phase {
                    Phase::Exit(o, _) if ok => Some(select_ready(o.note.as_deref())),
                    _ => None,
                };
                let mut v = vec![int(0)];
                for (i, key) in [(1, "in"), (2, "out"), (3, "except")] {
                    let ready = ready.as_ref().map(|r| {
                        r.iter()
                            .find(|(k, _)| k == key)
                            .map(|(_, fds)| fds.clone())
                            .unwrap_or_default()
                    });
                    v.push(fd_set(self.get(i), ready));
                }
                if self.name == "select" {
                    v.push(self.timeval(4));
                } else {
                    v.push(self.timespec(4));
                    v.push(self.ptr(5));
                }
                v
            }
            "epoll_create" => vec![int32(0)],
            "epoll_create1" => vec![self.with(0, |x| d::flags(x, d::EPOLL_CREATE_FLAGS))],
            "epoll_ctl" => vec![
                fd(0),
                self.with(1, d::epoll_op),
                fd(2),
                match self.get(3) {
                    Some(Value::Null) => Arg::Ptr(0),
                    Some(v) => epoll_event(v).map_or(Arg::Unknown, Arg::Epoll),
                    None => Arg::Unknown,
                },
            ],
            "epoll_wait" | "epoll_pwait" | "epoll_pwait2" => {
                let events = out(1, &|| match self.get(1)? {
                    Value::Array(items) => Some(Arg::EpollEvents(
                        items
                            .iter()
                            .take(64)
                            .map(epoll_event)
                            .collect::<Option<Vec<_>>>()?,
                    )),
                    _ => None,
                });
                match self.name {
                    "epoll_wait" => vec![fd(0), events, int32(2), int32(3)],
                    "epoll_pwait" => {
                        vec![fd(0), events, int32(2), int32(3), self.sigset(4), int(5)]
                    }
                    _ => vec![
                        fd(0),
                        events,
                        int32(2),
                        self.timespec(3),
                        self.sigset(4),
                        int(5),
                    ],
                }
            }
            "nanosleep" => vec![self.timespec(0), self.ptr(1)],
            "clock_nanosleep" => vec![
                self.with(0, |x| d::sym_or_int(x, d::CLOCKS)),
                self.with(1, |x| d::flags(x, d::TIMER_FLAGS)),
                self.timespec(2),
                self.ptr(3),
            ],
            "clone" => {
                let Some(flags) = self.named("flags").and_then(raw_value) else {
                    return vec![Arg::Unknown];
                };
                let ptr = |name: &str| self.named(name).map_or(0, ptr_of);
                vec![
                    d::clone_flags(flags),
                    d::clone_members(
                        flags,
                        ptr("child_stack"),
                        ptr("parent_tid"),
                        ptr("child_tidptr"),
                        ptr("tls"),
                    ),
                ]
            }
            "clone3" => match self.get(0).and_then(clone3_words) {
                Some(w) => vec![
                    d::clone_flags(w[0] | (w[4] & 0xff)),
                    int(1),
                    d::clone3_members(&w),
                ],
                None => vec![self.ptr(0), int(1)],
            },
            "fork" | "vfork" | "getpid" | "getppid" | "gettid" | "sched_yield" | "pause" => {
                Vec::new()
            }
            "execve" => vec![self.path(0), self.argv(1), self.env(2)],
            "execveat" => vec![fd(0), self.path(1), self.argv(2), self.env(3)],
            "wait4" => {
                let reaped = ret.is_some_and(|v| v > 0);
                vec![
                    self.with(0, d::wait_pid),
                    if ok && reaped && !matches!(self.get(1), Some(Value::Null)) {
                        self.get(1)
                            .and_then(wait_status)
                            .map_or(Arg::Unknown, |s| Arg::Text(d::wait_status(s)))
                    } else {
                        self.out_ptr(1)
                    },
                    self.with(2, |x| d::flags(x, d::WAIT_OPTIONS)),
                    self.ptr(3),
                ]
            }
            "waitid" => vec![
                self.with(0, |x| d::sym_or_int(x, d::ID_TYPES)),
                if self.raw(0) == Some(1) {
                    self.with(1, d::wait_pid)
                } else {
                    int32(1)
                },
                out(2, &|| child_info(self.get(2)?)),
                self.with(3, |x| d::flags(x, d::WAITID_OPTIONS)),
                self.ptr(4),
            ],
            "futex" => self.futex(),
            "rt_sigaction" => vec![
                self.with(0, d::signal),
                match self.get(1) {
                    Some(v) => sigaction(v).unwrap_or_else(|| Arg::Ptr(ptr_of(v))),
                    None => Arg::Unknown,
                },
                self.ptr(2),
                int(3),
            ],
            "rt_sigprocmask" => vec![
                self.with(0, |x| d::sym_or_int(x, d::SIGPROCMASK_HOWS)),
                self.ptr(1),
                self.ptr(2),
                int(3),
            ],
            "exit" | "exit_group" => vec![int32(0)],
            "kill" => vec![self.with(0, d::wait_pid), self.with(1, d::signal)],
            "tgkill" => vec![
                self.with(0, d::wait_pid),
                self.with(1, |x| Arg::Tid(x as Tid)),
                self.with(2, d::signal),
            ],
            "tkill" => vec![
                self.with(0, |x| Arg::Tid(x as Tid)),
                self.with(1, d::signal),
            ],
            "ptrace" => {
                let raw: Vec<u64> = (0..2).map(|i| self.raw(i).unwrap_or(0)).collect();
                d::ptrace_args(&raw)
            }
            _ => vec![Arg::Text("...".into())],
        }
    }

    fn sockopt_name(&self) -> Arg {
        match (self.raw(1), self.raw(2)) {
            (Some(level), Some(name)) => d::sockopt_name(level, name),
            _ => Arg::Unknown,
        }
    }

    fn ioctl_request(&self) -> Arg {
        match (self.raw(1), self.get(1)) {
            (Some(v), _) => d::ioctl_request(v),
            // A request iolab has no number for: keep strace's name.
            (None, Some(v)) => Arg::Text(v.to_string()),
            (None, None) => Arg::Unknown,
        }
    }

    /// A socket address given as input.
    fn sockaddr(&self, i: usize) -> Arg {
        match self.get(i) {
            Some(Value::Null) => Arg::Ptr(0),
            Some(v) => sockaddr(v).map_or(Arg::Unknown, Arg::Addr),
            None => Arg::Unknown,
        }
    }

    /// An (address, length) output pair after success: NULL pointers stay
    /// pointers, as natively.
    fn sockaddr_out(&self, addr: usize, len: usize) -> (Arg, Arg) {
        let (a, l) = (self.get(addr), self.get(len));
        if matches!(a, Some(Value::Null)) || matches!(l, Some(Value::Null)) {
            return (Arg::Ptr(a.map_or(0, ptr_of)), Arg::Ptr(l.map_or(0, ptr_of)));
        }
        let len = l.and_then(int_ref_value);
        let addr = match a {
            Some(v) => sockaddr(v).map_or(Arg::Unknown, Arg::Addr),
            None => Arg::Unknown,
        };
        (addr, len.map_or(Arg::Unknown, Arg::IntRef))
    }

    /// A written buffer: its first bytes and the length asked for.
    fn bytes_in(&self, buf: usize, len: usize) -> Arg {
        match (self.get(buf), self.raw(len)) {
            (Some(v), Some(n)) => bytes(v, n).unwrap_or(Arg::Unknown),
            _ => Arg::Unknown,
        }
    }

    fn path(&self, i: usize) -> Arg {
        match self.get(i) {
            Some(Value::Str { bytes, .. }) => {
                let b = &bytes[..bytes.len().min(4096)];
                Arg::Str(String::from_utf8_lossy(b).into_owned())
            }
            Some(v) => Arg::Ptr(ptr_of(v)),
            None => Arg::Unknown,
        }
    }

    /// An argv: strace's strings; one cut short (`"..."...`) gains a
    /// byte, and a cut array (`, ...]`) a string, so that both print cut
    /// again (see [`Arg::Strs`]).
    fn argv(&self, i: usize) -> Arg {
        match self.get(i) {
            Some(Value::Array(items) | Value::Set(items)) => Arg::Strs(
                items
                    .iter()
                    .filter_map(|v| match strip(v) {
                        Value::Str { bytes, more } => {
                            let b = &bytes[..bytes.len().min(256)];
                            let mut s = String::from_utf8_lossy(b).into_owned();
                            if *more {
                                s.push('.');
                            }
                            Some(s)
                        }
                        Value::Ellipsis => Some(String::new()),
                        _ => None,
                    })
                    .take(d::ARGV_MAX)
                    .collect(),
            ),
            Some(v) => Arg::Ptr(ptr_of(v)),
            None => Arg::Unknown,
        }
    }

    /// An environment, `0x7ffd... /* 23 vars */`.
    fn env(&self, i: usize) -> Arg {
        match self.fields.get(i).map(|f| &f.value) {
            Some(Value::Commented(v, note)) => {
                match note.strip_suffix(" vars").and_then(|n| n.parse().ok()) {
                    Some(vars) => Arg::Env {
                        addr: ptr_of(v),
                        vars,
                    },
                    None => Arg::Ptr(ptr_of(v)),
                }
            }
            Some(v) => Arg::Ptr(ptr_of(v)),
            None => Arg::Unknown,
        }
    }

    /// A signal mask, `[USR1]`; a pointer strace printed as one.
    fn sigset(&self, i: usize) -> Arg {
        match self.get(i) {
            Some(v) => sigset(v).map_or_else(|| Arg::Ptr(ptr_of(v)), Arg::SigSet),
            None => Arg::Unknown,
        }
    }

    fn timespec(&self, i: usize) -> Arg {
        self.time(i, "tv_nsec", d::timespec)
    }

    fn timeval(&self, i: usize) -> Arg {
        self.time(i, "tv_usec", d::timeval)
    }

    fn time(&self, i: usize, sub: &str, make: fn(u64, u64) -> Arg) -> Arg {
        match self.get(i) {
            Some(Value::Null) => Arg::Ptr(0),
            Some(Value::Struct(fields)) => match (member(fields, "tv_sec"), member(fields, sub)) {
                (Some(s), Some(f)) => match (raw_value(s), raw_value(f)) {
                    (Some(s), Some(f)) => make(s, f),
                    _ => Arg::Unknown,
                },
                _ => Arg::Unknown,
            },
            Some(v) => Arg::Ptr(ptr_of(v)),
            None => Arg::Unknown,
        }
    }

    /// `futex`: strace prints only the arguments the operation uses; they
    /// are put back in their registers and laid out by the native decoder.
    fn futex(&self) -> Vec<Arg> {
        let (Some(word), Some(op)) = (self.raw(0), self.raw(1)) else {
            return vec![Arg::Unknown];
        };
        let mut a = [word, op, self.raw(2).unwrap_or(0), 0, 0, 0];
        let ptr = |i: usize| self.get(i).map_or(0, ptr_of);
        let mut relative = Arg::Unknown;
        match d::futex_cmd(op) {
            0 => {
                a[3] = ptr(3);
                relative = self.timespec(3);
            }
            6 | 13 => a[3] = self.get(2).map_or(0, ptr_of),
            9 => {
                a[3] = ptr(3);
                a[5] = self.raw(4).unwrap_or(0);
            }
            10 => a[5] = self.raw(3).unwrap_or(0),
            3 | 4 | 12 => {
                a[3] = self.raw(3).unwrap_or(0);
                a[4] = self.raw(4).unwrap_or(0);
                a[5] = self.raw(5).unwrap_or(0);
            }
            5 => {
                a[3] = self.raw(3).unwrap_or(0);
                a[4] = self.raw(4).unwrap_or(0);
                a[5] = self.get(5).and_then(futex_wake_op).unwrap_or(0);
            }
            11 => {
                a[3] = ptr(3);
                a[4] = self.raw(4).unwrap_or(0);
            }
            1 | 2 | 7 | 8 => {}
            _ => {
                a[3] = ptr(3);
                a[4] = self.raw(4).unwrap_or(0);
                a[5] = self.raw(5).unwrap_or(0);
            }
        }
        d::futex_layout(&a, relative)
    }
}

/// A value without its comment or `-y` path.
fn strip(v: &Value) -> &Value {
    match v {
        Value::Commented(inner, _) | Value::Labeled(_, inner) => strip(inner),
        other => other,
    }
}

/// A pointer's address as strace printed it; 1 for one it printed by what
/// it points to (a struct, a set), 0 for NULL.
fn ptr_of(v: &Value) -> u64 {
    match strip(v) {
        Value::Null | Value::Int(0) => 0,
        Value::Hex(p) => *p,
        _ => 1,
    }
}

/// The raw number a value stands for: numbers, and constants and flag sets
/// by name (the names the native decoder uses, and signals).
pub(crate) fn raw_value(v: &Value) -> Option<u64> {
    match strip(v) {
        Value::Sym(s) => symbol_value(s),
        Value::Or(parts) => parts
            .iter()
            .try_fold(0u64, |acc, p| Some(acc | raw_value(p)?)),
        Value::Fd { fd, .. } => Some(*fd as u64),
        other => other.number().map(raw_of),
    }
}

/// The number behind a constant's name, from the tables the native decoder
/// names numbers with.
fn symbol_value(name: &str) -> Option<u64> {
    const TABLES: &[&[(u64, &str)]] = &[
        d::FAMILIES,
        d::SOCK_TYPES,
        d::SOCK_FLAGS,
        d::PROTOCOLS,
        d::MSG_FLAGS,
        d::SPLICE_FLAGS,
        d::O_FLAGS,
        d::CLONE_FLAGS,
        d::POLL_EVENTS,
        d::EPOLL_EVENTS,
        d::EPOLL_OPS,
        d::EPOLL_CREATE_FLAGS,
        d::WAIT_OPTIONS,
        d::WAITID_OPTIONS,
        d::SA_FLAGS,
        d::SOCKOPT_LEVELS,
        d::SOCKET_OPTIONS,
        d::TCP_OPTIONS,
        d::IPV6_OPTIONS,
        d::FCNTL_CMDS,
        d::SHUTDOWN_HOWS,
        d::IOCTL_REQUESTS,
        d::CLOCKS,
        d::TIMER_FLAGS,
        d::ID_TYPES,
        d::SIGPROCMASK_HOWS,
        d::FD_FLAGS,
        d::PTRACE_REQUESTS,
        d::SEEK_WHENCES,
    ];
    for table in TABLES {
        if let Some((v, _)) = table.iter().find(|(_, n)| *n == name) {
            return Some(*v);
        }
    }
    match name {
        "O_RDONLY" => return Some(0),
        "O_WRONLY" => return Some(1),
        "O_RDWR" => return Some(2),
        "O_TMPFILE" => return Some(d::O_TMPFILE),
        "AT_FDCWD" => return Some(libc::AT_FDCWD as i64 as u64),
        // strace names socket option levels SOL_*.
        "SOL_IP" => return Some(0),
        "SOL_TCP" => return Some(6),
        "SOL_UDP" => return Some(17),
        "SOL_IPV6" => return Some(41),
        "FUTEX_BITSET_MATCH_ANY" => return Some(u64::from(u32::MAX)),
        "FUTEX_CLOCK_REALTIME" => return Some(d::FUTEX_CLOCK_REALTIME),
        _ => {}
    }
    if let Some(cmd) = d::FUTEX_OPS.iter().position(|(plain, _)| *plain == name) {
        return Some(cmd as u64);
    }
    if let Some(cmd) = d::FUTEX_OPS
        .iter()
        .position(|(_, private)| *private == name)
    {
        return Some(cmd as u64 | d::FUTEX_PRIVATE_FLAG);
    }
    signal_number(name).map(|s| s as u64)
}

/// A signal's number from strace's name for it (`SIGRT_1` is 33): the
/// inverse of [`crate::trace::signal_name`].
pub(crate) fn signal_number(name: &str) -> Option<i32> {
    if let Ok(s) = name.parse::<nix::sys::signal::Signal>() {
        return Some(s as i32);
    }
    match name {
        "SIGRTMIN" => Some(32),
        "SIGRTMAX" => Some(64),
        _ => {
            let n: i32 = name.strip_prefix("SIGRT_")?.parse().ok()?;
            (n <= 32).then_some(32 + n)
        }
    }
}

fn member<'v>(fields: &'v [Field], name: &str) -> Option<&'v Value> {
    fields
        .iter()
        .find(|f| f.name.as_deref() == Some(name))
        .map(|f| strip(&f.value))
}

/// `[16]` or `[128 => 16]`: the value written back.
fn int_ref_value(v: &Value) -> Option<i64> {
    match strip(v) {
        Value::Array(items) if items.len() == 1 => match strip(&items[0]) {
            Value::Changed(_, out) => out.number().map(|n| n as i64),
            other => other.number().map(|n| n as i64),
        },
        _ => None,
    }
}

fn int_ref(v: &Value) -> Option<Arg> {
    int_ref_value(v).map(Arg::IntRef)
}

fn fd_pair(v: &Value) -> Option<Arg> {
    match strip(v) {
        Value::Array(items) | Value::Set(items) if items.len() == 2 => {
            let a = raw_value(&items[0])? as i32;
            let b = raw_value(&items[1])? as i32;
            Some(Arg::FdPair(a, b))
        }
        _ => None,
    }
}

/// A buffer's first bytes (as many as the native tracer keeps) and length.
fn bytes(v: &Value, len: u64) -> Option<Arg> {
    match strip(v) {
        Value::Str { bytes, .. } => {
            let keep = (len as usize).min(d::BUFFER_HEAD).min(bytes.len());
            Some(Arg::Bytes {
                head: bytes[..keep].to_vec(),
                len,
            })
        }
        _ => None,
    }
}

/// The bytes of a `struct msghdr`'s iovecs, as `recvmsg`/`sendmsg` print it.
fn msg_bytes(v: &Value, len: u64) -> Option<Arg> {
    let Value::Struct(fields) = strip(v) else {
        return None;
    };
    let mut head = Vec::new();
    let mut left = (len as usize).min(d::BUFFER_HEAD);
    if let Some(Value::Array(iovs)) = member(fields, "msg_iov") {
        for iov in iovs {
            if left == 0 {
                break;
            }
            if let Value::Struct(f) = strip(iov)
                && let Some(Value::Str { bytes, .. }) = member(f, "iov_base")
            {
                let take = bytes.len().min(left);
                head.extend_from_slice(&bytes[..take]);
                left -= take;
            }
        }
    }
    Some(Arg::Bytes { head, len })
}

fn sockaddr(v: &Value) -> Option<SockAddr> {
    let Value::Struct(fields) = strip(v) else {
        return None;
    };
    let family = raw_value(member(fields, "sa_family")?)? as u16;
    let port = |name: &str| -> Option<u16> {
        match member(fields, name)? {
            Value::Call { func, args } if func == "htons" => {
                args.first().and_then(raw_value).map(|p| p as u16)
            }
            other => raw_value(other).map(|p| p as u16),
        }
    };
    match i32::from(family) {
        libc::AF_INET => {
            let ip = match member(fields, "sin_addr")? {
                Value::Call { func, args } if func == "inet_addr" => match args.first()? {
                    Value::Str { bytes, .. } => std::str::from_utf8(bytes).ok()?.parse().ok()?,
                    _ => return None,
                },
                _ => Ipv4Addr::UNSPECIFIED,
            };
            Some(SockAddr::Inet(ip, port("sin_port")?))
        }
        libc::AF_INET6 => {
            let ip = fields
                .iter()
                .find_map(|f| match strip(&f.value) {
                    Value::Call { func, args } if func == "inet_pton" => match args.get(1)? {
                        Value::Str { bytes, .. } => {
                            std::str::from_utf8(bytes).ok()?.parse::<Ipv6Addr>().ok()
                        }
                        _ => None,
                    },
                    _ => None,
                })
                .unwrap_or(Ipv6Addr::UNSPECIFIED);
            Some(SockAddr::Inet6(ip, port("sin6_port")?))
        }
        libc::AF_UNIX => match member(fields, "sun_path") {
            Some(Value::Str { bytes, .. }) => {
                let end = bytes.iter().position(|&c| c == 0).unwrap_or(bytes.len());
                Some(SockAddr::Unix(
                    String::from_utf8_lossy(&bytes[..end]).into_owned(),
                ))
            }
            _ => Some(SockAddr::Unix(String::new())),
        },
        _ => Some(SockAddr::Other(family)),
    }
}

/// `{fd=3, events=POLLIN}` items, with revents from the result's note
/// (`[{fd=3, revents=POLLIN}]`: only the ready ones are listed).
fn pollfds(v: &Value, note: Option<Option<&str>>) -> Option<Arg> {
    let Value::Array(items) = strip(v) else {
        return None;
    };
    let ready: Vec<(i32, u64)> = match note {
        Some(Some(text)) => match super::syntax::parse_value(text) {
            Ok(Value::Array(list)) => list
                .iter()
                .filter_map(|item| {
                    let Value::Struct(f) = strip(item) else {
                        return None;
                    };
                    Some((
                        raw_value(member(f, "fd")?)? as i32,
                        raw_value(member(f, "revents")?)?,
                    ))
                })
                .collect(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    let names = |bits: u64| match d::flags(bits, d::POLL_EVENTS) {
        Arg::Flags { names, .. } => names,
        _ => Vec::new(),
    };
    let mut next = ready.iter().peekable();
    let mut list = Vec::new();
    for item in items.iter().take(64) {
        let f = match strip(item) {
            Value::Struct(f) => f,
            // strace showed the first 32: one more says there were more.
            Value::Ellipsis => {
                list.push(PollFd {
                    fd: -1,
                    events: Vec::new(),
                    rest: 0,
                    revents: note.map(|_| Vec::new()),
                });
                break;
            }
            _ => return None,
        };
        let fd = raw_value(member(f, "fd")?)? as i32;
        // A negative fd is shown without its events.
        let (events, rest) = match d::flags(
            member(f, "events").and_then(raw_value).unwrap_or(0),
            d::POLL_EVENTS,
        ) {
            Arg::Flags { names, rest } => (names, rest),
            _ => (Vec::new(), 0),
        };
        let revents = note.map(|_| match next.peek() {
            Some(&&(rfd, bits)) if rfd == fd => {
                next.next();
                names(bits)
            }
            _ => Vec::new(),
        });
        list.push(PollFd {
            fd,
            events,
            rest,
            revents,
        });
    }
    Some(Arg::PollFds(list))
}

/// A `select` fd set argument: the members given, and the ones left ready.
fn fd_set(v: Option<&Value>, ready: Option<Vec<i32>>) -> Arg {
    match v {
        Some(Value::Null) => Arg::Ptr(0),
        Some(v) => match set_members(v) {
            Some(given) => Arg::FdSet { given, ready },
            None => Arg::Unknown,
        },
        None => Arg::Unknown,
    }
}

fn set_members(v: &Value) -> Option<Vec<i32>> {
    match strip(v) {
        Value::Array(items) | Value::Set(items) => items
            .iter()
            .map(|i| raw_value(i).map(|n| n as i32))
            .collect(),
        _ => None,
    }
}

/// The sets a `select` result note lists: `in [3], out [4], left {...}`.
fn select_ready(note: Option<&str>) -> Vec<(String, Vec<i32>)> {
    let Some(note) = note else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for key in ["in", "out", "except"] {
        let pat = format!("{key} [");
        let Some(at) = note.find(&pat) else {
            continue;
        };
        let start = at + pat.len() - 1;
        let Some(len) = note[start..].find(']') else {
            continue;
        };
        if let Ok(v) = super::syntax::parse_value(&note[start..=start + len])
            && let Some(fds) = set_members(&v)
        {
            out.push((key.to_string(), fds));
        }
    }
    out
}

/// `{events=EPOLLIN, data={u32=5, u64=5}}` (strace 6.1) or `data=0x5`.
fn epoll_event(v: &Value) -> Option<EpollEvent> {
    let Value::Struct(fields) = strip(v) else {
        return None;
    };
    let bits = raw_value(member(fields, "events")?)?;
    let data = match member(fields, "data")? {
        Value::Struct(d) => raw_value(member(d, "u64")?)?,
        other => raw_value(other)?,
    };
    let (events, rest) = d::epoll_flags(bits);
    Some(EpollEvent { events, rest, data })
}

/// `{flags=CLONE_VM|..., exit_signal=SIGCHLD, ...}` (maybe `=> {...}`).
fn clone3_words(v: &Value) -> Option<[u64; 8]> {
    let v = match strip(v) {
        Value::Changed(given, _) => strip(given),
        other => other,
    };
    let Value::Struct(fields) = v else {
        return None;
    };
    let flags = raw_value(member(fields, "flags")?)?;
    let word = |name: &str| member(fields, name).map_or(0, |v| raw_value(v).unwrap_or(ptr_of(v)));
    Some([
        flags,
        word("pidfd"),
        word("child_tid"),
        word("parent_tid"),
        word("exit_signal"),
        word("stack"),
        word("stack_size"),
        word("tls"),
    ])
}

/// A wait status from strace's `[{WIFEXITED(s) && WEXITSTATUS(s) == 3}]`.
fn wait_status(v: &Value) -> Option<i32> {
    let Value::Array(items) = strip(v) else {
        return None;
    };
    let text = match strip(items.first()?) {
        Value::Struct(f) => f.first().map(|f| f.value.to_string())?,
        other => other.to_string(),
    };
    let after = |key: &str| -> Option<&str> {
        let at = text.find(key)? + key.len();
        text[at..].split([' ', '}', ')']).find(|s| !s.is_empty())
    };
    if let Some(code) = after("WEXITSTATUS(s) == ") {
        return Some((code.parse::<i32>().ok()? & 0xff) << 8);
    }
    if let Some(sig) = after("WTERMSIG(s) == ") {
        return signal_number(sig);
    }
    if let Some(sig) = after("WSTOPSIG(s) == ") {
        return Some((signal_number(sig)? << 8) | 0x7f);
    }
    if text.contains("WIFCONTINUED") {
        return Some(0xffff);
    }
    None
}

/// `waitid`'s `{si_signo=SIGCHLD, si_code=CLD_KILLED, si_pid=12, ...}`;
/// `{}` when nothing was reaped.
fn child_info(v: &Value) -> Option<Arg> {
    let Value::Struct(fields) = strip(v) else {
        return None;
    };
    let code = match member(fields, "si_code")? {
        Value::Sym(s) => match s.as_str() {
            "CLD_EXITED" => 1,
            "CLD_KILLED" => 2,
            "CLD_DUMPED" => 3,
            "CLD_TRAPPED" => 4,
            "CLD_STOPPED" => 5,
            "CLD_CONTINUED" => 6,
            _ => 0,
        },
        other => raw_value(other)? as i32,
    };
    let pid = raw_value(member(fields, "si_pid")?)? as i32;
    let status = raw_value(member(fields, "si_status")?)? as i32;
    d::child_info_arg(code, pid, status)
}

/// `{sa_handler=SIG_DFL, sa_mask=[], sa_flags=SA_RESTORER, ...}`.
fn sigaction(v: &Value) -> Option<Arg> {
    let Value::Struct(fields) = strip(v) else {
        return None;
    };
    let handler = match member(fields, "sa_handler")? {
        Value::Sym(s) if s == "SIG_DFL" => 0,
        Value::Sym(s) if s == "SIG_IGN" => 1,
        other => raw_value(other).unwrap_or(2).max(2),
    };
    Some(Arg::Sigaction(Sigaction {
        handler,
        mask: member(fields, "sa_mask").and_then(sigset).unwrap_or(0),
        flags: member(fields, "sa_flags").and_then(raw_value).unwrap_or(0),
        restorer: member(fields, "sa_restorer")
            .and_then(raw_value)
            .unwrap_or(0),
    }))
}

/// A signal set, `[INT TERM]` or `~[KILL STOP]`, as its 64 bits (bit
/// `n - 1` for signal `n`).
fn sigset(v: &Value) -> Option<u64> {
    let (items, inverted) = match strip(v) {
        Value::Not(inner) => match strip(inner) {
            Value::Array(items) | Value::Set(items) => (items, true),
            _ => return None,
        },
        Value::Array(items) | Value::Set(items) => (items, false),
        _ => return None,
    };
    let mut bits = 0u64;
    for item in items {
        let n = match strip(item) {
            Value::Sym(s) => signal_number(&format!("SIG{s}"))?,
            other => i32::try_from(other.number()?).ok()?,
        };
        if (1..=64).contains(&n) {
            bits |= 1 << (n - 1);
        }
    }
    Some(if inverted { !bits } else { bits })
}

/// `FUTEX_WAKE_OP`'s operation, `{FUTEX_OP_SET, 0, FUTEX_OP_CMP_GT, 1}`,
/// encoded back into its 32 bits.
fn futex_wake_op(v: &Value) -> Option<u64> {
    let Value::Struct(f) = strip(v) else {
        return raw_value(v);
    };
    let code = |v: &Value, names: &[&str]| -> Option<u64> {
        match strip(v) {
            Value::Or(parts) => parts.iter().try_fold(0, |acc, p| {
                let one = match strip(p) {
                    Value::Sym(s) if s == "FUTEX_OP_OPARG_SHIFT" => 8,
                    Value::Sym(s) => names.iter().position(|n| n == s)? as u64,
                    other => raw_value(other)?,
                };
                Some(acc | one)
            }),
            Value::Sym(s) => names.iter().position(|n| n == s).map(|p| p as u64),
            other => raw_value(other),
        }
    };
    const OPS: &[&str] = &[
        "FUTEX_OP_SET",
        "FUTEX_OP_ADD",
        "FUTEX_OP_OR",
        "FUTEX_OP_ANDN",
        "FUTEX_OP_XOR",
    ];
    const CMPS: &[&str] = &[
        "FUTEX_OP_CMP_EQ",
        "FUTEX_OP_CMP_NE",
        "FUTEX_OP_CMP_LT",
        "FUTEX_OP_CMP_LE",
        "FUTEX_OP_CMP_GT",
        "FUTEX_OP_CMP_GE",
    ];
    let op = code(&f.first()?.value, OPS)?;
    let oparg = raw_value(&f.get(1)?.value)?;
    let cmp = code(&f.get(2)?.value, CMPS)?;
    let cmparg = raw_value(&f.get(3)?.value)?;
    Some(((op & 0xf) << 28) | ((cmp & 0xf) << 24) | ((oparg & 0xfff) << 12) | (cmparg & 0xfff))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracer::strace::syntax::{Body, parse_line};

    fn call(line: &str) -> (Vec<Arg>, Ret) {
        match parse_line(line).expect("parses").body {
            Body::Syscall(s) => exit_args(&s.name, &s.args, &s.result),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_signal_name_turns_back_into_its_number() {
        for signal in 1..=64 {
            let name = crate::trace::signal_name(signal);
            assert_eq!(signal_number(&name), Some(signal), "{name}");
        }
        assert_eq!(crate::trace::signal_name(34), "SIGRT_2");
        assert_eq!(crate::trace::signal_name(32), "SIGRTMIN");
    }

    #[test]
    fn names_turn_back_into_the_native_decoders_values() {
        let (args, ret) = call("socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP) = 3");
        assert_eq!(args[0], Arg::Sym("AF_INET"));
        assert_eq!(
            args[1],
            Arg::Flags {
                names: vec!["SOCK_STREAM", "SOCK_CLOEXEC"],
                rest: 0
            }
        );
        assert_eq!(ret, Ret::Ok(Arg::Fd(3)));
        let (args, _) = call(
            "rt_sigaction(SIGRT_1, {sa_handler=0x7f00, sa_mask=[], sa_flags=SA_RESTORER|SA_ONSTACK|SA_RESTART|SA_SIGINFO, sa_restorer=0x7f01}, NULL, 8) = 0",
        );
        assert_eq!(args[0], Arg::Int(33));
        assert_eq!(
            args[1],
            Arg::Sigaction(Sigaction {
                handler: 0x7f00,
                mask: 0,
                flags: 0x0c00_0004 | 0x1000_0000,
                restorer: 0x7f01,
            })
        );
    }

    #[test]
    fn outputs_of_failed_calls_stay_pointers() {
        let (args, ret) = call(
            "accept4(3, 0x7ffd, [128], SOCK_CLOEXEC) = -1 EAGAIN (Resource temporarily unavailable)",
        );
        assert_eq!(ret, Ret::Err(libc::EAGAIN));
        assert_eq!((&args[1], &args[2]), (&Arg::Out(1), &Arg::Out(1)));
        let (args, _) = call("accept(3, NULL, NULL) = 4");
        assert_eq!((&args[1], &args[2]), (&Arg::Ptr(0), &Arg::Ptr(0)));
        let (args, _) = call(
            "accept4(3, {sa_family=AF_INET, sin_port=htons(5), sin_addr=inet_addr(\"127.0.0.1\")}, [128 => 16], SOCK_CLOEXEC) = 4",
        );
        assert_eq!(args[1], Arg::Addr(SockAddr::Inet(Ipv4Addr::LOCALHOST, 5)));
        assert_eq!(args[2], Arg::IntRef(16));
    }

    #[test]
    fn readiness_results_come_from_the_note() {
        let (args, _) = call("select(6, [3 5], [5], NULL, NULL) = 2 (in [5], out [5])");
        assert_eq!(
            args[1],
            Arg::FdSet {
                given: vec![3, 5],
                ready: Some(vec![5])
            }
        );
        assert_eq!(args[3], Arg::Ptr(0));
        let (args, _) = call(
            "poll([{fd=3, events=POLLIN}, {fd=4, events=POLLIN|POLLOUT}], 2, -1) = 1 ([{fd=4, revents=POLLOUT}])",
        );
        let Arg::PollFds(fds) = &args[0] else {
            panic!("pollfds")
        };
        assert_eq!(fds[0].revents, Some(vec![]));
        assert_eq!(fds[1].revents, Some(vec!["POLLOUT"]));
        let (args, _) =
            call("epoll_wait(5, [{events=EPOLLIN|EPOLLRDHUP, data={u32=4, u64=4}}], 64, -1) = 1");
        assert_eq!(
            args[1],
            Arg::EpollEvents(vec![EpollEvent {
                events: vec!["EPOLLIN", "EPOLLRDHUP"],
                rest: 0,
                data: 4
            }])
        );
    }

    #[test]
    fn process_calls() {
        let (args, _) = call(
            "wait4(-1, [{WIFSIGNALED(s) && WTERMSIG(s) == SIGABRT && WCOREDUMP(s)}], 0, NULL) = 12",
        );
        assert_eq!(
            args[1],
            Arg::Text("[{WIFSIGNALED(s) && WTERMSIG(s) == SIGABRT}]".into())
        );
        let (args, _) = call(
            "waitid(P_ALL, 0, {si_signo=SIGCHLD, si_code=CLD_DUMPED, si_pid=12, si_uid=0, si_status=SIGABRT, si_utime=0, si_stime=0}, WEXITED, NULL) = 0",
        );
        assert_eq!(
            args[2],
            Arg::ChildInfo {
                code: "CLD_KILLED",
                pid: 12,
                status: "SIGABRT".into()
            }
        );
        let (args, ret) = call(
            "clone3({flags=CLONE_VM|CLONE_THREAD, exit_signal=0, stack=0x7f} => {parent_tid=[13]}, 88) = 13",
        );
        assert_eq!(
            args[0],
            Arg::Flags {
                names: vec!["CLONE_VM", "CLONE_THREAD"],
                rest: 0
            }
        );
        assert_eq!(ret, Ret::Ok(Arg::Tid(13)));
        let (args, _) = call(
            "futex(0x55d0, FUTEX_WAIT_BITSET_PRIVATE|FUTEX_CLOCK_REALTIME, 0, NULL, FUTEX_BITSET_MATCH_ANY) = 0",
        );
        assert_eq!(
            args,
            vec![
                Arg::Word(0x55d0),
                Arg::Flags {
                    names: vec!["FUTEX_WAIT_BITSET_PRIVATE", "FUTEX_CLOCK_REALTIME"],
                    rest: 0
                },
                Arg::Int(0),
                Arg::Ptr(0),
                Arg::Sym("FUTEX_BITSET_MATCH_ANY"),
            ]
        );
    }
}
