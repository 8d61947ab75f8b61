//! Lab 7, a GIL-style global lock: a thread per connection, but one lock
//! around all "interpreter" work, released around blocking I/O, so CPU work
//! never runs in parallel while I/O waits overlap.

use std::time::Duration;

use super::{describe_settle, received, slow_burst_size, thread_per_connection};
use crate::syscalls::Class;
use crate::analysis::{connection_threads, evidence, task_name};
use crate::grade::{Check, Kind, Lab, Run, Runs, Verdict, Visibility};
use crate::scenario::{Limits, Observed, Reply, Request, Scenario, Step};
use crate::trace::Record;

/// Two requests at once that take at least this many times as long as
/// one are serialized; at most this many times, overlapped. (Serialized is
/// about 2, overlapped about 1.)
const SERIAL_RATIO: f64 = 1.5;
/// A short request during a long computation is answered "well before it
/// ends" within this fraction of the long one's time.
const SHORT_FRACTION: f64 = 0.5;

fn req(client: &'static str, data: &str, expected: &str) -> Request {
    Request {
        client,
        data: data.as_bytes().to_vec(),
        expected: expected.as_bytes().to_vec(),
    }
}

/// The snapshot's scenario: nothing runs at the same time, so the lock is
/// never contended and the transcript is the same every run.
fn standard() -> Scenario {
    Scenario {
        name: "standard",
        args: &[],
        steps: vec![
            Step::Settle("idle"),
            Step::Connect("A"),
            Step::Send("A", b"hello".to_vec()),
            Step::Expect("A echo", "A", b"HELLO".to_vec()),
            Step::Settle("A silent"),
            Step::Connect("B"),
            Step::Send("B", b"cpu 20\n".to_vec()),
            Step::Expect("B cpu while A is silent", "B", b"ok\n".to_vec()),
            Step::Settle("after B cpu"),
            Step::Send("B", b"io 20\n".to_vec()),
            Step::Expect("B io", "B", b"ok\n".to_vec()),
            Step::Close("A"),
            Step::Close("B"),
            Step::Settle("all closed"),
        ],
    }
}

/// A client that stops reading its replies: A sends more than the socket
/// buffers can hold of its reply, so A's thread blocks in `write`, and B's
/// cpu 20 must still be answered (a lock held across that write would keep
/// it waiting for as long as A does not read).
fn stalled() -> Scenario {
    Scenario {
        name: "stalled-reader",
        args: &[],
        steps: vec![
            Step::Settle("idle"),
            Step::ConnectNarrow("A"),
            Step::Settle("A connected"),
            Step::Stall("A stops reading", "A", slow_burst_size()),
            Step::Connect("B"),
            Step::Send("B", b"cpu 20\n".to_vec()),
            Step::Expect("B cpu while A does not read", "B", b"ok\n".to_vec()),
            Step::Settle("after B cpu"),
            Step::Unstall("A reads its replies", "A"),
            Step::Close("A"),
            Step::Close("B"),
            Step::Settle("all closed"),
        ],
    }
}

/// Requests in flight together, timed against the same requests alone.
fn timing() -> Scenario {
    Scenario {
        name: "timing",
        args: &[],
        steps: vec![
            Step::Settle("idle"),
            Step::Connect("A"),
            Step::Connect("B"),
            Step::Settle("both connected"),
            Step::Requests("one cpu", vec![req("A", "cpu 200\n", "ok\n")]),
            Step::Requests(
                "two cpu",
                vec![req("A", "cpu 200\n", "ok\n"), req("B", "cpu 200\n", "ok\n")],
            ),
            Step::Requests("one io", vec![req("A", "io 200\n", "ok\n")]),
            Step::Requests(
                "two io",
                vec![req("A", "io 200\n", "ok\n"), req("B", "io 200\n", "ok\n")],
            ),
            Step::Requests(
                "short during long",
                vec![req("A", "cpu 500\n", "ok\n"), req("B", "ping", "PING")],
            ),
            Step::Close("A"),
            Step::Close("B"),
            Step::Settle("all closed"),
        ],
    }
}

pub(super) fn lab() -> Lab {
    Lab {
        id: "lab7",
        title: "a GIL-style global lock",
        binary: "lab7",
        scenarios: vec![standard(), timing(), stalled()],
        standard: "standard",
        facts: Some(facts),
        limits: Limits::default(),
        syscalls: super::server_syscalls(),
        checks: vec![
            Check {
                id: "thread-per-connection",
                title: "the main thread accepts, and creates a thread for each connection",
                kind: Kind::Model,
                visibility: Visibility::Visible,
                points: 10,
                hint: "as in lab 5: accept in main, one std::thread per connection",
                judge: |runs| thread_per_connection(runs, &["standard", "timing"]),
            },
            Check {
                id: "lock-contention",
                title: "contention on the lock shows as futex waits and wakes on one word",
                kind: Kind::Model,
                visibility: Visibility::Visible,
                points: 15,
                hint: "every cpu request must take the one global lock; a thread that finds it taken sleeps in the kernel (futex wait) until the holder wakes it",
                judge: lock_contention,
            },
            Check {
                id: "cpu-serialized",
                title: "two cpu 200 requests at once take about as long as both in a row",
                kind: Kind::Protocol,
                visibility: Visibility::Visible,
                points: 20,
                hint: "compute only while holding the lock, so that two computations never run in parallel",
                judge: cpu_serialized,
            },
            Check {
                id: "io-overlap",
                title: "two io 200 requests at once take about as long as one",
                kind: Kind::Protocol,
                visibility: Visibility::Visible,
                points: 15,
                hint: "release the lock before sleeping (and before any blocking call), take it back afterwards",
                judge: io_overlap,
            },
            Check {
                id: "unlocked-blocking",
                title: "the lock is never held across a blocking call: B's cpu 20 completes while A is connected and silent, and while A does not read its replies",
                kind: Kind::Model,
                visibility: Visibility::Visible,
                points: 25,
                hint: "release the lock before read and before write (a write blocks while the client does not read), and take it only to handle what was read",
                judge: unlocked_blocking,
            },
            Check {
                id: "switch-interval",
                title: "long CPU work hands the lock over every few ms: a short request during a cpu 500 is answered well before it ends",
                kind: Kind::Protocol,
                visibility: Visibility::Visible,
                points: 15,
                hint: "like CPython's 5 ms switch interval: while computing, check every few ms whether another thread waits for the lock, and if so let it go first",
                judge: switch_interval,
            },
        ],
    }
}

/// What a timed step observed.
struct Timed<'a> {
    replies: &'a [Reply],
    wall: Option<Duration>,
    /// The trace events from its first request on.
    events: std::ops::Range<usize>,
}

/// The replies, wall time and events of a timed step.
fn timed<'a>(run: &'a Run, label: &str) -> Result<Timed<'a>, Verdict> {
    match run.outcome.observed(label) {
        Some(Observed::Timed {
            replies,
            wall,
            events,
        }) => Ok(Timed {
            replies,
            wall: *wall,
            events: events.clone(),
        }),
        _ => Err(Verdict::fail(
            format!("the scenario did not get as far as \"{label}\""),
            Vec::new(),
        )),
    }
}

/// What came back for the replies that did not come whole.
fn missing(replies: &[Reply]) -> String {
    replies
        .iter()
        .filter(|r| r.after.is_none())
        .map(|r| {
            format!(
                "{} got {:?} instead of {:?}",
                r.client,
                String::from_utf8_lossy(&r.got),
                String::from_utf8_lossy(&r.expected)
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The wall times of a step alone and of the same requests together, and
/// their ratio.
fn ratio(run: &Run, one: &str, two: &str) -> Result<(Duration, Duration, f64), Verdict> {
    let (a, b) = (timed(run, one)?, timed(run, two)?);
    let (r1, r2) = (a.replies, b.replies);
    match (a.wall, b.wall) {
        (Some(a), Some(b)) => Ok((a, b, b.as_secs_f64() / a.as_secs_f64().max(1e-6))),
        _ => Err(Verdict::fail(
            format!(
                "not every request was answered: {}",
                missing(&[r1, r2].concat())
            ),
            Vec::new(),
        )),
    }
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

/// Futex waits (`FUTEX_WAIT*`) in a range of events.
fn futex_waits(run: &Run, events: &std::ops::Range<usize>) -> Vec<usize> {
    let records = &run.outcome.trace.records;
    (0..records.len())
        .filter(|&r| {
            let rec: &Record = &records[r];
            rec.enter.is_some_and(|e| events.contains(&e))
                && rec.is_futex_wait()
                && rec.errno() != Some(libc::EAGAIN)
        })
        .collect()
}

fn lock_contention(runs: &Runs) -> Verdict {
    let run = runs.get("timing");
    let trace = &run.outcome.trace;
    let events = match timed(run, "two cpu") {
        Ok(t) => t.events,
        Err(v) => return v,
    };
    // Between two connection threads, while the two cpu requests ran: a
    // runtime's own hand-offs (a thread start, a join) do not count.
    let threads: Vec<_> = connection_threads(run)
        .into_iter()
        .filter_map(|(_, _, t)| t)
        .collect();
    let records = &trace.records;
    let handoff = trace.futex_handoffs().into_iter().find(|&(wait, wake)| {
        records[wait].enter.is_some_and(|e| events.contains(&e))
            && threads.contains(&records[wait].tid)
            && threads.contains(&records[wake].tid)
    });
    if let Some((wait, wake)) = handoff {
        return Verdict::pass(format!(
            "{} waited on a futex word that {} woke",
            task_name(run, records[wait].tid),
            task_name(run, records[wake].tid)
        ));
    }
    Verdict::fail(
        "while two cpu requests ran, no thread ever waited on a futex that another thread woke: nothing made one computation wait for the other",
        evidence(
            run,
            (0..records.len()).filter(|&r| {
                records[r].enter.is_some_and(|e| events.contains(&e))
                    && (records[r].is_a(&[Class::Read]) || records[r].futex().is_some())
            }),
        ),
    )
}

fn cpu_serialized(runs: &Runs) -> Verdict {
    let run = runs.get("timing");
    let (one, two, r) = match ratio(run, "one cpu", "two cpu") {
        Ok(x) => x,
        Err(v) => return v,
    };
    let Ok(step) = timed(run, "two cpu") else {
        return Verdict::fail("no \"two cpu\" step", Vec::new());
    };
    let waits = futex_waits(run, &step.events);
    if r < SERIAL_RATIO {
        return Verdict::fail(
            format!(
                "two cpu 200 requests at once took {} ms, one alone {} ms: {r:.2} times as long, so they ran in parallel (one after the other is about 2, and at least {SERIAL_RATIO} passes)",
                ms(two),
                ms(one)
            ),
            evidence(run, waits),
        );
    }
    if waits.is_empty() {
        return Verdict::fail(
            format!(
                "two cpu 200 requests took {r:.2} times as long as one, but no thread waited for the lock in the kernel meanwhile"
            ),
            Vec::new(),
        );
    }
    Verdict::pass(format!(
        "two cpu 200 at once: {} ms, one alone: {} ms ({r:.2}×), and the trace shows a thread waiting for the lock",
        ms(two),
        ms(one)
    ))
}

fn io_overlap(runs: &Runs) -> Verdict {
    let run = runs.get("timing");
    let (one, two, r) = match ratio(run, "one io", "two io") {
        Ok(x) => x,
        Err(v) => return v,
    };
    if r > SERIAL_RATIO {
        let Ok(Timed { events, .. }) = timed(run, "two io") else {
            return Verdict::fail("no \"two io\" step", Vec::new());
        };
        let records = &run.outcome.trace.records;
        let waits = futex_waits(run, &events);
        let shown = (0..records.len()).filter(|&i| {
            records[i].enter.is_some_and(|e| events.contains(&e))
                && (records[i].is_a(&[Class::Sleep]) || waits.contains(&i))
        });
        return Verdict::fail(
            format!(
                "two io 200 requests at once took {} ms, one alone {} ms: {r:.2} times as long, so the sleeps did not overlap (at most {SERIAL_RATIO} passes): the lock was held while sleeping",
                ms(two),
                ms(one)
            ),
            evidence(run, shown),
        );
    }
    Verdict::pass(format!(
        "two io 200 at once: {} ms, one alone: {} ms ({r:.2}×)",
        ms(two),
        ms(one)
    ))
}

fn unlocked_blocking(runs: &Runs) -> Verdict {
    let silent = blocked_while(
        runs.get("standard"),
        "B cpu while A is silent",
        "client B sent \"cpu 20\" while client A was connected and silent",
    );
    if !silent.passed {
        return silent;
    }
    let stalled = blocked_while(
        runs.get("stalled-reader"),
        "B cpu while A does not read",
        "client B sent \"cpu 20\" while client A's replies waited for A to read them (A's thread blocked in write)",
    );
    if !stalled.passed {
        return stalled;
    }
    let unstalled = received(
        runs.get("stalled-reader"),
        "A reads its replies",
        "client A sent a message bigger than the socket buffers and read the reply only later",
    );
    if let Err(v) = unstalled {
        return v;
    }
    Verdict::pass(
        "B's cpu 20 completed while A's thread waited in read, and while it waited in write for A to read",
    )
}

/// Whether B's request at step `label` was answered; if not, the calls the
/// server sat in next: a thread blocked in read or write while another
/// waited for the lock in futex.
fn blocked_while(run: &Run, label: &str, what: &str) -> Verdict {
    let Err(v) = received(run, label, what) else {
        return Verdict::pass("answered");
    };
    let Some(blocked) = run.outcome.blocked_at("after B cpu") else {
        let (what, lines) = describe_settle(run, "after B cpu");
        return Verdict::fail(format!("{}; then {what}", v.message), lines);
    };
    let records = &run.outcome.trace.records;
    let io = blocked
        .iter()
        .copied()
        .find(|&r| records[r].is_a(&[Class::Read, Class::Write]));
    let waiter = blocked
        .iter()
        .copied()
        .find(|&r| records[r].futex().is_some());
    match (io, waiter) {
        (Some(a), Some(b)) => Verdict::fail(
            format!(
                "{}. {} sat blocked in a {} while {} waited for the lock in futex: the lock was held across a blocking {}",
                v.message,
                task_name(run, records[a].tid),
                records[a].name(),
                task_name(run, records[b].tid),
                records[a].name()
            ),
            evidence(run, [a, b]),
        ),
        _ => Verdict::fail(
            format!("{}; the server was then blocked in:", v.message),
            evidence(run, blocked.iter().copied()),
        ),
    }
}

fn switch_interval(runs: &Runs) -> Verdict {
    let run = runs.get("timing");
    let replies = match timed(run, "short during long") {
        Ok(t) => t.replies,
        Err(v) => return v,
    };
    let (Some(long), Some(short)) = (replies[0].after, replies[1].after) else {
        return Verdict::fail(
            format!(
                "client A sent cpu 500, then client B sent \"ping\": {}",
                missing(replies)
            ),
            Vec::new(),
        );
    };
    let limit = long.mul_f64(SHORT_FRACTION);
    if short > limit {
        return Verdict::fail(
            format!(
                "client B's \"ping\", sent while A's cpu 500 was running, was answered after {} ms; the cpu 500 took {} ms: the lock was not handed over during the long computation (at most {} ms passes)",
                ms(short),
                ms(long),
                ms(limit)
            ),
            Vec::new(),
        );
    }
    Verdict::pass(format!(
        "B's ping was answered after {} ms, during A's cpu 500 ({} ms)",
        ms(short),
        ms(long)
    ))
}

/// The timings, for reports.
fn facts(runs: &Runs) -> Vec<String> {
    let run = runs.get("timing");
    let mut out = Vec::new();
    if let Ok((one, two, r)) = ratio(run, "one cpu", "two cpu") {
        out.push(format!(
            "cpu 200: one alone {} ms, two at once {} ms ({r:.2}×)",
            ms(one),
            ms(two)
        ));
    }
    if let Ok((one, two, r)) = ratio(run, "one io", "two io") {
        out.push(format!(
            "io 200: one alone {} ms, two at once {} ms ({r:.2}×)",
            ms(one),
            ms(two)
        ));
    }
    if let Ok(Timed { replies, .. }) = timed(run, "short during long")
        && let (Some(long), Some(short)) = (replies[0].after, replies[1].after)
    {
        out.push(format!(
            "a ping during cpu 500: answered after {} ms (the cpu 500 took {} ms)",
            ms(short),
            ms(long)
        ));
    }
    out
}
