//! Threads and processes: spawning, exec, reaping, exiting, ids and `ptrace`.

use super::*;

/// The arguments at entry, if `nr` is one of these calls.
pub(super) fn entry(mem: &Memory, nr: u64, a: &[u64; 6]) -> Option<Vec<Arg>> {
    Some(match nr as libc::c_long {
        libc::SYS_clone => vec![
            clone_flags(a[0]),
            clone_members(a[0], a[1], a[2], a[3], a[4]),
        ],
        libc::SYS_clone3 => match mem.read_exact(a[0], 64) {
            Some(raw) => {
                let mut w = [0u64; 8];
                for (i, c) in raw.chunks_exact(8).enumerate() {
                    w[i] = u64::from_ne_bytes(c.try_into().expect("8 bytes"));
                }
                vec![
                    clone_flags(w[0] | (w[4] & 0xff)),
                    int(a[1]),
                    clone3_members(&w),
                ]
            }
            // NULL, or a struct it cannot read: strace prints the address.
            None => vec![Arg::Ptr(a[0]), int(a[1])],
        },
        libc::SYS_fork | libc::SYS_vfork => Vec::new(),
        libc::SYS_execve => vec![path(mem, a[0]), argv(mem, a[1]), envp(mem, a[2])],
        libc::SYS_execveat => vec![fd(a[0]), path(mem, a[1]), argv(mem, a[2]), envp(mem, a[3])],
        libc::SYS_wait4 => vec![
            wait_pid(a[0]),
            Arg::Out(a[1]),
            flags(a[2], WAIT_OPTIONS),
            Arg::Ptr(a[3]),
        ],
        libc::SYS_waitid => vec![
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
        libc::SYS_exit | libc::SYS_exit_group => vec![int32(a[0])],
        libc::SYS_getpid | libc::SYS_getppid | libc::SYS_gettid => Vec::new(),
        libc::SYS_ptrace => ptrace_args(a),
        _ => return None,
    })
}

/// The outputs at exit of a call that succeeded, returning `value`.
pub(super) fn exit(mem: &Memory, nr: u64, a: &[u64; 6], value: i64, outs: &mut Vec<(usize, Arg)>) {
    match nr as libc::c_long {
        libc::SYS_wait4 if a[1] != 0 && value > 0 => {
            if let Some(s) = mem.read_i32(a[1]) {
                outs.push((1, Arg::Text(wait_status(s))));
            }
        }
        libc::SYS_waitid => {
            if let Some(info) = child_info(mem, a[2]) {
                outs.push((2, info));
            }
        }
        _ => {}
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

/// An argv: its first strings (see [`Arg::Strs`]); its address if it is
/// NULL or cannot be read.
fn argv(mem: &Memory, addr: u64) -> Arg {
    if mem.read_u64(addr).is_none() {
        return Arg::Ptr(addr);
    }
    let mut out = Vec::new();
    for i in 0..ARGV_MAX as u64 {
        match mem.read_u64(addr + 8 * i) {
            Some(0) | None => break,
            Some(p) => out.push(mem.read_cstr(p, 256).unwrap_or_default()),
        }
    }
    Arg::Strs(out)
}

/// How many variables of an environment are counted at most.
const ENV_MAX: u64 = 1 << 16;

/// An environment, as strace shows it: its address and how many variables
/// it holds; only the address if it is NULL or cannot be read.
fn envp(mem: &Memory, addr: u64) -> Arg {
    if mem.read_u64(addr).is_none() {
        return Arg::Ptr(addr);
    }
    let vars = (0..ENV_MAX)
        .take_while(|i| mem.read_u64(addr + 8 * i).is_some_and(|p| p != 0))
        .count() as u64;
    Arg::Env { addr, vars }
}
