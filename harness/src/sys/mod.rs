//! The one layer of the library where `unsafe` code lives.
//!
//! Everything above calls safe functions; each `unsafe` block here keeps
//! its `// SAFETY:` comment (`lib.rs` denies `unsafe_code` everywhere else,
//! and undocumented unsafe blocks here). nix's wrappers are used where nix
//! has them; what remains is what nix cannot express: raw wait statuses and
//! signal numbers ([`ptrace`]), the steps a child takes between fork and
//! exec ([`process`], with the seccomp filter's install in [`seccomp`]),
//! `prlimit` on another process ([`rlimit`]), process descriptors
//! ([`pidfd`]), the bytes waiting in a
//! pipe ([`pipe`]) and a TCP socket's queues and `TCP_INFO` ([`socket`]).

pub(crate) mod pidfd;
pub(crate) mod pipe;
pub(crate) mod process;
pub(crate) mod ptrace;
pub(crate) mod rlimit;
pub(crate) mod sandbox;
pub(crate) mod seccomp;
pub(crate) mod socket;
