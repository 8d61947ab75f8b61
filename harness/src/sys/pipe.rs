//! How much a pipe holds unread (`FIONREAD`): the strace backend asks
//! whether strace's output has all been read.

use std::io;
use std::os::fd::{AsFd, AsRawFd};

/// The bytes waiting in the pipe (or FIFO) `fd`.
pub(crate) fn unread(fd: impl AsFd) -> io::Result<usize> {
    let mut waiting: libc::c_int = 0;
    // SAFETY: FIONREAD writes one c_int through the pointer, which points
    // at a live local; the fd is open for as long as `fd` is borrowed.
    let r = unsafe { libc::ioctl(fd.as_fd().as_raw_fd(), libc::FIONREAD, &mut waiting) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(usize::try_from(waiting).unwrap_or(0))
}
