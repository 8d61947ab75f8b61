//! Lab 3, `select`: one thread asks the kernel which sockets are ready and
//! sleeps otherwise.

use crate::grade::{Check, Kind, Lab, Run, Runs, Verdict, Visibility};
use crate::scenario::Limits;
use crate::syscalls::Class;
use crate::trace::{Arg, Ret};

use super::{blocked_records, blocked_writes, concurrent, idle_facts, idle_sleeps, large_replies, many_clients, readiness_calls, received, reported_writable, single_task, size_text, slow_burst, slow_burst_size};
use crate::analysis::{evidence, fd_role, records_where, returned_role};
use crate::normalize::FdRole;

pub(super) fn lab() -> Lab {
    Lab {
        id: "lab3",
        title: "select",
        binary: "lab3",
        scenarios: vec![many_clients("standard", &[]), slow_burst("burst", &[])],
        standard: "standard",
        facts: Some(idle_facts),
        limits: Limits::default(),
        syscalls: super::server_syscalls(),
        checks: vec![
            Check {
                id: "single-task",
                title: "one thread serves every connection: no child process, no serving thread",
                kind: Kind::Model,
                visibility: Visibility::Visible,
                points: 10,
                hint: "one select loop in one thread serves every client",
                judge: single_task,
            },
            Check {
                id: "waits-in-select",
                title: "select is the only place the server waits",
                kind: Kind::Model,
                visibility: Visibility::Visible,
                points: 10,
                hint: "never call accept, read or write on a socket select did not report ready, and make the sockets non-blocking so a surprise cannot block; use select (or pselect), not poll or epoll",
                judge: waits_in_select,
            },
            Check {
                id: "idle-sleeps",
                title: "while idle, the server sleeps in select",
                kind: Kind::Model,
                visibility: Visibility::Visible,
                points: 10,
                hint: "pass NULL as select's timeout (or a long one): a zero or tiny timeout in a loop turns select into busy polling",
                judge: |runs| match idle_sleeps(runs.get("standard"), &[Class::Select], "select") {
                    Ok(()) => Verdict::pass("idle in select, with no wake-ups"),
                    Err(v) => v,
                },
            },
            Check {
                id: "read-set",
                title: "the listening socket and every live connection are watched",
                kind: Kind::Model,
                visibility: Visibility::Visible,
                points: 10,
                hint: "rebuild the sets before every select: L in the read set, and each open connection in the read set (or in the write set while it has output pending)",
                judge: read_set,
            },
            Check {
                id: "ready-only",
                title: "accept and read only what the last select reported ready",
                kind: Kind::Model,
                visibility: Visibility::Visible,
                points: 15,
                hint: "after select returns, check FD_ISSET for each fd before accept or read on it; a new connection is read only once select reports it",
                judge: ready_only,
            },
            Check {
                id: "write-set",
                title: "a large reply waits for writability in the write set",
                kind: Kind::Model,
                visibility: Visibility::Visible,
                points: 10,
                hint: "when a write is partial or fails with EAGAIN, keep the rest, put the fd in the write set, and write more when select reports it writable",
                judge: write_set,
            },
            Check {
                id: "sets-shrink",
                title: "closed connections leave the sets",
                kind: Kind::Model,
                visibility: Visibility::Visible,
                points: 10,
                hint: "when read returns 0, close the fd and stop putting it in the sets (select fails with EBADF on a closed fd)",
                judge: sets_shrink,
            },
            Check {
                id: "concurrent",
                title: "B is answered while A is connected and silent",
                kind: Kind::Protocol,
                visibility: Visibility::Visible,
                points: 15,
                hint: "put every connection in the read set and serve whichever select reports",
                judge: |runs| concurrent(runs, &["standard"]),
            },
            Check {
                id: "large-reply",
                title: "a message bigger than one read and a reply bigger than the send buffer arrive whole",
                kind: Kind::Protocol,
                visibility: Visibility::Visible,
                points: 10,
                hint: "keep unsent output per connection and never drop the rest of a partial write",
                judge: |runs| large_replies(runs, &["standard"], &["burst"]),
            },
        ],
    }
}

/// The roles of the fds in a select's fd set argument `i` of record `r`
/// (`None`: an fd the trace never showed open, such as one closed before).
fn set_roles(run: &Run, r: usize, i: usize) -> Vec<Option<FdRole>> {
    match run.outcome.trace.records[r].args.get(i) {
        Some(Arg::FdSet { given, .. }) => given
            .iter()
            .map(|&fd| run.transcript.fd_role(r, fd))
            .collect(),
        _ => Vec::new(),
    }
}

fn selects(run: &Run) -> Vec<usize> {
    records_where(run, |rec| rec.is_a(&[Class::Select]))
}

fn waits_in_select(runs: &Runs) -> Verdict {
    for run in runs.iter() {
        let others: Vec<usize> = readiness_calls(run)
            .into_iter()
            .filter(|&r| !run.outcome.trace.records[r].is_a(&[Class::Select]))
            .collect();
        if !others.is_empty() {
            return Verdict::fail(
                "the server waits with another readiness API; this lab is about select:",
                evidence(run, others),
            );
        }
        let blocked: Vec<usize> = blocked_records(run)
            .into_iter()
            .filter(|&r| !run.outcome.trace.records[r].is_a(&[Class::Select]))
            .collect();
        if !blocked.is_empty() {
            return Verdict::fail(
                "the server was found waiting outside select, so every other client waited too:",
                evidence(run, blocked),
            );
        }
    }
    Verdict::pass("every wait was in select")
}

fn read_set(runs: &Runs) -> Verdict {
    for run in runs.iter() {
        let mut live: Vec<FdRole> = Vec::new();
        for (r, rec) in run.outcome.trace.records.iter().enumerate() {
            match rec.class() {
                Class::Accept => {
                    if let Some(conn) = returned_role(run, r).filter(|n| n.is_conn()) {
                        live.push(conn);
                    }
                }
                Class::Close if rec.ret.is_some() => {
                    if let Some(closed) = fd_role(run, r, 0) {
                        live.retain(|&n| n != closed);
                    }
                }
                Class::Select => {
                    let read = set_roles(run, r, 1);
                    let write = set_roles(run, r, 2);
                    let mut missing: Vec<FdRole> = Vec::new();
                    if !read.contains(&Some(FdRole::Listener(1))) {
                        missing.push(FdRole::Listener(1));
                    }
                    for &c in &live {
                        if !read.contains(&Some(c)) && !write.contains(&Some(c)) {
                            missing.push(c);
                        }
                    }
                    if !missing.is_empty() {
                        let names: Vec<String> = missing.iter().map(FdRole::to_string).collect();
                        return Verdict::fail(
                            format!(
                                "select was called without {} in its sets, though {} still open: whatever arrives there goes unnoticed",
                                names.join(", "),
                                if missing.len() == 1 {
                                    "it was"
                                } else {
                                    "they were"
                                }
                            ),
                            evidence(run, [r]),
                        );
                    }
                }
                _ => {}
            }
        }
    }
    Verdict::pass("every select watched L and every open connection")
}

fn ready_only(runs: &Runs) -> Verdict {
    for run in runs.iter() {
        let mut last: Option<usize> = None;
        for (r, rec) in run.outcome.trace.records.iter().enumerate() {
            if rec.is_a(&[Class::Select]) && matches!(rec.ret, Some(Ret::Ok(_))) {
                last = Some(r);
                continue;
            }
            if !(rec.is_a(&[Class::Read, Class::Accept])) {
                continue;
            }
            let Some(name) = fd_role(run, r, 0).filter(|n| n.is_served()) else {
                continue;
            };
            let reported = last.is_some_and(|s| {
                run.transcript
                    .ready(s)
                    .is_some_and(|ready| ready.iter().any(|x| x.role == Some(name) && x.readable()))
            });
            if !reported {
                let message = match last {
                    Some(_) => format!(
                        "{}({name}, ...) came after a select that did not report {name} readable: if {name} has nothing, the call blocks the whole server (or is wasted)",
                        rec.name()
                    ),
                    None => format!(
                        "{}({name}, ...) came before any select reported it ready",
                        rec.name()
                    ),
                };
                return Verdict::fail(message, evidence(run, last.into_iter().chain([r])));
            }
        }
    }
    Verdict::pass("every accept and read followed a select that reported its fd")
}

fn write_set(runs: &Runs) -> Verdict {
    let run = runs.get("burst");
    let blocked = blocked_writes(run);
    if !blocked.is_empty() {
        return Verdict::fail(
            format!(
                "while a client read its {} reply slowly, the server was found blocked in write instead of waiting in select for writability:",
                size_text(slow_burst_size())
            ),
            evidence(run, blocked),
        );
    }
    match reported_writable(run) {
        Some(s) => Verdict::pass(format!(
            "the reply waited in the write set: {}",
            run.transcript.record_text(s)
        )),
        None => Verdict::fail(
            format!(
                "while a client read its {} reply slowly, no select ever reported a connection writable: the reply never waited for room in the write set",
                size_text(slow_burst_size())
            ),
            Vec::new(),
        ),
    }
}

fn sets_shrink(runs: &Runs) -> Verdict {
    for run in runs.iter() {
        for s in selects(run) {
            let rec = &run.outcome.trace.records[s];
            // A closed fd has no role left (it shows as `fdN`), and neither
            // is one the server never opened itself.
            let stale: Vec<Option<FdRole>> = (1..=3)
                .flat_map(|i| set_roles(run, s, i))
                .filter(|n| matches!(n, None | Some(FdRole::Inherited(_))))
                .collect();
            if rec.errno() == Some(libc::EBADF) || !stale.is_empty() {
                return Verdict::fail(
                    "select was given an fd that is no longer open (a connection closed earlier): select fails with EBADF and the loop cannot serve anyone",
                    evidence(run, [s]),
                );
            }
        }
    }
    match received(
        runs.get("standard"),
        "B after A left",
        "after client A closed, client B sent \"again\"",
    ) {
        Ok(()) => Verdict::pass("closed connections left the sets"),
        Err(v) => v,
    }
}
