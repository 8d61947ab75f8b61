//! Lab 5, threads: one OS thread per connection, so plain blocking calls
//! serve many clients at once; the threads share one address space.

use super::{blocked_in, concurrent, describe_settle, large_replies, many_clients, nonblocking_switches, received, slow_burst, thread_per_connection};
use crate::syscalls::Class;
use crate::analysis::{connection_threads, evidence, fd_role, from_first_socket, main_task, task_name};
use crate::normalize::FdRole;
use crate::grade::{Check, Kind, Lab, Run, Runs, Verdict, Visibility};
use crate::scenario::{Limits, Scenario, Step};
use crate::trace::{EventKind, Tid};

/// The clients of the scenario that opens and closes many connections.
const MANY: [&str; 20] = [
    "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9", "c10", "c11", "c12", "c13", "c14", "c15",
    "c16", "c17", "c18", "c19", "c20",
];

/// Twenty clients, one after another: connect, one request, close.
fn many() -> Scenario {
    let mut steps = vec![Step::Settle("idle")];
    for c in MANY {
        steps.extend([
            Step::Connect(c),
            Step::Send(c, b"ping".to_vec()),
            Step::Expect(c, c, b"PING".to_vec()),
            Step::Close(c),
        ]);
    }
    steps.push(Step::Settle("all closed"));
    Scenario {
        name: "many",
        args: &[],
        steps,
    }
}

pub(super) fn lab() -> Lab {
    Lab {
        id: "lab5",
        title: "threads: one thread per connection",
        binary: "lab5",
        scenarios: vec![
            many_clients("standard", &[]),
            slow_burst("burst", &[]),
            many(),
        ],
        standard: "standard",
        facts: None,
        limits: Limits::default(),
        syscalls: super::server_syscalls(),
        checks: vec![
            Check {
                id: "thread-per-connection",
                title: "the main thread accepts, and creates a thread (CLONE_VM|CLONE_THREAD) for each connection",
                kind: Kind::Model,
                visibility: Visibility::Visible,
                points: 20,
                hint: "loop in the main thread: accept, then std::thread::spawn a thread that owns the connection, then accept again",
                judge: |runs| thread_per_connection(runs, &["standard", "many"]),
            },
            Check {
                id: "own-thread",
                title: "each connection is read and written only by its own thread",
                kind: Kind::Model,
                visibility: Visibility::Visible,
                points: 10,
                hint: "move the connection into the thread created for it; no other thread (main, a shared writer) touches it",
                judge: own_thread,
            },
            Check {
                id: "main-keeps-connections",
                title: "main never closes a connection it handed to a thread",
                kind: Kind::Model,
                visibility: Visibility::Visible,
                points: 10,
                hint: "threads share one descriptor table: after creating the thread, main must not close the connection (unlike a forking server's parent, which closes its own copy); the thread closes it when read returns 0",
                judge: main_keeps_connections,
            },
            Check {
                id: "blocking",
                title: "connection threads use plain blocking calls",
                kind: Kind::Model,
                visibility: Visibility::Visible,
                points: 15,
                hint: "no O_NONBLOCK and no polling loop: a thread of its own can simply wait in read",
                judge: blocking,
            },
            Check {
                id: "concurrent",
                title: "B is answered while A is connected and silent",
                kind: Kind::Protocol,
                visibility: Visibility::Visible,
                points: 15,
                hint: "the main thread must go back to accept at once, leaving the connection to its thread",
                judge: |runs| concurrent(runs, &["standard"]),
            },
            Check {
                id: "no-leak",
                title: "after 20 connections open and close, their 20 threads have exited",
                kind: Kind::Model,
                visibility: Visibility::Visible,
                points: 15,
                hint: "when read returns 0, close the connection and return from the thread's function",
                judge: no_leak,
            },
            Check {
                id: "large-reply",
                title: "a 12 KiB message and a reply bigger than the send buffer, to a slow reader, arrive whole",
                kind: Kind::Protocol,
                visibility: Visibility::Visible,
                points: 15,
                hint: "write in a loop until every byte is sent: write may send less than it was given",
                judge: |runs| large_replies(runs, &["standard"], &["burst"]),
            },
        ],
    }
}

fn own_thread(runs: &Runs) -> Verdict {
    for name in ["standard", "burst"] {
        let run = runs.get(name);
        let main = main_task(run);
        let threads = connection_threads(run);
        // Every task that read or wrote each connection.
        for (r, rec) in from_first_socket(run) {
            if !(rec.is_a(&[Class::Read, Class::Write])) {
                continue;
            }
            let Some(conn) = fd_role(run, r, 0).filter(|n| n.is_conn()) else {
                continue;
            };
            let own = threads
                .iter()
                .find(|(_, c, _)| *c == conn)
                .and_then(|(_, _, t)| *t);
            if rec.tid == main || own.is_some_and(|t| t != rec.tid) {
                let owner = match own {
                    Some(t) => format!("its own thread is {}", task_name(run, t)),
                    None => "no thread was created for it".to_string(),
                };
                return Verdict::fail(
                    format!(
                        "{conn} was {} by {} ({owner}):",
                        if rec.is_a(&[Class::Read]) { "read" } else { "written" },
                        task_name(run, rec.tid)
                    ),
                    evidence(run, [r]),
                );
            }
        }
    }
    Verdict::pass("each connection was read and written by its own thread only")
}

/// The first connection main closed after handing it to a thread: `(its
/// close, the connection, the thread, the thread's first call after it
/// that failed with EBADF)`.
fn closed_by_main(run: &Run) -> Option<(usize, FdRole, Tid, Option<usize>)> {
    let main = main_task(run);
    let records = &run.outcome.trace.records;
    connection_threads(run).into_iter().find_map(|(a, conn, thread)| {
        let thread = thread?;
        let close = (a + 1..records.len()).find(|&r| {
            records[r].tid == main
                && records[r].is_a(&[Class::Close])
                && fd_role(run, r, 0) == Some(conn)
        })?;
        let failed = (close + 1..records.len())
            .find(|&r| records[r].tid == thread && records[r].errno() == Some(libc::EBADF));
        Some((close, conn, thread, failed))
    })
}

fn main_keeps_connections(runs: &Runs) -> Verdict {
    for name in ["standard", "burst", "many"] {
        let run = runs.get(name);
        let Some((close, conn, thread, failed)) = closed_by_main(run) else {
            continue;
        };
        let then = match failed {
            Some(_) => format!(
                "; {} then got EBADF (bad file descriptor):",
                task_name(run, thread)
            ),
            None => ":".to_string(),
        };
        return Verdict::fail(
            format!(
                "main closed {conn} after handing it to {}; threads share main's descriptors, so that closed the thread's connection too{then}",
                task_name(run, thread)
            ),
            evidence(run, std::iter::once(close).chain(failed)),
        );
    }
    Verdict::pass("main never closed a connection it had handed to a thread")
}

fn blocking(runs: &Runs) -> Verdict {
    for name in ["standard", "burst"] {
        let run = runs.get(name);
        let switched: Vec<usize> = nonblocking_switches(run)
            .iter()
            .filter(|s| s.on && s.fd.is_conn())
            .map(|s| s.record)
            .collect();
        let eagain: Vec<usize> = from_first_socket(run)
            .filter(|(r, rec)| {
                rec.is_a(&[Class::Read])
                    && rec.errno() == Some(libc::EAGAIN)
                    && fd_role(run, *r, 0).is_some_and(FdRole::is_conn)
            })
            .map(|(r, _)| r)
            .take(3)
            .collect();
        if !switched.is_empty() || !eagain.is_empty() {
            return Verdict::fail(
                "connections were made non-blocking and polled; with a thread per connection there is nothing else the thread could do meanwhile:",
                evidence(run, switched.into_iter().chain(eagain)),
            );
        }
    }
    let run = runs.get("standard");
    if let Some((_, conn, thread, _)) = closed_by_main(run).filter(|c| c.1 == FdRole::Conn(1)) {
        // Nothing left to wait on: main-keeps-connections names the cause.
        return Verdict::pass(format!(
            "no connection was made non-blocking ({} had no {conn} to wait on: main had closed it, see main-keeps-connections)",
            task_name(run, thread)
        ));
    }
    if !blocked_in(run, "A silent", &[Class::Read], FdRole::Conn(1)) {
        let (what, lines) = describe_settle(run, "A silent");
        return Verdict::fail(
            format!(
                "while client A was connected and silent, its thread should wait in a read on C1; instead {what}"
            ),
            lines,
        );
    }
    Verdict::pass("connection threads waited in blocking reads")
}

fn no_leak(runs: &Runs) -> Verdict {
    let run = runs.get("many");
    for c in MANY {
        if let Err(v) = received(run, c, &format!("client {c} sent \"ping\"")) {
            return v;
        }
    }
    let threads: Vec<Tid> = connection_threads(run)
        .into_iter()
        .filter_map(|(_, _, t)| t)
        .collect();
    if threads.len() < MANY.len() {
        return Verdict::fail(
            format!(
                "{} connections were served but only {} threads were created for them",
                MANY.len(),
                threads.len()
            ),
            Vec::new(),
        );
    }
    let stop = run
        .outcome
        .trace
        .step("stop the server")
        .unwrap_or(usize::MAX);
    let gone = |tid: Tid| {
        run.outcome.trace.events[..stop.min(run.outcome.trace.events.len())]
            .iter()
            .any(|e| e.tid == tid && matches!(e.kind, EventKind::Gone(_)))
    };
    let alive: Vec<Tid> = threads.iter().copied().filter(|&t| !gone(t)).collect();
    if alive.is_empty() {
        return Verdict::pass(format!(
            "all {} threads exited once their clients closed",
            threads.len()
        ));
    }
    // What they were doing: their last call before the server was stopped.
    let records = &run.outcome.trace.records;
    let waiting: Vec<usize> = alive
        .iter()
        .filter_map(|&t| {
            records
                .iter()
                .rposition(|r| r.tid == t && r.enter.is_some_and(|e| e < stop))
        })
        .collect();
    Verdict::fail(
        format!(
            "after {} connections opened and closed, {} of the {} threads created for them were still alive; they were waiting in:",
            MANY.len(),
            alive.len(),
            threads.len()
        ),
        evidence(run, waiting),
    )
}
