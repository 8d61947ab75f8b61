//! Lab 7, a GIL-style global lock: a thread per connection, but one lock
//! around all "interpreter" work, released around blocking I/O, so CPU work
//! never runs in parallel while I/O waits overlap.

use std::time::Duration;

use super::{describe_settle, received, slow_burst_size, thread_per_connection};
use crate::syscalls::Class;
use crate::analysis::{connection_threads, evidence, task_name};
use crate::grade::{Check, Kind, Lab, Run, Runs, Verdict, Visibility};
use crate::scenario::{ATTEMPTS, Limits, Observed, Reply, Request, Scenario, Step};
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

/// One request's work as the trace shows it: from the serving task's read
/// of the request to its write of the reply. Measured in the trace, not at
/// the clients, so that a loaded machine's late client (sending late,
/// reading late) does not stretch or shrink it.
struct Work {
    read: usize,
    write: usize,
    from: Duration,
    to: Duration,
}

impl Work {
    fn span(&self) -> Duration {
        self.to.saturating_sub(self.from)
    }
}

/// Each request's work in step `label`, in the order they were sent (each
/// `data` read after the one before), or `None` if one of them was not
/// read or not answered.
fn works(run: &Run, label: &str, data: &[&str]) -> Option<Vec<Work>> {
    let step = timed(run, label).ok()?;
    let records = &run.outcome.trace.records;
    let mut after = step.events.start;
    let mut out = Vec::new();
    for d in data {
        let d = d.as_bytes();
        let read = (0..records.len())
            .filter(|&r| {
                let rec = &records[r];
                rec.exit
                    .is_some_and(|e| e >= after && step.events.contains(&e))
                    && rec.read_the_start_of(d)
            })
            .min_by_key(|&r| records[r].exit)?;
        let read_exit = records[read].exit?;
        after = read_exit + 1;
        let tid = records[read].tid;
        let write = (0..records.len())
            .filter(|&r| {
                records[r].tid == tid
                    && records[r].is_a(&[Class::Write])
                    && records[r].enter.is_some_and(|e| e > read_exit)
            })
            .min_by_key(|&r| records[r].enter)?;
        out.push(Work {
            read,
            write,
            from: records[read].exited_at?,
            to: records[write].entered_at?,
        });
    }
    Some(out)
}

/// How long two requests were worked on at the same time (`None`: never),
/// and from the first read to the last reply.
fn overlap(two: &[Work]) -> (Option<Duration>, Duration) {
    let start = two.iter().map(|w| w.from).min().unwrap_or_default();
    let end = two.iter().map(|w| w.to).max().unwrap_or_default();
    let last_start = two.iter().map(|w| w.from).max().unwrap_or_default();
    let first_end = two.iter().map(|w| w.to).min().unwrap_or_default();
    (
        (first_end > last_start).then(|| first_end - last_start),
        end.saturating_sub(start),
    )
}

/// What the trace shows of a request alone and of two at once: one
/// alone's work, the two's from the first read to the last reply, and
/// their ratio; or the verdict when the two were never worked on at once.
fn trace_ratio(
    run: &Run,
    one: &str,
    two: &str,
    data: &str,
) -> Result<(Duration, Duration, f64), Verdict> {
    // Every reply first, as the clients saw them.
    let at_clients = ratio(run, one, two)?;
    let (Some(alone), Some(both)) = (works(run, one, &[data]), works(run, two, &[data, data]))
    else {
        return Ok(at_clients);
    };
    let (together, whole) = overlap(&both);
    if together.is_none() {
        return Err(Verdict::fail(
            format!(
                "the two {} requests of \"{two}\" were never worked on at once ({} tries): the second was read {} ms after the first's reply was written, so the server did not take it in while it worked on the first",
                data.trim(),
                ATTEMPTS,
                ms(both[1].from.saturating_sub(both[0].to))
            ),
            evidence(run, [both[0].read, both[0].write, both[1].read]),
        ));
    }
    let alone = alone[0].span();
    Ok((alone, whole, whole.as_secs_f64() / alone.as_secs_f64().max(1e-6)))
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
    let (one, two, r) = match trace_ratio(run, "one cpu", "two cpu", "cpu 200\n") {
        Ok(x) => x,
        Err(v) => return v,
    };
    let Ok(step) = timed(run, "two cpu") else {
        return Verdict::fail("no \"two cpu\" step", Vec::new());
    };
    let waits = futex_waits(run, &step.events);
    if r < SERIAL_RATIO {
        let shown: Vec<usize> = works(run, "two cpu", &["cpu 200\n", "cpu 200\n"])
            .unwrap_or_default()
            .iter()
            .flat_map(|w| [w.read, w.write])
            .chain(waits)
            .collect();
        return Verdict::fail(
            format!(
                "two cpu 200 requests worked on at once took {} ms from the server's read of the first to its reply to the last, one alone {} ms: {r:.2} times as long, so they ran in parallel (one after the other is about 2, and at least {SERIAL_RATIO} passes)",
                ms(two),
                ms(one)
            ),
            evidence(run, sorted(run, shown)),
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
        "two cpu 200 at once: {} ms, one alone: {} ms ({r:.2}×, in the trace), and the trace shows a thread waiting for the lock",
        ms(two),
        ms(one)
    ))
}

fn io_overlap(runs: &Runs) -> Verdict {
    let run = runs.get("timing");
    let (one, two, r) = match trace_ratio(run, "one io", "two io", "io 200\n") {
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
                "two io 200 requests worked on at once took {} ms from the server's read of the first to its reply to the last, one alone {} ms: {r:.2} times as long, so the sleeps did not overlap (at most {SERIAL_RATIO} passes): the lock was held while sleeping",
                ms(two),
                ms(one)
            ),
            evidence(run, shown),
        );
    }
    Verdict::pass(format!(
        "two io 200 at once: {} ms, one alone: {} ms ({r:.2}×, in the trace)",
        ms(two),
        ms(one)
    ))
}

/// Records in the order they were entered.
fn sorted(run: &Run, mut records: Vec<usize>) -> Vec<usize> {
    let all = &run.outcome.trace.records;
    records.sort_by_key(|&r| all[r].enter);
    records.dedup();
    records
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
    if replies.iter().any(|r| r.after.is_none()) {
        return Verdict::fail(
            format!(
                "client A sent cpu 500, then client B sent \"ping\": {}",
                missing(replies)
            ),
            Vec::new(),
        );
    }
    let Some(w) = works(run, "short during long", &["cpu 500\n", "ping"]) else {
        return Verdict::fail(
            "the trace shows no read of A's cpu 500 and B's ping followed by their replies",
            Vec::new(),
        );
    };
    let (long, short) = (w[0].span(), w[1].span());
    let limit = long.mul_f64(SHORT_FRACTION);
    if short > limit {
        return Verdict::fail(
            format!(
                "client B's \"ping\", read while A's cpu 500 was running, was answered {} ms after the server read it; the cpu 500 took {} ms: the lock was not handed over during the long computation (at most {} ms passes)",
                ms(short),
                ms(long),
                ms(limit)
            ),
            evidence(run, sorted(run, vec![w[0].read, w[1].read, w[1].write, w[0].write])),
        );
    }
    Verdict::pass(format!(
        "B's ping was answered {} ms after it was read, during A's cpu 500 ({} ms)",
        ms(short),
        ms(long)
    ))
}

/// The timings, for reports: the trace's (from the server's read of a
/// request to its write of the reply) and the clients' (from sending to
/// the whole reply).
fn facts(runs: &Runs) -> Vec<String> {
    let run = runs.get("timing");
    let mut out = Vec::new();
    for (what, one, two, data) in [
        ("cpu 200", "one cpu", "two cpu", "cpu 200\n"),
        ("io 200", "one io", "two io", "io 200\n"),
    ] {
        let traced = trace_ratio(run, one, two, data).ok();
        let clients = ratio(run, one, two).ok();
        if let (Some((a, b, r)), Some((c, d, q))) = (traced, clients) {
            out.push(format!(
                "{what}: one alone {} ms, two at once {} ms ({r:.2}×) in the trace; {} ms and {} ms ({q:.2}×) at the clients",
                ms(a),
                ms(b),
                ms(c),
                ms(d)
            ));
        }
    }
    if let Some(w) = works(run, "short during long", &["cpu 500\n", "ping"]) {
        out.push(format!(
            "a ping during cpu 500: answered {} ms after it was read (the cpu 500 took {} ms)",
            ms(w[1].span()),
            ms(w[0].span())
        ));
    }
    out
}
