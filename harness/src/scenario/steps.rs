//! The step language scenarios are written in, and what each step observed.

use std::time::Duration;

use crate::launch::{Launch, Remap};
use crate::trace::{Termination, Tid};

/// One step of a scenario. Clients are named by a letter (`A`, `B`, ...).
#[derive(Clone, Debug)]
pub enum Step {
    /// Wait until the server is blocked (or busy for `settle_max`, or gone).
    Settle(&'static str),
    Connect(&'static str),
    /// Connect like a client across a real network: a 1400-byte segment
    /// size and a 64 KiB receive buffer (which the kernel doubles), so a
    /// large reply cannot all sit in the kernel's buffers and the server's
    /// writes must wait for room.
    ConnectNarrow(&'static str),
    Send(&'static str, Vec<u8>),
    /// Expect exactly these bytes on a client (label, client, bytes).
    Expect(&'static str, &'static str, Vec<u8>),
    /// Expect nothing on a client once the server has settled (label, client).
    ExpectNothing(&'static str, &'static str),
    Close(&'static str),
    /// Send this many bytes while reading the reply at the same time, and
    /// expect them back upper-cased (label, client, size).
    Burst(&'static str, &'static str, usize),
    /// Like `Burst`, but the client reads slowly: only each time the server
    /// has settled, so the server's writes fill the socket buffers and must
    /// wait for room (label, client, size).
    SlowBurst(&'static str, &'static str, usize),
    /// The client sends this many bytes from a writer of its own and reads
    /// nothing, until the server has settled with its replies waiting for
    /// room (the bytes it could not take still queued at the client, or
    /// all taken): a client that stopped reading. Observes the settle
    /// (label, client, size).
    Stall(&'static str, &'static str, usize),
    /// The stalled client reads its whole reply at last, and expects its
    /// bytes back upper-cased (label, client).
    Unstall(&'static str, &'static str),
    /// With the clients holding still, measure what the server does for
    /// this long: syscalls, `EAGAIN`s, CPU time (label, duration).
    Measure(&'static str, Duration),
    /// Requests in flight together, timed: each is sent once the server
    /// has read the one before (so the first is being worked on when the
    /// next arrives), then every reply is awaited. Observes each reply's
    /// delay and the wall time of the whole (label, requests).
    Requests(&'static str, Vec<Request>),
    /// Send SIGTERM to the server's first process only (as `kill PID`
    /// would) and wait for it to exit; observes how it ended and which
    /// processes outlived it (label).
    Terminate(&'static str),
}

/// One request of a [`Step::Requests`].
#[derive(Clone, Debug)]
pub struct Request {
    pub client: &'static str,
    pub data: Vec<u8>,
    pub expected: Vec<u8>,
}

/// One reply of a [`Step::Requests`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub client: &'static str,
    pub got: Vec<u8>,
    pub expected: Vec<u8>,
    /// From sending the request to the whole expected reply, if it came.
    pub after: Option<Duration>,
}

/// A named list of steps.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: &'static str,
    /// Arguments added to the server's command line for this scenario
    /// (lab 4 runs the same server in two modes).
    pub args: &'static [&'static str],
    pub steps: Vec<Step>,
}

/// What a settle step saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Settled {
    /// Every task was blocked; the records they were blocked in.
    Blocked(Vec<usize>),
    /// The server kept running syscalls (or computing) for `settle_max`:
    /// how many syscalls it made meanwhile, and the last few records.
    Busy { calls: usize, recent: Vec<usize> },
    /// The server spins: every task that is not blocked keeps making calls
    /// that achieve nothing (`EAGAIN`, empty waits, sleeps), each of them
    /// seen at least twice and nothing else for a settle period. How many
    /// syscalls it made meanwhile, and the last few records.
    Spinning { calls: usize, recent: Vec<usize> },
    /// The server is gone.
    Gone,
}

/// What a step observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Observed {
    Settled(Settled),
    /// An action that worked.
    Done,
    /// An action that failed, and why.
    Failed(String),
    /// Bytes received by an `Expect`, `ExpectNothing` or `Burst`.
    Received {
        got: Vec<u8>,
        expected: Vec<u8>,
    },
    /// What a `Measure` step saw.
    Measured(Usage),
    /// What a `Requests` step saw: each reply, and the wall time from the
    /// first request to the last reply when every reply came whole.
    Timed {
        replies: Vec<Reply>,
        wall: Option<Duration>,
        /// The trace events from the first request on.
        events: std::ops::Range<usize>,
    },
    /// What a `Terminate` step saw: how the first process ended (`None`:
    /// it did not within the grace period), and the processes still
    /// running once it had (orphans, unless it never ended).
    Terminated {
        ended: Option<Termination>,
        left: Vec<Tid>,
    },
}

impl Observed {
    /// The observation in the indices of the server's own trace (see
    /// [`crate::launch::server_trace`]): records and events of the
    /// launcher are gone, and so are its processes.
    pub fn remapped(self, remap: &Remap, launch: &Launch) -> Observed {
        let records = |rs: Vec<usize>| rs.into_iter().filter_map(|r| remap.record(r)).collect();
        match self {
            Observed::Settled(settled) => Observed::Settled(match settled {
                Settled::Blocked(rs) => Settled::Blocked(records(rs)),
                Settled::Busy { calls, recent } => Settled::Busy {
                    calls,
                    recent: records(recent),
                },
                Settled::Spinning { calls, recent } => Settled::Spinning {
                    calls,
                    recent: records(recent),
                },
                Settled::Gone => Settled::Gone,
            }),
            Observed::Measured(usage) => Observed::Measured(Usage {
                records: remap.records(usage.records.clone()),
                ..usage
            }),
            Observed::Timed {
                replies,
                wall,
                events,
            } => Observed::Timed {
                replies,
                wall,
                events: remap.events(events),
            },
            Observed::Terminated { ended, mut left } => {
                left.retain(|p| launch.tasks.contains_key(p));
                Observed::Terminated { ended, left }
            }
            other => other,
        }
    }
}

/// What the server did during a `Measure` step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Usage {
    pub wall: Duration,
    /// CPU time of all its tasks (from the scheduler's own accounting).
    pub cpu: Duration,
    /// The records it entered during the measurement.
    pub records: std::ops::Range<usize>,
}

/// The bytes a correct server answers to `data`.
pub fn upper(data: &[u8]) -> Vec<u8> {
    data.to_ascii_uppercase()
}

/// Deterministic lower-case text of `n` bytes, for bursts.
pub fn burst_data(n: usize) -> Vec<u8> {
    let alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789 .,\n";
    let mut x: u32 = 0x1234_5678;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            alphabet[(x % alphabet.len() as u32) as usize]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_data_is_deterministic_lower_case_text() {
        let a = burst_data(4096);
        assert_eq!(a, burst_data(4096));
        assert!(a.iter().all(|b| !b.is_ascii_uppercase()));
        assert_ne!(upper(&a), a);
    }
}
