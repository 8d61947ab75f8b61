//! The epoll API: `epoll_create`, `epoll_ctl` and the `epoll_wait` family.

use super::*;

/// The arguments at entry, if `nr` is one of these calls.
pub(super) fn entry(mem: &Memory, nr: u64, a: &[u64; 6]) -> Option<Vec<Arg>> {
    Some(match nr as libc::c_long {
        libc::SYS_epoll_create => vec![int32(a[0])],
        libc::SYS_epoll_create1 => vec![flags(a[0], EPOLL_CREATE_FLAGS)],
        libc::SYS_epoll_ctl => vec![fd(a[0]), epoll_op(a[1]), fd(a[2]), epoll_event(mem, a[3])],
        libc::SYS_epoll_wait => vec![fd(a[0]), Arg::Out(a[1]), int32(a[2]), int32(a[3])],
        libc::SYS_epoll_pwait => vec![
            fd(a[0]),
            Arg::Out(a[1]),
            int32(a[2]),
            int32(a[3]),
            sigset(mem, a[4]),
            int(a[5]),
        ],
        libc::SYS_epoll_pwait2 => vec![
            fd(a[0]),
            Arg::Out(a[1]),
            int32(a[2]),
            timespec(mem, a[3]),
            sigset(mem, a[4]),
            int(a[5]),
        ],
        _ => return None,
    })
}

/// The outputs at exit of a call that succeeded, returning `value`.
pub(super) fn exit(mem: &Memory, nr: u64, a: &[u64; 6], value: i64, outs: &mut Vec<(usize, Arg)>) {
    let v = value as u64;
    match nr as libc::c_long {
        libc::SYS_epoll_wait | libc::SYS_epoll_pwait | libc::SYS_epoll_pwait2 => {
            outs.push((1, epoll_events(mem, a[1], v)));
        }
        _ => {}
    }
}
