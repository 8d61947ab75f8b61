//! `futex`: the arguments the operation uses, in strace's layout.

use super::*;

/// The arguments at entry, if `nr` is one of these calls.
pub(super) fn entry(mem: &Memory, nr: u64, a: &[u64; 6]) -> Option<Vec<Arg>> {
    Some(match nr as libc::c_long {
        libc::SYS_futex => args(mem, a),
        _ => return None,
    })
}

/// `futex(uaddr, op, val, timeout or val2, uaddr2, val3)`, with the
/// arguments the operation uses, in strace's layout. The word is named, not
/// shown; an absolute timeout (the `_BITSET` waits, the PI locks) is a point
/// in time that differs every run, so only whether there is one is shown.
pub(super) fn args(mem: &Memory, a: &[u64; 6]) -> Vec<Arg> {
    let relative = if futex_cmd(a[1]) == 0 {
        timespec(mem, a[3])
    } else {
        Arg::Unknown
    };
    futex_layout(a, relative)
}
