//! Reads and writes: the buffers moved, and the socket forms with their flags and addresses;
//! and the calls that move bytes from fd to fd in the kernel (`splice`, `sendfile`).

use super::*;

/// The arguments at entry, if `nr` is one of these calls.
pub(super) fn entry(mem: &Memory, nr: u64, a: &[u64; 6]) -> Option<Vec<Arg>> {
    Some(match nr as libc::c_long {
        libc::SYS_read => vec![fd(a[0]), Arg::Out(a[1]), int(a[2])],
        libc::SYS_write => vec![fd(a[0]), bytes(mem, a[1], a[2]), int(a[2])],
        libc::SYS_recvfrom => vec![
            fd(a[0]),
            Arg::Out(a[1]),
            int(a[2]),
            flags(a[3], MSG_FLAGS),
            Arg::Out(a[4]),
            Arg::Out(a[5]),
        ],
        libc::SYS_sendto => {
            let to = if a[4] == 0 {
                Arg::Ptr(0)
            } else {
                sockaddr(mem, a[4], a[5])
            };
            vec![
                fd(a[0]),
                bytes(mem, a[1], a[2]),
                int(a[2]),
                flags(a[3], MSG_FLAGS),
                to,
                int(a[5]),
            ]
        }
        libc::SYS_recvmsg => vec![fd(a[0]), Arg::Out(a[1]), flags(a[2], MSG_FLAGS)],
        libc::SYS_sendmsg => vec![
            fd(a[0]),
            msg_bytes(mem, a[1], u64::MAX),
            flags(a[2], MSG_FLAGS),
        ],
        libc::SYS_readv => vec![fd(a[0]), Arg::Ptr(a[1]), int(a[2])],
        libc::SYS_writev => vec![fd(a[0]), Arg::Ptr(a[1]), int(a[2])],
        libc::SYS_recvmmsg | libc::SYS_sendmmsg => vec![fd(a[0]), Arg::Ptr(a[1]), int(a[2])],
        libc::SYS_splice => vec![
            fd(a[0]),
            Arg::Ptr(a[1]),
            fd(a[2]),
            Arg::Ptr(a[3]),
            int(a[4]),
            flags(a[5], SPLICE_FLAGS),
        ],
        libc::SYS_tee => vec![fd(a[0]), fd(a[1]), int(a[2]), flags(a[3], SPLICE_FLAGS)],
        libc::SYS_sendfile => vec![fd(a[0]), fd(a[1]), Arg::Ptr(a[2]), int(a[3])],
        libc::SYS_copy_file_range => vec![
            fd(a[0]),
            Arg::Ptr(a[1]),
            fd(a[2]),
            Arg::Ptr(a[3]),
            int(a[4]),
            int(a[5]),
        ],
        _ => return None,
    })
}

/// The outputs at exit of a call that succeeded, returning `value`.
pub(super) fn exit(mem: &Memory, nr: u64, a: &[u64; 6], value: i64, outs: &mut Vec<(usize, Arg)>) {
    let v = value as u64;
    match nr as libc::c_long {
        libc::SYS_read => outs.push((1, bytes(mem, a[1], v))),
        libc::SYS_recvfrom => {
            outs.push((1, bytes(mem, a[1], v)));
            if a[4] != 0 {
                let (addr, len) = sockaddr_out(mem, a[4], a[5]);
                outs.push((4, addr));
                outs.push((5, len));
            }
        }
        libc::SYS_recvmsg => outs.push((1, msg_bytes(mem, a[1], v))),
        _ => {}
    }
}
