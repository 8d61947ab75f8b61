//! iolab: graded labs on I/O models, and the harness that grades them by
//! tracing system calls.
//!
//! Data flows `tracer` → [`trace::Trace`] → `normalize` (transcripts) and
//! `grade` (checks), with `scenario` driving clients in steps synchronized
//! with the live trace. `labs` holds each lab's scenario and rubric.

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
pub mod scenario;
pub mod starter;
pub mod strace;
mod sys;
mod tables;
pub mod trace;
pub mod tracer;
