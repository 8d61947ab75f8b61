//! Process file descriptors (`pidfd_open`, `pidfd_send_signal`, Linux 5.3),
//! which nix does not wrap: the watchdog waits on its harness with one, so
//! that a poll wakes the moment the harness ends and a signal can never
//! reach a process that reused its pid.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::signal::Signal;

use crate::trace::Tid;

/// A descriptor for the live process `pid`, readable once it has ended.
pub(crate) fn open(pid: Tid) -> Result<OwnedFd, Errno> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor
    // or -1; no memory is passed.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    let fd = Errno::result(fd)? as libc::c_int;
    // SAFETY: the kernel just returned `fd` as a new descriptor that
    // nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Sends `signal` to the process `pidfd` refers to.
pub(crate) fn send_signal(pidfd: &OwnedFd, signal: Signal) -> Result<(), Errno> {
    // SAFETY: pidfd_send_signal reads no memory when its siginfo pointer is
    // null (the kernel then fills in a plain kill's); `pidfd` is a live
    // descriptor this process owns.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal as libc::c_int,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    Errno::result(r).map(drop)
}
