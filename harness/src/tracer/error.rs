//! Why tracing could not start or go on, under either backend.
//!
//! The error names no backend's types: the strace backend's decoding
//! error arrives boxed (its `From` impl lives in `tracer::strace`), so that
//! this module, which both backends use, depends on neither.

use nix::errno::Errno;

/// Why tracing could not start or go on.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error(
        "the strace backend needs strace 6.0 or newer, and `strace` is not installed: install the `strace` package (apt install strace, dnf install strace), or use the native backend (the default)"
    )]
    StraceMissing,
    #[error(
        "strace {version} is too old for the strace backend, which reads strace 6.x output: install a newer `strace` package, or use the native backend (the default)"
    )]
    StraceTooOld { version: String },
    #[error("strace failed: {0}")]
    Strace(String),
    /// strace printed something the decoder cannot read (a
    /// [`StreamError`](crate::tracer::strace::StreamError)).
    #[error("cannot decode strace's output: {0}")]
    StraceOutput(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("cannot run `{program}`: {error}")]
    Spawn {
        program: String,
        error: std::io::Error,
    },
    #[error(
        "ptrace failed on {what}: {errno} (is ptrace allowed here? see /proc/sys/kernel/yama/ptrace_scope)"
    )]
    Ptrace { what: &'static str, errno: Errno },
    #[error("the tracer thread died: {0}")]
    Thread(String),
}
