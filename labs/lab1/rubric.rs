//! Lab 1, blocking I/O: `accept` and `read` park the only thread, so client B
//! waits until client A leaves.

use super::{
    blocked_in, describe_settle, diff, ended, eof_spin, nonblocking_switches, single_task,
};
use crate::syscalls::Class;
use crate::analysis::{evidence};
use crate::normalize::FdRole;
use crate::grade::{Check, Kind, Lab, Runs, Verdict, Visibility};
use crate::scenario::{Limits, Observed, Scenario, Step};

/// The size of the burst a correct server echoes whole.
pub const BURST: usize = 256 * 1024;

fn standard() -> Scenario {
    Scenario {
        name: "standard",
        args: &[],
        steps: vec![
            Step::Settle("idle"),
            Step::Connect("A"),
            Step::Settle("A connected"),
            Step::Send("A", b"hello".to_vec()),
            Step::Expect("A echo", "A", b"HELLO".to_vec()),
            Step::Settle("A silent"),
            Step::Connect("B"),
            Step::Send("B", b"world".to_vec()),
            Step::ExpectNothing("B waits", "B"),
            Step::Close("A"),
            Step::Expect("B after A closes", "B", b"WORLD".to_vec()),
            Step::Close("B"),
            Step::Settle("all closed"),
        ],
    }
}

fn burst() -> Scenario {
    Scenario {
        name: "burst",
        args: &[],
        steps: vec![
            Step::Settle("idle"),
            Step::Connect("A"),
            Step::Settle("A connected"),
            Step::Burst("burst", "A", BURST),
            Step::Close("A"),
            Step::Settle("all closed"),
        ],
    }
}

pub(super) fn lab() -> Lab {
    Lab {
        id: "lab1",
        title: "blocking I/O",
        binary: "lab1",
        scenarios: vec![standard(), burst()],
        standard: "standard",
        facts: None,
        limits: Limits::default(),
        syscalls: super::server_syscalls(),
        checks: vec![
            Check {
                id: "blocking-sockets",
                title: "listening and connection sockets are blocking",
                kind: Kind::Model,
                visibility: Visibility::Visible,
                points: 15,
                hint: "create sockets without SOCK_NONBLOCK and never set O_NONBLOCK (fcntl) or FIONBIO (ioctl) on them; in this lab waiting happens inside accept and read",
                judge: blocking_sockets,
            },
            Check {
                id: "accept-blocks",
                title: "accept blocks while no client is connecting",
                kind: Kind::Model,
                visibility: Visibility::Visible,
                points: 15,
                hint: "call accept on the listening socket directly and let it wait; do not wait in poll/select/sleep first",
                judge: accept_blocks,
            },
            Check {
                id: "read-blocks",
                title: "read blocks on a connected but silent client",
                kind: Kind::Model,
                visibility: Visibility::Visible,
                points: 15,
                hint: "call read (or recv) on the connection directly and let it wait for data; do not poll or sleep before it",
                judge: read_blocks,
            },
            Check {
                id: "head-of-line",
                title: "head-of-line blocking: B waits until A leaves",
                kind: Kind::Model,
                visibility: Visibility::Visible,
                points: 20,
                hint: "serve one client at a time in the only thread: accept, read/write until the client closes, close, then accept the next",
                judge: head_of_line,
            },
            Check {
                id: "echo",
                title: "answers every chunk upper-cased, including a 256 KiB burst",
                kind: Kind::Protocol,
                visibility: Visibility::Visible,
                points: 20,
                hint: "write back exactly the bytes read, upper-cased, and loop until a write has sent all of them",
                judge: echo,
            },
            Check {
                id: "single-task",
                title: "one thread serves every connection: no child process, no serving thread",
                kind: Kind::Model,
                visibility: Visibility::Visible,
                points: 15,
                hint: "lab 1 is the single-threaded model: no threads, no child processes (those are labs 5 and 6)",
                judge: single_task,
            },
        ],
    }
}

fn blocking_sockets(runs: &Runs) -> Verdict {
    let mut lines = Vec::new();
    for run in runs.iter() {
        let offending = nonblocking_switches(run)
            .into_iter()
            .filter(|s| s.on)
            .map(|s| s.record);
        lines.extend(evidence(run, offending));
    }
    lines.dedup();
    if lines.is_empty() {
        Verdict::pass("no socket was made non-blocking")
    } else {
        Verdict::fail(
            "the server made a socket non-blocking, so accept or read return EAGAIN instead of waiting:",
            lines,
        )
    }
}

fn accept_blocks(runs: &Runs) -> Verdict {
    let run = runs.get("standard");
    if blocked_in(run, "idle", &[Class::Accept], FdRole::Listener(1)) {
        return Verdict::pass("accept on L was blocked while no client was connecting");
    }
    let (what, lines) = describe_settle(run, "idle");
    Verdict::fail(
        format!(
            "while no client was connecting, the server should sit blocked in accept(L, ...); instead {what}"
        ),
        lines,
    )
}

fn read_blocks(runs: &Runs) -> Verdict {
    let run = runs.get("standard");
    if blocked_in(run, "A connected", &[Class::Read], FdRole::Conn(1)) {
        return Verdict::pass("read on C1 was blocked while client A was silent");
    }
    let (what, lines) = describe_settle(run, "A connected");
    Verdict::fail(
        format!(
            "with client A connected but silent, the server should sit blocked in read(C1, ...); instead {what}"
        ),
        lines,
    )
}

fn head_of_line(runs: &Runs) -> Verdict {
    let run = runs.get("standard");
    let early = match run.outcome.observed("B waits") {
        Some(Observed::Received { got, .. }) => got.clone(),
        _ => {
            return Verdict::fail(
                format!(
                    "the scenario did not get as far as client B ({})",
                    ended(run)
                ),
                Vec::new(),
            );
        }
    };
    if !early.is_empty() {
        // Show where B's bytes were read while A was still connected.
        let close_a = run.outcome.trace.step("A: close").unwrap_or(usize::MAX);
        let reads = run
            .outcome
            .trace
            .records
            .iter()
            .enumerate()
            .filter(|(r, rec)| {
                rec.is_a(&[Class::Read])
                    && rec.exit.is_some_and(|x| x < close_a)
                    && rec.fd_arg(0).and_then(|fd| run.transcript.fd_role(*r, fd)) == Some(FdRole::Conn(2))
            });
        return Verdict::fail(
            format!(
                "client B got {:?} back while client A was still connected and silent: B was served concurrently, which a blocking single-threaded server cannot do",
                String::from_utf8_lossy(&early)
            ),
            evidence(run, reads.map(|(r, _)| r)),
        );
    }
    // Whether B was answered, not what it got: the echo check judges the
    // bytes, so a server speaking another protocol is judged on its model.
    match run.outcome.observed("B after A closes") {
        Some(Observed::Received { got, .. }) if !got.is_empty() => {
            Verdict::pass("B was answered only after A closed")
        }
        Some(Observed::Received { got, expected }) => {
            let said = format!(
                "after client A closed, client B should get its answer; {} ({})",
                diff(got, expected),
                ended(run)
            );
            match eof_spin(run, FdRole::Conn(1)) {
                Some((why, lines)) => Verdict::fail(format!("{said}. {why}"), lines),
                None => Verdict::fail(said, Vec::new()),
            }
        }
        _ => Verdict::fail("the scenario did not get as far as closing A", Vec::new()),
    }
}

fn echo(runs: &Runs) -> Verdict {
    let standard = runs.get("standard");
    match standard.outcome.observed("A echo") {
        Some(Observed::Received { got, expected }) if got == expected => {}
        Some(Observed::Received { got, expected }) => {
            return Verdict::fail(
                format!(
                    "client A sent \"hello\": {} ({})",
                    diff(got, expected),
                    ended(standard)
                ),
                Vec::new(),
            );
        }
        _ => {
            return Verdict::fail(
                format!("client A never got an answer ({})", ended(standard)),
                Vec::new(),
            );
        }
    }
    let run = runs.get("burst");
    match run.outcome.observed("burst") {
        Some(Observed::Received { got, expected }) if got == expected => {
            Verdict::pass("every byte came back upper-cased and in order")
        }
        Some(Observed::Received { got, expected }) => Verdict::fail(
            format!(
                "a client sent {} bytes and read the answer meanwhile: {} ({})",
                expected.len(),
                diff(got, expected),
                ended(run)
            ),
            Vec::new(),
        ),
        other => Verdict::fail(
            format!("the burst could not run: {other:?} ({})", ended(run)),
            Vec::new(),
        ),
    }
}
