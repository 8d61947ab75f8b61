//! ptrace requests and waits in the form the native tracer needs.
//!
//! nix turns a wait status into `WaitStatus`, whose signals are the `Signal`
//! enum: a stop or death by a real-time signal (32–64: glibc's `SIGCANCEL`
//! and `SIGSETXID`, `SIGRTMIN`) has no variant there, and `waitpid` fails
//! with `EINVAL` after reaping the status, which is then lost. So the
//! tracer waits and resumes with raw signal numbers through this module
//! (see docs/harness/ptrace-pitfalls.md, "real-time signals"). It also
//! reads `PTRACE_GET_SYSCALL_INFO` (nix's request) into a plain enum: the
//! reply is a C union, read here by its `op`.

use nix::errno::Errno;
use nix::sys::ptrace;
use nix::unistd::Pid;

use crate::trace::Tid;

/// A wait status of a traced task, signals kept as raw numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    /// It exited with this code.
    Exited(Tid, i32),
    /// A signal killed it.
    Killed { tid: Tid, signal: i32, core: bool },
    /// A syscall-entry or -exit stop (`PTRACE_O_TRACESYSGOOD`).
    Syscall(Tid),
    /// A `PTRACE_EVENT_*` stop.
    Event(Tid, i32),
    /// A signal-delivery stop or a group-stop, with its signal.
    Signal(Tid, i32),
    /// Anything else (`WIFCONTINUED`).
    Other,
}

impl Status {
    /// Decodes a status as `waitpid` returns it, for the task `tid`.
    pub(crate) fn from_raw(tid: Tid, status: i32) -> Status {
        if libc::WIFEXITED(status) {
            Status::Exited(tid, libc::WEXITSTATUS(status))
        } else if libc::WIFSIGNALED(status) {
            Status::Killed {
                tid,
                signal: libc::WTERMSIG(status),
                core: libc::WCOREDUMP(status),
            }
        } else if libc::WIFSTOPPED(status) {
            let signal = libc::WSTOPSIG(status);
            let event = status >> 16;
            if signal == libc::SIGTRAP | 0x80 {
                Status::Syscall(tid)
            } else if event != 0 {
                Status::Event(tid, event)
            } else {
                Status::Signal(tid, signal)
            }
        } else {
            Status::Other
        }
    }
}

/// Waits for any traced task of the calling thread (`__WALL | __WNOTHREAD`:
/// never another thread's tracees), keeping signals as numbers.
pub(crate) fn wait_traced() -> Result<Status, Errno> {
    let mut status = 0;
    // SAFETY: waitpid writes one int into `status`, a live local.
    let tid = unsafe { libc::waitpid(-1, &mut status, libc::__WALL | libc::__WNOTHREAD) };
    if tid < 0 {
        return Err(Errno::last());
    }
    Ok(Status::from_raw(tid, status))
}

/// How a stopped tracee goes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Resume {
    /// To its next syscall stop (`PTRACE_SYSCALL`).
    Syscall,
    /// To its next event or seccomp stop (`PTRACE_CONT`).
    Cont,
}

/// Resumes a stopped tracee, delivering `signal` (0: none). `ESRCH` means it
/// was killed meanwhile.
pub(crate) fn resume(tid: Tid, how: Resume, signal: i32) -> Result<(), Errno> {
    let request = match how {
        Resume::Syscall => libc::PTRACE_SYSCALL,
        Resume::Cont => libc::PTRACE_CONT,
    };
    // SAFETY: PTRACE_SYSCALL and PTRACE_CONT read no memory of ours: `addr`
    // is ignored and `data` is the signal number.
    let r = unsafe {
        libc::ptrace(
            request,
            tid,
            std::ptr::null_mut::<libc::c_void>(),
            signal as libc::c_long,
        )
    };
    if r < 0 { Err(Errno::last()) } else { Ok(()) }
}

/// A syscall stop, as `PTRACE_GET_SYSCALL_INFO` describes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SyscallInfo {
    /// A syscall-entry stop or a seccomp stop: the call and its arguments;
    /// `i386`: a 32-bit call (`int 0x80`), numbered from i386's table.
    Entry { nr: u64, args: [u64; 6], i386: bool },
    /// A syscall-exit stop: the return value, and whether it is an error.
    Exit { value: i64, is_error: bool },
}

/// `AUDIT_ARCH_I386` from `linux/audit.h` (`EM_386`, 32-bit, little endian).
const AUDIT_ARCH_I386: u32 = 0x4000_0003;

/// What the stopped task `tid` is doing, if it is at a syscall stop.
pub(crate) fn syscall_info(tid: Tid) -> Option<SyscallInfo> {
    let info = ptrace::syscall_info(Pid::from_raw(tid)).ok()?;
    match info.op {
        libc::PTRACE_SYSCALL_INFO_ENTRY => {
            // SAFETY: op ENTRY means the kernel filled the `entry` member.
            let entry = unsafe { info.u.entry };
            Some(SyscallInfo::Entry {
                nr: entry.nr,
                args: entry.args,
                i386: info.arch == AUDIT_ARCH_I386,
            })
        }
        libc::PTRACE_SYSCALL_INFO_SECCOMP => {
            // SAFETY: op SECCOMP means the kernel filled the `seccomp` member.
            let sc = unsafe { info.u.seccomp };
            Some(SyscallInfo::Entry {
                nr: sc.nr,
                args: sc.args,
                i386: info.arch == AUDIT_ARCH_I386,
            })
        }
        libc::PTRACE_SYSCALL_INFO_EXIT => {
            // SAFETY: op EXIT means the kernel filled the `exit` member.
            let exit = unsafe { info.u.exit };
            Some(SyscallInfo::Exit {
                value: exit.sval,
                is_error: exit.is_error != 0,
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Statuses as the kernel encodes them (`wait(2)`'s layout).
    fn stopped(signal: i32, event: i32) -> i32 {
        (event << 16) | (signal << 8) | 0x7f
    }

    #[test]
    fn real_time_signals_keep_their_numbers() {
        for signal in [32, 33, 34, 64] {
            assert_eq!(
                Status::from_raw(7, stopped(signal, 0)),
                Status::Signal(7, signal)
            );
            assert_eq!(
                Status::from_raw(7, signal),
                Status::Killed {
                    tid: 7,
                    signal,
                    core: false
                }
            );
        }
    }

    #[test]
    fn stops_and_ends_are_told_apart() {
        assert_eq!(Status::from_raw(3, 5 << 8), Status::Exited(3, 5));
        assert_eq!(
            Status::from_raw(3, libc::SIGSEGV | 0x80),
            Status::Killed {
                tid: 3,
                signal: libc::SIGSEGV,
                core: true
            }
        );
        assert_eq!(
            Status::from_raw(3, stopped(libc::SIGTRAP | 0x80, 0)),
            Status::Syscall(3)
        );
        assert_eq!(
            Status::from_raw(3, stopped(libc::SIGTRAP, libc::PTRACE_EVENT_CLONE)),
            Status::Event(3, libc::PTRACE_EVENT_CLONE)
        );
        assert_eq!(
            Status::from_raw(3, stopped(libc::SIGTRAP, libc::PTRACE_EVENT_SECCOMP)),
            Status::Event(3, libc::PTRACE_EVENT_SECCOMP)
        );
        assert_eq!(
            Status::from_raw(3, stopped(libc::SIGSTOP, 0)),
            Status::Signal(3, libc::SIGSTOP)
        );
        assert_eq!(Status::from_raw(3, 0xffff), Status::Other);
    }
}
