//! Naming raw syscall values as the trace model's arguments: the functions
//! that turn a register's number into an [`Arg`].
//!
//! Both backends name values here. The native decoder hands them the
//! numbers it reads out of registers and tracee memory; the strace backend
//! turns strace's `SOCK_STREAM|SOCK_CLOEXEC` back into its number first, so
//! both produce identical arguments. The tables they read are
//! [`crate::syscalls::flags`], re-exported here. Nothing here reads a
//! tracee.

pub(crate) use crate::syscalls::flags::*;
use crate::trace::{Arg, EpollEvent, Sigaction, Time};

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

/// Open flags: the access mode first, then the status flags, and
/// `O_TMPFILE` (which holds `O_DIRECTORY`'s bit) last.
pub(crate) fn open_flags(value: u64) -> Arg {
    let mode = match value & 0o3 {
        0 => "O_RDONLY",
        1 => "O_WRONLY",
        _ => "O_RDWR",
    };
    let tmpfile = value & O_TMPFILE == O_TMPFILE;
    let value = if tmpfile { value & !O_TMPFILE } else { value };
    match flags(value & !0o3, O_FLAGS) {
        Arg::Flags { mut names, rest } => {
            names.insert(0, mode);
            if tmpfile {
                names.push("O_TMPFILE");
            }
            Arg::Flags { names, rest }
        }
        other => other,
    }
}

/// Whether open flags make the call take a mode (`O_CREAT`, `O_TMPFILE`).
pub(crate) fn open_takes_mode(value: u64) -> bool {
    value & O_CREAT != 0 || value & O_TMPFILE == O_TMPFILE
}

/// The number [`open_flags`] decoded: what strace prints before the names
/// (`fcntl(3, F_GETFL) = 0x802 (flags O_RDWR|O_NONBLOCK)`).
pub(crate) fn open_flags_value(names: &[&str], rest: u64) -> u64 {
    names.iter().fold(rest, |v, name| {
        v | match *name {
            "O_RDONLY" => 0,
            "O_WRONLY" => 1,
            "O_RDWR" => 2,
            "O_TMPFILE" => O_TMPFILE,
            other => O_FLAGS
                .iter()
                .find(|(_, n)| *n == other)
                .map_or(0, |(bit, _)| *bit),
        }
    })
}

/// `clone` flags and, in their low byte, the exit signal, named (a
/// real-time one stays bits).
pub(crate) fn clone_flags(value: u64) -> Arg {
    match flags(value & !0xff, CLONE_FLAGS) {
        Arg::Flags { mut names, rest } => {
            let signal = value & 0xff;
            match nix::sys::signal::Signal::try_from(signal as i32) {
                Ok(s) => {
                    names.push(s.as_str());
                    Arg::Flags { names, rest }
                }
                Err(_) => Arg::Flags {
                    names,
                    rest: rest | signal,
                },
            }
        }
        other => other,
    }
}

/// What strace prints of `clone`'s arguments besides its flags (x86_64's
/// order: flags, stack, parent tid, child tid, tls): the stack, then each
/// pointer its flags make the kernel use.
pub(crate) fn clone_members(flags: u64, stack: u64, parent: u64, child: u64, tls: u64) -> Arg {
    let mut m = vec![("child_stack", Arg::Ptr(stack))];
    if flags & CLONE_PARENT_SETTID != 0 {
        m.push(("parent_tid", Arg::Ptr(parent)));
    }
    if flags & CLONE_SETTLS != 0 {
        m.push(("tls", Arg::Ptr(tls)));
    }
    if flags & (CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID) != 0 {
        m.push(("child_tidptr", Arg::Ptr(child)));
    }
    Arg::Members(m)
}

/// What strace prints of a `struct clone_args` after its flags, from its
/// 64-bit words in order (flags, pidfd, child_tid, parent_tid, exit_signal,
/// stack, stack_size, tls): the pointers the flags make the kernel use, the
/// exit signal by name, the stack and its size.
pub(crate) fn clone3_members(w: &[u64; 8]) -> Arg {
    let flags = w[0];
    let mut m = Vec::new();
    if flags & CLONE_PIDFD != 0 {
        m.push(("pidfd", Arg::Ptr(w[1])));
    }
    if flags & (CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID) != 0 {
        m.push(("child_tid", Arg::Ptr(w[2])));
    }
    if flags & CLONE_PARENT_SETTID != 0 {
        m.push(("parent_tid", Arg::Ptr(w[3])));
    }
    let signal = match w[4] {
        0 => Arg::Int(0),
        s => match i32::try_from(s) {
            Ok(n @ 1..=64) => Arg::Text(crate::trace::signal_name(n)),
            _ => Arg::Int(s as i64),
        },
    };
    m.push(("exit_signal", signal));
    m.push(("stack", Arg::Ptr(w[5])));
    m.push(("stack_size", Arg::Hex(w[6])));
    if flags & CLONE_SETTLS != 0 {
        m.push(("tls", Arg::Ptr(w[7])));
    }
    Arg::Members(m)
}

/// A file mode as strace prints it (`%#03o`): `0644`, `000`.
pub(crate) fn mode_text(mode: u64) -> String {
    let s = if mode == 0 {
        "0".to_string()
    } else {
        format!("0{mode:o}")
    };
    format!("{s:0>3}")
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

pub(crate) fn ioctl_request(value: u64) -> Arg {
    sym_or_int(value, IOCTL_REQUESTS)
}

pub(crate) fn timespec(secs: u64, nanos: u64) -> Arg {
    Arg::Time(Time::timespec(secs, nanos))
}

pub(crate) fn timeval(secs: u64, micros: u64) -> Arg {
    Arg::Time(Time::timeval(secs, micros))
}

/// A `struct sigaction` as transcripts show it, `{SIG_DFL, SA_RESTORER}`:
/// a handler's address varies, so a handler is `handler`; the mask and the
/// restorer are left out; the flags say whether interrupted calls restart.
pub(crate) fn sigaction_text(sa: &Sigaction) -> String {
    let handler = match sa.handler {
        0 => "SIG_DFL",
        1 => "SIG_IGN",
        _ => "handler",
    };
    let shown = match flags(sa.flags, SA_FLAGS) {
        Arg::Flags { names, rest } if rest == 0 && !names.is_empty() => names.join("|"),
        Arg::Flags { names, rest } if !names.is_empty() => format!("{}|{rest:#x}", names.join("|")),
        _ => format!("{:#x}", sa.flags),
    };
    format!("{{{handler}, {shown}}}")
}

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
        // A file offset, however large.
        libc::SYS_lseek => int(v),
        _ if nr == crate::syscalls::MMAP2_I386 => Arg::Ptr(v),
        _ if v > u64::from(u32::MAX) => Arg::Ptr(v),
        _ => int(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscalls::FutexOp;

    #[test]
    fn futex_ops_are_read_back_from_their_names() {
        for raw in [0, 1, 9, 10, 11, 13] {
            for flags in [0, 128, 256, 384] {
                let op = FutexOp::from_raw(raw | flags);
                let names = match futex_op(raw | flags) {
                    Arg::Flags { names, .. } => names,
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
