//! Descriptors: `close`, `dup`, `fcntl`, `ioctl`, `open`, `pipe`.

use super::*;

/// The arguments at entry, if `nr` is one of these calls.
pub(super) fn entry(mem: &Memory, nr: u64, a: &[u64; 6]) -> Option<Vec<Arg>> {
    Some(match nr as libc::c_long {
        libc::SYS_close => vec![fd(a[0])],
        libc::SYS_dup => vec![fd(a[0])],
        libc::SYS_dup2 => vec![fd(a[0]), fd(a[1])],
        libc::SYS_dup3 => vec![fd(a[0]), fd(a[1]), flags(a[2], O_FLAGS)],
        libc::SYS_fcntl => {
            let arg = match a[1] {
                F_SETFL => open_flags(a[2]),
                F_SETFD => flags(a[2], FD_FLAGS),
                F_DUPFD | F_DUPFD_CLOEXEC => int(a[2]),
                _ => Arg::Unknown,
            };
            let mut v = vec![fd(a[0]), fcntl_cmd(a[1])];
            if arg != Arg::Unknown {
                v.push(arg);
            }
            v
        }
        libc::SYS_ioctl => {
            let arg = match a[1] {
                FIONBIO => mem
                    .read_i32(a[2])
                    .map_or(Arg::Unknown, |v| Arg::IntRef(i64::from(v))),
                FIONREAD => Arg::Out(a[2]),
                _ => Arg::Ptr(a[2]),
            };
            vec![fd(a[0]), ioctl_request(a[1]), arg]
        }
        libc::SYS_open => {
            let mut v = vec![path(mem, a[0]), open_flags(a[1])];
            if open_takes_mode(a[1]) {
                v.push(Arg::Mode(a[2] & 0o7777));
            }
            v
        }
        libc::SYS_openat => {
            let mut v = vec![
                if a[0] as i32 == libc::AT_FDCWD {
                    Arg::Sym("AT_FDCWD")
                } else {
                    fd(a[0] as i32 as u64)
                },
                path(mem, a[1]),
                open_flags(a[2]),
            ];
            if open_takes_mode(a[2]) {
                v.push(Arg::Mode(a[3] & 0o7777));
            }
            v
        }
        libc::SYS_lseek => vec![
            fd(a[0]),
            int(a[1]),
            sym_or_int(a[2] as u32 as u64, SEEK_WHENCES),
        ],
        libc::SYS_pipe => vec![Arg::Out(a[0])],
        libc::SYS_pipe2 => vec![Arg::Out(a[0]), flags(a[1], O_FLAGS)],
        _ => return None,
    })
}

/// The outputs at exit of a call that succeeded, returning `value`.
pub(super) fn exit(mem: &Memory, nr: u64, a: &[u64; 6], _value: i64, outs: &mut Vec<(usize, Arg)>) {
    match nr as libc::c_long {
        libc::SYS_pipe | libc::SYS_pipe2 => {
            if let Some(pair) = fd_pair(mem, a[0]) {
                outs.push((0, pair));
            }
        }
        libc::SYS_ioctl if a[1] == FIONREAD => {
            if let Some(n) = mem.read_i32(a[2]) {
                outs.push((2, Arg::IntRef(i64::from(n))));
            }
        }
        _ => {}
    }
}
