//! Resource limits set on another, running process (`prlimit`, which nix
//! does not wrap): under strace, the program gets its CPU limit once it
//! runs, since strace itself must not carry it. The calling process's own
//! limits go through nix (`getrlimit`, `setrlimit`).

use nix::errno::Errno;
use nix::sys::resource::Resource;

use crate::trace::Tid;

/// Sets `resource`'s soft and hard limits on the process `pid`.
pub(crate) fn set_on(pid: Tid, resource: Resource, soft: u64, hard: u64) -> Result<(), Errno> {
    let limit = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: prlimit reads one rlimit struct through the pointer, which
    // points at a live local, and writes nothing (the old-limit pointer is
    // null).
    let r = unsafe {
        libc::prlimit(
            pid,
            resource as libc::__rlimit_resource_t,
            &limit,
            std::ptr::null_mut(),
        )
    };
    Errno::result(r).map(drop)
}
