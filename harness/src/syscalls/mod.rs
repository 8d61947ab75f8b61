//! The syscall table: what the harness knows about each x86_64 system call
//! it decodes, by number, written once.
//!
//! A row gives a call's name, its [`Class`] (what checks ask: "is this a
//! read?", "does it wait for readiness?"), and the kind of each argument
//! (which one is the fd, the byte count, the timeout, which flag table
//! names a flag set). Checks test classes and read typed accessors on
//! [`crate::trace::Record`] instead of matching names; both backends name
//! raw values with [`flags`]. The names of every syscall and errno number
//! are generated from the kernel headers (`generate.py` writes `names.rs`).

pub mod flags;
mod names;
mod row;
mod table;

use std::sync::OnceLock;

pub(crate) use names::{ERRNO_NAMES, I386_NAMES, SYSCALL_NAMES};

pub use row::{Class, FutexOp, Kind, Names, Syscall, TimeUnit, Width};

/// The row for syscall `nr`, if the table has one.
pub fn by_nr(nr: u64) -> Option<&'static Syscall> {
    static INDEX: OnceLock<Vec<Option<&'static Syscall>>> = OnceLock::new();
    let index = INDEX.get_or_init(|| {
        let mut index = vec![None; SYSCALL_NAMES.len()];
        for row in table::SYSCALLS {
            index[row.nr as usize] = Some(row);
        }
        index
    });
    index.get(usize::try_from(nr).ok()?).copied().flatten()
}

/// The class of syscall `nr` ([`Class::Other`] when the table has no row).
pub fn class_of(nr: u64) -> Class {
    by_nr(nr).map_or(Class::Other, |s| s.class)
}

/// Every row, in the table's order.
pub fn all() -> &'static [Syscall] {
    table::SYSCALLS
}

/// The bit that marks a trace's syscall number as i386's (`int 0x80`, a
/// 32-bit program) rather than x86_64's: such a number is the 32-bit table's
/// plus this bit. Only calls with no x86_64 twin keep it (see [`from_i386`]).
pub const I386: u64 = 1 << 32;

/// i386's `mmap2` (192), as the trace numbers it: its result is an address.
pub const MMAP2_I386: u64 = I386 | 192;

/// i386 calls whose arguments mean what their x86_64 namesakes' do, word for
/// word (fds, counts, flags, pointers to bytes or to structs laid out the
/// same): the trace shows them as the x86_64 call, decoded, classed and
/// filtered as such, the way strace names them. A call taking a struct with
/// a `long`, a `time_t` or a pointer in it (`nanosleep`, `readv`, `execve`,
/// `wait4`), or its arguments in another order (`clone`), is not here.
const I386_TWINS: &[&str] = &[
    "read",
    "write",
    "open",
    "openat",
    "close",
    "dup",
    "dup2",
    "dup3",
    "pipe",
    "pipe2",
    "fcntl",
    "ioctl",
    "access",
    "unlink",
    "chdir",
    "brk",
    "munmap",
    "mprotect",
    "poll",
    "socket",
    "socketpair",
    "bind",
    "connect",
    "listen",
    "accept4",
    "getsockname",
    "getpeername",
    "sendto",
    "recvfrom",
    "setsockopt",
    "getsockopt",
    "shutdown",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_wait",
    "eventfd2",
    "getpid",
    "getppid",
    "gettid",
    "kill",
    "tkill",
    "tgkill",
    "pause",
    "sched_yield",
    "exit",
    "exit_group",
];

/// The trace's number for i386 syscall `nr`: its x86_64 twin's, or `nr`
/// marked with [`I386`].
pub fn from_i386(nr: u64) -> u64 {
    usize::try_from(nr)
        .ok()
        .and_then(|i| I386_NAMES.get(i))
        .filter(|name| I386_TWINS.contains(name))
        .and_then(|name| number(name))
        .unwrap_or(nr | I386)
}

/// The trace's number for a call only i386 has (`mmap2`, `socketcall`),
/// marked with [`I386`].
pub fn i386_number(name: &str) -> Option<u64> {
    I386_NAMES
        .iter()
        .position(|n| *n == name)
        .map(|i| i as u64 | I386)
}

/// The name of syscall `nr`: x86_64's, or i386's for a number marked
/// [`I386`] (`syscall_unknown` when unknown).
pub fn name(nr: u64) -> &'static str {
    let (table, i) = if nr & I386 != 0 {
        (&I386_NAMES[..], nr & !I386)
    } else {
        (&SYSCALL_NAMES[..], nr)
    };
    match usize::try_from(i).ok().and_then(|i| table.get(i)) {
        Some(name) if !name.is_empty() => name,
        _ => "syscall_unknown",
    }
}

/// The syscall number for `name`, if it exists on x86_64.
pub fn number(name: &str) -> Option<u64> {
    SYSCALL_NAMES
        .iter()
        .position(|n| *n == name)
        .map(|i| i as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn i386_calls_are_named_from_their_own_table() {
        // i386's write is 4 (x86_64's stat); mmap2 (192) has no twin.
        assert_eq!(name(from_i386(4)), "write");
        assert_eq!(from_i386(4), number("write").unwrap());
        assert_eq!(from_i386(192), 192 | I386);
        assert_eq!(name(from_i386(192)), "mmap2");
        // A struct with a time_t in it: named, never decoded as x86_64's.
        assert_eq!(name(from_i386(162)), "nanosleep");
        assert_ne!(from_i386(162), number("nanosleep").unwrap());
        assert_eq!(name(I386 | 100_000), "syscall_unknown");
        for twin in I386_TWINS {
            assert!(number(twin).is_some(), "{twin} is an x86_64 name");
            assert!(I386_NAMES.contains(twin), "{twin} is an i386 name");
        }
    }

    #[test]
    fn every_row_has_its_number_and_name() {
        for row in all() {
            assert_eq!(name(row.nr), row.name, "row {}", row.nr);
            assert!(
                std::ptr::eq(by_nr(row.nr).unwrap(), row),
                "{} twice",
                row.name
            );
        }
    }

    #[test]
    fn the_generated_names_agree_with_libc() {
        let libc_numbers: &[(libc::c_long, &str)] = &[
            (libc::SYS_read, "read"),
            (libc::SYS_write, "write"),
            (libc::SYS_accept, "accept"),
            (libc::SYS_accept4, "accept4"),
            (libc::SYS_socket, "socket"),
            (libc::SYS_bind, "bind"),
            (libc::SYS_listen, "listen"),
            (libc::SYS_connect, "connect"),
            (libc::SYS_close, "close"),
            (libc::SYS_recvfrom, "recvfrom"),
            (libc::SYS_sendto, "sendto"),
            (libc::SYS_readv, "readv"),
            (libc::SYS_writev, "writev"),
            (libc::SYS_select, "select"),
            (libc::SYS_pselect6, "pselect6"),
            (libc::SYS_poll, "poll"),
            (libc::SYS_ppoll, "ppoll"),
            (libc::SYS_epoll_create1, "epoll_create1"),
            (libc::SYS_epoll_ctl, "epoll_ctl"),
            (libc::SYS_epoll_wait, "epoll_wait"),
            (libc::SYS_epoll_pwait, "epoll_pwait"),
            (libc::SYS_epoll_pwait2, "epoll_pwait2"),
            (libc::SYS_fcntl, "fcntl"),
            (libc::SYS_ioctl, "ioctl"),
            (libc::SYS_clone, "clone"),
            (libc::SYS_clone3, "clone3"),
            (libc::SYS_fork, "fork"),
            (libc::SYS_vfork, "vfork"),
            (libc::SYS_execve, "execve"),
            (libc::SYS_wait4, "wait4"),
            (libc::SYS_waitid, "waitid"),
            (libc::SYS_futex, "futex"),
            (libc::SYS_nanosleep, "nanosleep"),
            (libc::SYS_clock_nanosleep, "clock_nanosleep"),
            (libc::SYS_sched_yield, "sched_yield"),
            (libc::SYS_exit_group, "exit_group"),
            (libc::SYS_kill, "kill"),
            (libc::SYS_rt_sigaction, "rt_sigaction"),
            (libc::SYS_ptrace, "ptrace"),
            (libc::SYS_set_mempolicy_home_node, "set_mempolicy_home_node"),
        ];
        for &(nr, expected) in libc_numbers {
            assert_eq!(name(nr as u64), expected);
            assert_eq!(number(expected), Some(nr as u64));
        }
        assert_eq!(name(9999), "syscall_unknown");
    }

    #[test]
    fn the_generated_errno_names_agree_with_libc() {
        for (errno, expected) in [
            (libc::EPERM, "EPERM"),
            (libc::EAGAIN, "EAGAIN"),
            (libc::EINTR, "EINTR"),
            (libc::ECONNRESET, "ECONNRESET"),
            (libc::EPIPE, "EPIPE"),
            (libc::EMFILE, "EMFILE"),
            (libc::ENOMEM, "ENOMEM"),
            (libc::EDEADLK, "EDEADLK"),
            (libc::ENOTSUP, "EOPNOTSUPP"),
            (libc::EHWPOISON, "EHWPOISON"),
        ] {
            assert_eq!(ERRNO_NAMES[errno as usize], expected);
        }
        assert_eq!(ERRNO_NAMES[512], "ERESTARTSYS");
    }

    #[test]
    fn classes_group_the_families() {
        let class = |n: &str| class_of(number(n).unwrap());
        assert_eq!(class("accept4"), Class::Accept);
        assert_eq!(class("recvmmsg"), Class::Read);
        assert_eq!(class("getrandom"), Class::Other);
        assert!(class("epoll_pwait2").is_readiness_wait());
        assert!(class("epoll_wait_old").is_epoll());
        let row = |n: &str| by_nr(number(n).unwrap()).unwrap();
        assert_eq!(row("recvfrom").len_index(), Some(2));
        assert_eq!(row("readv").len_index(), None, "a count of buffers");
        assert_eq!(row("select").timeout_index(), Some((4, TimeUnit::Timeval)));
        assert_eq!(row("epoll_ctl").fd_index(), Some(0));
    }
}
