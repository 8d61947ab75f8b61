//! Sockets: `socket`, `bind`, `listen`, `accept`, `connect`, their options and addresses.

use super::*;

/// The arguments at entry, if `nr` is one of these calls.
pub(super) fn entry(mem: &Memory, nr: u64, a: &[u64; 6]) -> Option<Vec<Arg>> {
    Some(match nr as libc::c_long {
        libc::SYS_socket => vec![family(a[0]), socket_type(a[1]), protocol(a[2])],
        libc::SYS_socketpair => vec![
            family(a[0]),
            socket_type(a[1]),
            protocol(a[2]),
            Arg::Out(a[3]),
        ],
        libc::SYS_bind | libc::SYS_connect => vec![fd(a[0]), sockaddr(mem, a[1], a[2]), int(a[2])],
        libc::SYS_listen => vec![fd(a[0]), int32(a[1])],
        libc::SYS_accept | libc::SYS_getsockname | libc::SYS_getpeername => {
            vec![fd(a[0]), Arg::Out(a[1]), Arg::Out(a[2])]
        }
        libc::SYS_accept4 => vec![
            fd(a[0]),
            Arg::Out(a[1]),
            Arg::Out(a[2]),
            flags(a[3], SOCK_FLAGS),
        ],
        libc::SYS_setsockopt => vec![
            fd(a[0]),
            sockopt_level(a[1]),
            sockopt_name(a[1], a[2]),
            sockopt_value(mem, a[3], a[4]),
            int(a[4]),
        ],
        libc::SYS_getsockopt => vec![
            fd(a[0]),
            sockopt_level(a[1]),
            sockopt_name(a[1], a[2]),
            Arg::Out(a[3]),
            Arg::Out(a[4]),
        ],
        libc::SYS_shutdown => vec![fd(a[0]), shutdown_how(a[1])],
        _ => return None,
    })
}

/// The outputs at exit of a call that succeeded, returning `value`.
pub(super) fn exit(mem: &Memory, nr: u64, a: &[u64; 6], _value: i64, outs: &mut Vec<(usize, Arg)>) {
    match nr as libc::c_long {
        libc::SYS_accept | libc::SYS_accept4 | libc::SYS_getsockname | libc::SYS_getpeername => {
            let (addr, len) = sockaddr_out(mem, a[1], a[2]);
            outs.push((1, addr));
            outs.push((2, len));
        }
        libc::SYS_getsockopt => {
            let len = mem.read_i32(a[4]).unwrap_or(0);
            outs.push((3, sockopt_value(mem, a[3], len as u64)));
            outs.push((4, Arg::IntRef(i64::from(len))));
        }
        libc::SYS_socketpair => {
            if let Some(pair) = fd_pair(mem, a[3]) {
                outs.push((3, pair));
            }
        }
        _ => {}
    }
}
