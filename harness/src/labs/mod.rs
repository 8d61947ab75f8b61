//! The labs: each one's scenarios and rubric, and helpers their checks share.

mod lab1;

use crate::grade::{Lab, Run};
use crate::scenario::{Observed, Settled};
use crate::trace::{Arg, EventKind, Termination};

/// Every lab, in order.
pub fn all() -> Vec<Lab> {
    vec![lab1::lab()]
}

/// The lab called `id` (`lab1`, or just `1`).
pub fn find(id: &str) -> Option<Lab> {
    let id = id.strip_prefix("lab").unwrap_or(id);
    all()
        .into_iter()
        .find(|l| l.id.strip_prefix("lab") == Some(id))
}

/// Syscalls that read from a socket.
const READS: &[&str] = &["read", "readv", "recvfrom", "recvmsg", "recvmmsg"];

/// At most this many trace lines back a verdict.
const EVIDENCE_LINES: usize = 6;

/// The transcript lines of records, without repeats, bounded.
fn evidence(run: &Run, records: impl IntoIterator<Item = usize>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut more = 0;
    for r in records {
        let text = run.transcript.record_text(r).to_string();
        if out.contains(&text) {
            continue;
        }
        if out.len() < EVIDENCE_LINES {
            out.push(text);
        } else {
            more += 1;
        }
    }
    if more > 0 {
        out.push(format!("... and {more} more"));
    }
    out
}

/// What the server was doing at a settle step, in words and trace lines.
fn describe_settle(run: &Run, label: &str) -> (String, Vec<String>) {
    match run.outcome.observed(label) {
        Some(Observed::Settled(Settled::Blocked(records))) => (
            "it was blocked in:".to_string(),
            evidence(run, records.iter().copied()),
        ),
        Some(Observed::Settled(Settled::Busy { calls, recent })) => (
            format!(
                "it never blocked: it kept running ({calls} syscalls while the clients held still); the last ones:"
            ),
            evidence(run, recent.iter().copied()),
        ),
        Some(Observed::Settled(Settled::Spinning { calls, recent })) => (
            format!(
                "it never blocked: it kept polling, {calls} syscalls that found nothing to do while the clients held still; the last ones:"
            ),
            evidence(run, recent.iter().copied()),
        ),
        Some(Observed::Settled(Settled::Gone)) => {
            (format!("the server was gone ({}).", ended(run)), Vec::new())
        }
        _ => ("the scenario did not get that far.".to_string(), Vec::new()),
    }
}

/// How the server ended on its own, for messages.
fn ended(run: &Run) -> String {
    match run.outcome.ended_by_itself {
        Some(t @ Termination::Exited(_)) => format!("the server {t}"),
        Some(t) => format!("the server was {t}"),
        None => "the server was still running".to_string(),
    }
}

/// The blocked records of a settle step that are `names` on the fd named `fd`.
fn blocked_in(run: &Run, label: &str, names: &[&str], fd: &str) -> bool {
    run.outcome.blocked_at(label).is_some_and(|records| {
        records.iter().any(|&r| {
            let rec = &run.outcome.trace.records[r];
            rec.is(names) && rec.fd_arg(0).and_then(|f| run.transcript.fd_name(r, f)) == Some(fd)
        })
    })
}

/// Records that created a thread or process, and spawn events.
fn spawns(run: &Run) -> Vec<usize> {
    run.outcome
        .trace
        .records
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            r.is(&["clone", "clone3", "fork", "vfork"])
                && matches!(r.ret, Some(crate::trace::Ret::Ok(Arg::Tid(t))) if t > 0)
        })
        .map(|(i, _)| i)
        .collect()
}

/// Whether any task was spawned during the run.
fn spawned_anything(run: &Run) -> bool {
    run.outcome
        .trace
        .events
        .iter()
        .any(|e| matches!(e.kind, EventKind::Spawn { .. }))
}

/// Describes how received bytes differ from the expected ones.
fn diff(got: &[u8], expected: &[u8]) -> String {
    if got == expected {
        return "identical".to_string();
    }
    let first = got
        .iter()
        .zip(expected)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(expected.len()));
    let show = |b: &[u8]| {
        let end = (first + 16).min(b.len());
        format!("{:?}", String::from_utf8_lossy(&b[first.min(end)..end]))
    };
    format!(
        "expected {} bytes, got {}; first difference at byte {first}: expected {}, got {}",
        expected.len(),
        got.len(),
        show(expected),
        show(got)
    )
}
