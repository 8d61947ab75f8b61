//! Lab 2, non-blocking I/O with `EAGAIN` polling: with `O_NONBLOCK` nothing
//! waits, so one thread juggles many sockets, at the price of spinning.

use crate::grade::{Check, Kind, Lab, Runs, Verdict, Visibility};
use crate::scenario::Limits;

use super::{blocked_records, blocking_uses, concurrent, idle_facts, large_replies, many_clients, readiness_calls, single_task, slow_burst};
use crate::syscalls::Class;
use crate::analysis::{evidence};

pub(super) fn lab() -> Lab {
    Lab {
        id: "lab2",
        title: "non-blocking I/O with EAGAIN polling",
        binary: "lab2",
        scenarios: vec![many_clients("standard", &[]), slow_burst("burst", &[])],
        standard: "standard",
        facts: Some(idle_facts),
        limits: Limits::default(),
        syscalls: super::server_syscalls(),
        checks: vec![
            Check {
                id: "nonblocking-sockets",
                title: "the listening socket and every connection are non-blocking",
                kind: Kind::Model,
                visibility: Visibility::Visible,
                points: 15,
                hint: "set O_NONBLOCK on the listening socket and on each accepted connection before using it (fcntl F_GETFL, then F_SETFL with O_NONBLOCK added; or SOCK_NONBLOCK at socket/accept4)",
                judge: nonblocking_sockets,
            },
            Check {
                id: "eagain-seen",
                title: "EAGAIN comes back from accept and from reads",
                kind: Kind::Model,
                visibility: Visibility::Visible,
                points: 15,
                hint: "just try: call accept and read on the non-blocking sockets and treat EAGAIN as \"nothing yet\", instead of asking first whether something is there",
                judge: eagain_seen,
            },
            Check {
                id: "never-blocks",
                title: "no call ever waits in the kernel (except a deliberate sleep)",
                kind: Kind::Model,
                visibility: Visibility::Visible,
                points: 15,
                hint: "every socket the loop touches must be non-blocking, so that accept, read and write return at once",
                judge: never_blocks,
            },
            Check {
                id: "no-readiness-api",
                title: "no select, poll or epoll: the loop polls by itself",
                kind: Kind::Model,
                visibility: Visibility::Visible,
                points: 10,
                hint: "this lab is about polling by hand; select is lab 3 and epoll lab 4",
                judge: no_readiness_api,
            },
            Check {
                id: "single-task",
                title: "one thread serves every connection: no child process, no serving thread",
                kind: Kind::Model,
                visibility: Visibility::Visible,
                points: 10,
                hint: "one loop in one thread serves every client; threads are lab 5",
                judge: single_task,
            },
            Check {
                id: "concurrent",
                title: "B is answered while A is connected and silent",
                kind: Kind::Protocol,
                visibility: Visibility::Visible,
                points: 15,
                hint: "never stay with one client: each pass of the loop tries accept, then every connection once",
                judge: |runs| concurrent(runs, &["standard"]),
            },
            Check {
                id: "large-reply",
                title: "a reply bigger than the send buffer, to a slow reader, arrives whole",
                kind: Kind::Protocol,
                visibility: Visibility::Visible,
                points: 20,
                hint: "a non-blocking write may send only part of the buffer, or fail with EAGAIN when the socket buffer is full: keep the unsent rest and write it on a later pass",
                judge: |runs| large_replies(runs, &["standard"], &["burst"]),
            },
        ],
    }
}

fn nonblocking_sockets(runs: &Runs) -> Verdict {
    for run in runs.iter() {
        let uses = blocking_uses(run);
        if !uses.is_empty() {
            return Verdict::fail(
                "these sockets were used while still blocking (no O_NONBLOCK or SOCK_NONBLOCK before):",
                evidence(run, uses),
            );
        }
    }
    Verdict::pass("every socket was non-blocking before its first accept or read")
}

fn eagain_seen(runs: &Runs) -> Verdict {
    let run = runs.get("standard");
    let eagain = |classes: &[Class]| {
        run.outcome
            .trace
            .records
            .iter()
            .any(|r| r.is_a(classes) && r.errno() == Some(libc::EAGAIN))
    };
    let missing: Vec<&str> = [
        ("accept", eagain(&[Class::Accept])),
        ("a read", eagain(&[Class::Read])),
    ]
    .iter()
    .filter(|(_, seen)| !seen)
    .map(|(what, _)| *what)
    .collect();
    if missing.is_empty() {
        return Verdict::pass("accept and reads both returned EAGAIN while nothing was there");
    }
    Verdict::fail(
        format!(
            "{} never returned EAGAIN: a non-blocking server finds out that nothing is there by trying the call",
            missing.join(" and ")
        ),
        Vec::new(),
    )
}

fn never_blocks(runs: &Runs) -> Verdict {
    for run in runs.iter() {
        let blocked = blocked_records(run);
        if !blocked.is_empty() {
            return Verdict::fail(
                "the server was found waiting inside these calls while the clients held still (shown with what they returned once woken):",
                evidence(run, blocked),
            );
        }
    }
    Verdict::pass("no call waited")
}

fn no_readiness_api(runs: &Runs) -> Verdict {
    for run in runs.iter() {
        let used = readiness_calls(run);
        if !used.is_empty() {
            return Verdict::fail(
                "the server asked the kernel which sockets are ready:",
                evidence(run, used),
            );
        }
    }
    Verdict::pass("no readiness API was used")
}
