//! Sleeps and yields: `nanosleep`, `clock_nanosleep`, `sched_yield`.

use super::*;

/// The arguments at entry, if `nr` is one of these calls.
pub(super) fn entry(mem: &Memory, nr: u64, a: &[u64; 6]) -> Option<Vec<Arg>> {
    Some(match nr as libc::c_long {
        libc::SYS_nanosleep => vec![timespec(mem, a[0]), Arg::Ptr(a[1])],
        libc::SYS_clock_nanosleep => vec![
            sym_or_int(a[0], CLOCKS),
            flags(a[1], TIMER_FLAGS),
            timespec(mem, a[2]),
            Arg::Ptr(a[3]),
        ],
        libc::SYS_sched_yield => Vec::new(),
        _ => return None,
    })
}
