//! Installing a seccomp-bpf filter on the calling thread (and so on
//! everything it starts). The program itself is built by the native tracer
//! (`tracer::ptrace::seccomp`); this is the system call that loads it.

use std::io;

use nix::sys::prctl;

/// Installs `filter`. Async-signal-safe: two system calls on data prepared
/// before the fork, no allocation; for a child between fork and exec.
pub(crate) fn install(filter: &[libc::sock_filter]) -> io::Result<()> {
    let prog = libc::sock_fprog {
        len: filter.len() as libc::c_ushort,
        filter: filter.as_ptr().cast_mut(),
    };
    // Required to install a filter without CAP_SYS_ADMIN; it only stops the
    // program gaining privileges through set-user-ID executables.
    prctl::set_no_new_privs()?;
    // SAFETY: `prog` points at `filter`, which outlives the call; the
    // kernel copies the program before returning and writes nothing.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            &prog as *const libc::sock_fprog,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
