//! Signals: sending them, their dispositions and masks.

use super::*;

/// The arguments at entry, if `nr` is one of these calls.
pub(super) fn entry(mem: &Memory, nr: u64, a: &[u64; 6]) -> Option<Vec<Arg>> {
    Some(match nr as libc::c_long {
        libc::SYS_rt_sigaction => vec![
            signal(a[0]),
            sigaction(mem, a[1]),
            Arg::Ptr(a[2]),
            int(a[3]),
        ],
        libc::SYS_rt_sigprocmask => vec![
            sym_or_int(a[0], SIGPROCMASK_HOWS),
            Arg::Ptr(a[1]),
            Arg::Ptr(a[2]),
            int(a[3]),
        ],
        libc::SYS_kill => vec![wait_pid(a[0]), signal(a[1])],
        libc::SYS_tgkill => vec![wait_pid(a[0]), Arg::Tid(a[1] as i32), signal(a[2])],
        libc::SYS_tkill => vec![Arg::Tid(a[0] as i32), signal(a[1])],
        libc::SYS_pause => Vec::new(),
        _ => return None,
    })
}

/// A kernel `struct sigaction`: handler, flags, restorer, then the mask
/// (its first 64 signals); its address if it cannot be read.
fn sigaction(mem: &Memory, addr: u64) -> Arg {
    let Some(raw) = mem.read_exact(addr, 32) else {
        return Arg::Ptr(addr);
    };
    let at = |i: usize| u64::from_ne_bytes(raw[i..i + 8].try_into().expect("8 bytes"));
    Arg::Sigaction(Sigaction {
        handler: at(0),
        flags: at(8),
        restorer: at(16),
        mask: at(24),
    })
}
