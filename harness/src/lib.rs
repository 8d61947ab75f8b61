//! iolab: graded labs on I/O models, and the harness that grades them by
//! tracing system calls.
//!
//! Data flows `tracer` → [`trace::Trace`] → `normalize` (transcripts) and
//! `grade` (checks), with `scenario` driving clients in steps synchronized
//! with the live trace. `labs` holds each lab's scenario and rubric.
//!
//! `unsafe` code lives in `sys` alone, each block with its `// SAFETY:`
//! comment; everything else calls its safe functions.
#![deny(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod analysis;
pub mod explain;
mod fence;
pub mod filter;
pub mod findings;
pub mod grade;
pub mod labs;
pub mod launch;
pub mod limits;
pub mod normalize;
pub mod procfs;
pub mod reference;
pub mod report;
pub mod sandbox;
pub mod scenario;
pub mod solution;
pub mod starter;
#[allow(unsafe_code)]
mod sys;
pub mod syscalls;
pub mod trace;
pub mod tracer;
mod values;
pub mod watchdog;
