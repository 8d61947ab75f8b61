//! The strace backend: the system's `strace` as a second tracer.
//!
//! Many instructors and students read strace output already, so iolab can
//! run under it as well as under its own ptrace tracer, and the two must
//! agree: strace's text is parsed ([`syntax`]), decoded as it streams into
//! the same events the native tracer sends ([`stream`]), with each argument
//! turned into the same value ([`convert`]). [`format`] goes the other way:
//! native events printed in strace's notation (`iolab trace --format strace`).

mod convert;
pub mod format;
mod run;
pub mod stream;
pub mod syntax;

pub use stream::{Decoder, StreamError, decode_log};
pub use syntax::{ParseError, parse_line};

pub(crate) use run::trace_thread;
