//! Trace-synchronized scenarios: clients driven against a traced server in
//! steps that wait on the live trace instead of on the clock.
//!
//! The key step is [`Step::Settle`]: it waits until every task of the server
//! is *blocked* — inside a syscall that has not returned, asleep in the kernel
//! (`/proc/.../stat` says `S` or `D`), with no event for a settle period while
//! the clients hold still. Every client action is taken only after such an
//! observation, so the same server yields the same transcript every run.
//!
//! The step language is in [`steps`], what a run gives in [`outcome`],
//! the driver of one run in [`run`], the traced server and its settle
//! logic in [`server`], the client drivers in [`clients`], what the
//! kernel says about a client's TCP socket in [`sockets`], and how the
//! server's port is found in [`ports`].

mod clients;
mod outcome;
mod ports;
mod run;
mod server;
mod sockets;
mod steps;

pub use clients::ATTEMPTS;
pub use outcome::{Accounting, Limits, Outcome, ScenarioError};
pub use run::run;
pub use server::{OUTPUT_CAP, Server};
pub use steps::{Observed, Reply, Request, Scenario, Settled, Step, Usage, burst_data, upper};
