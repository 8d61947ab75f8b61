//! The `select` and `poll` families: fd sets and pollfds, given at entry and ready at exit.

use super::*;

/// The arguments at entry, if `nr` is one of these calls.
pub(super) fn entry(mem: &Memory, nr: u64, a: &[u64; 6]) -> Option<Vec<Arg>> {
    Some(match nr as libc::c_long {
        libc::SYS_poll => vec![pollfds(mem, a[0], a[1], false), int(a[1]), int32(a[2])],
        libc::SYS_ppoll => vec![
            pollfds(mem, a[0], a[1], false),
            int(a[1]),
            timespec(mem, a[2]),
            sigset(mem, a[3]),
            int(a[4]),
        ],
        libc::SYS_select => vec![
            int(a[0]),
            fd_set(mem, a[1], a[0]),
            fd_set(mem, a[2], a[0]),
            fd_set(mem, a[3], a[0]),
            timeval(mem, a[4]),
        ],
        libc::SYS_pselect6 => vec![
            int(a[0]),
            fd_set(mem, a[1], a[0]),
            fd_set(mem, a[2], a[0]),
            fd_set(mem, a[3], a[0]),
            timespec(mem, a[4]),
            Arg::Ptr(a[5]),
        ],
        _ => return None,
    })
}

/// The outputs at exit of a call that succeeded, returning `value`.
pub(super) fn exit(mem: &Memory, nr: u64, a: &[u64; 6], _value: i64, outs: &mut Vec<(usize, Arg)>) {
    match nr as libc::c_long {
        libc::SYS_poll | libc::SYS_ppoll => outs.push((0, pollfds(mem, a[0], a[1], true))),
        libc::SYS_select | libc::SYS_pselect6 => {
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
        _ => {}
    }
}
