//! Lab 6, processes (prefork): the master listens, then forks workers that
//! all accept on the inherited socket; a crash stays inside one process.

use super::{describe_settle, received};
use crate::syscalls::Class;
use crate::analysis::{evidence, fd_role, from_first_socket, main_task, spawned, task_name};
use crate::normalize::FdRole;
use crate::grade::{Check, Kind, Lab, Run, Runs, Verdict, Visibility};
use crate::scenario::{Limits, Observed, Scenario, Step};
use crate::trace::{Arg, EventKind, Termination, Tid};

/// One worker: no race between workers for a connection, so the transcript
/// is the same every run (the snapshot's scenario).
fn standard() -> Scenario {
    Scenario {
        name: "standard",
        args: &["--workers", "1"],
        steps: vec![
            Step::Settle("idle"),
            Step::Connect("A"),
            Step::Send("A", b"hello".to_vec()),
            Step::Expect("A echo", "A", b"HELLO".to_vec()),
            Step::Send("A", b"crash\n".to_vec()),
            Step::ExpectNothing("A after crash", "A"),
            Step::Settle("after crash"),
            Step::Connect("B"),
            Step::Send("B", b"world".to_vec()),
            Step::Expect("B after the crash", "B", b"WORLD".to_vec()),
            Step::Close("A"),
            Step::Close("B"),
            Step::Settle("all closed"),
            Step::Terminate("terminate"),
        ],
    }
}

/// Two workers: A and B at once, A crashes, B goes on, C is accepted by
/// the replacement; then SIGTERM to the master.
fn pool() -> Scenario {
    Scenario {
        name: "pool",
        args: &["--workers", "2"],
        steps: vec![
            Step::Settle("idle"),
            Step::Connect("A"),
            Step::Send("A", b"hello".to_vec()),
            Step::Expect("A echo", "A", b"HELLO".to_vec()),
            Step::Settle("A silent"),
            Step::Connect("B"),
            Step::Send("B", b"world".to_vec()),
            Step::Expect("B served while A is silent", "B", b"WORLD".to_vec()),
            Step::Send("A", b"crash\n".to_vec()),
            Step::ExpectNothing("A after crash", "A"),
            Step::Settle("after crash"),
            Step::Send("B", b"again".to_vec()),
            Step::Expect("B after the crash", "B", b"AGAIN".to_vec()),
            Step::Connect("C"),
            Step::Send("C", b"hello".to_vec()),
            Step::Expect("C after the crash", "C", b"HELLO".to_vec()),
            Step::Close("A"),
            Step::Close("B"),
            Step::Close("C"),
            Step::Settle("all closed"),
            Step::Terminate("terminate"),
        ],
    }
}

pub(super) fn lab() -> Lab {
    Lab {
        id: "lab6",
        title: "processes: a prefork server",
        binary: "lab6",
        scenarios: vec![standard(), pool()],
        standard: "standard",
        facts: None,
        limits: Limits::default(),
        syscalls: super::server_syscalls(),
        checks: vec![
            Check {
                id: "listen-before-fork",
                title: "the master listens before it forks the first worker",
                kind: Kind::Model,
                visibility: Visibility::Visible,
                points: 10,
                hint: "socket, bind, listen in the master; only then fork: the workers inherit a socket that already listens",
                judge: listen_before_fork,
            },
            Check {
                id: "workers-accept",
                title: "at least 2 worker processes (no CLONE_VM) wait in accept on the inherited listening socket at once",
                kind: Kind::Model,
                visibility: Visibility::Visible,
                points: 15,
                hint: "fork (not a thread) --workers N times; each worker loops on accept on the listening fd it inherited",
                judge: workers_accept,
            },
            Check {
                id: "master-never-accepts",
                title: "the master never accepts: it only forks and reaps",
                kind: Kind::Model,
                visibility: Visibility::Visible,
                points: 10,
                hint: "after forking, the master waits for its children (wait4) and nothing else",
                judge: master_never_accepts,
            },
            Check {
                id: "concurrent",
                title: "two clients are served at once, by different processes",
                kind: Kind::Protocol,
                visibility: Visibility::Visible,
                points: 15,
                hint: "each worker serves one connection at a time; a second client is taken by another idle worker",
                judge: concurrent,
            },
            Check {
                id: "crash-contained",
                title: "after one worker crashes, other clients are still served and new ones accepted",
                kind: Kind::Protocol,
                visibility: Visibility::Visible,
                points: 20,
                hint: "a crash must kill only the worker process that crashed (its memory is its own), and the master must reap it and fork a replacement so that new clients still find a worker",
                judge: crash_contained,
            },
            Check {
                id: "reaps-and-replaces",
                title: "the master reaps the dead worker (wait4) and forks a replacement",
                kind: Kind::Model,
                visibility: Visibility::Visible,
                points: 15,
                hint: "loop on wait4(-1, ...) in the master; for each dead worker, fork a new one",
                judge: reaps_and_replaces,
            },
            Check {
                id: "clean-shutdown",
                title: "on SIGTERM the master stops its workers and exits, leaving no orphan",
                kind: Kind::Model,
                visibility: Visibility::AfterDueDate,
                points: 15,
                hint: "catch SIGTERM in the master (a flag), kill each worker, wait4 each, then exit; workers must reset SIGTERM to the default after fork",
                judge: clean_shutdown,
            },
        ],
    }
}

fn listen_before_fork(runs: &Runs) -> Verdict {
    for run in runs.iter() {
        let records = &run.outcome.trace.records;
        let listen = from_first_socket(run)
            .find(|(_, r)| r.is_a(&[Class::Listen]) && r.done_len() == Some(0))
            .map(|(r, _)| r);
        // The master's first fork (a runtime's helper threads do not count).
        let main = main_task(run);
        let fork = spawned(run)
            .iter()
            .find(|s| s.parent == main && !s.thread)
            .map(|s| s.record);
        let before = |l: usize, f: usize| matches!((records[l].exit, records[f].enter), (Some(x), Some(e)) if x < e);
        match (listen, fork) {
            (Some(l), Some(f)) if before(l, f) => {}
            (Some(l), Some(f)) => {
                return Verdict::fail(
                    format!(
                        "the master forked before the listening socket listened (listen came from {}):",
                        task_name(run, records[l].tid)
                    ),
                    evidence(run, [f, l]),
                );
            }
            (_, None) => return Verdict::fail("the master never forked", Vec::new()),
            (None, _) => return Verdict::fail("no listen call succeeded", Vec::new()),
        }
    }
    Verdict::pass("listen came before the first fork")
}

fn workers_accept(runs: &Runs) -> Verdict {
    let run = runs.get("pool");
    // Threads that accept on L: workers sharing the master's memory (a
    // runtime's helper threads do not count).
    let accepts_on_l = |tid| {
        from_first_socket(run).any(|(r, rec)| {
            rec.tid == tid && rec.is_a(&[Class::Accept]) && fd_role(run, r, 0) == Some(FdRole::Listener(1))
        })
    };
    let threads: Vec<usize> = spawned(run)
        .iter()
        .filter(|s| s.thread && accepts_on_l(s.child))
        .map(|s| s.record)
        .collect();
    if !threads.is_empty() {
        return Verdict::fail(
            "the workers are threads (CLONE_VM|CLONE_THREAD): they share the master's memory, and one crash kills them all:",
            evidence(run, threads),
        );
    }
    // Waiting in accept at the same time, while the server was idle.
    let main = main_task(run);
    let records = &run.outcome.trace.records;
    let mut accepting: Vec<usize> = Vec::new();
    for &r in run.outcome.blocked_at("idle").unwrap_or(&[]) {
        let rec = &records[r];
        if rec.pid != main
            && rec.is_a(&[Class::Accept])
            && fd_role(run, r, 0) == Some(FdRole::Listener(1))
            && !accepting.iter().any(|&a| records[a].pid == rec.pid)
        {
            accepting.push(r);
        }
    }
    if accepting.len() >= 2 {
        return Verdict::pass(format!(
            "{} worker processes waited in accept on L at once",
            accepting.len()
        ));
    }
    let (what, lines) = describe_settle(run, "idle");
    Verdict::fail(
        format!(
            "with --workers 2, {} worker process(es) waited in accept on the inherited listening socket L while the server was idle; {what}",
            accepting.len()
        ),
        lines,
    )
}

fn master_never_accepts(runs: &Runs) -> Verdict {
    for run in runs.iter() {
        let main = main_task(run);
        let accepts: Vec<usize> = from_first_socket(run)
            .filter(|(_, r)| r.tid == main && r.is_a(&[Class::Accept]))
            .map(|(r, _)| r)
            .collect();
        if !accepts.is_empty() {
            return Verdict::fail(
                "the master accepted connections itself:",
                evidence(run, accepts),
            );
        }
    }
    Verdict::pass("the master never accepted")
}

/// The process that read a connection first.
fn server_of(run: &Run, conn: FdRole) -> Option<Tid> {
    from_first_socket(run)
        .find(|(r, rec)| rec.is_a(&[Class::Read]) && fd_role(run, *r, 0) == Some(conn))
        .map(|(_, rec)| rec.pid)
}

fn concurrent(runs: &Runs) -> Verdict {
    let run = runs.get("pool");
    if let Err(v) = received(run, "A echo", "client A sent \"hello\"") {
        return v;
    }
    if let Err(v) = received(
        run,
        "B served while A is silent",
        "client B sent \"world\" while client A stayed connected and silent",
    ) {
        return v;
    }
    match (server_of(run, FdRole::Conn(1)), server_of(run, FdRole::Conn(2))) {
        (Some(a), Some(b)) if a != b => Verdict::pass(format!(
            "A was served by {} and B by {}",
            task_name(run, a),
            task_name(run, b)
        )),
        (Some(a), Some(_)) => Verdict::fail(
            format!(
                "A and B were both served by {}, one process",
                task_name(run, a)
            ),
            Vec::new(),
        ),
        _ => Verdict::fail("C1 or C2 was never read", Vec::new()),
    }
}

/// The worker process that read the `crash` line, and how it ended.
fn crashed(run: &Run) -> Option<(usize, Tid, Option<Termination>)> {
    let (r, rec) = from_first_socket(run).find(|(_, rec)| {
        rec.is_a(&[Class::Read])
            && rec.done_len().is_some_and(|n| n > 0)
            && rec.args.iter().any(
                |a| matches!(a, Arg::Bytes { head, .. } if head.windows(5).any(|w| w == b"crash")),
            )
    })?;
    let how = run.outcome.trace.events.iter().find_map(|e| match e.kind {
        EventKind::Gone(t) if e.tid == rec.pid => Some(t),
        _ => None,
    });
    Some((r, rec.pid, how))
}

fn crash_contained(runs: &Runs) -> Verdict {
    let run = runs.get("pool");
    if let Err(v) = received(
        run,
        "B after the crash",
        "client B, connected to another worker, sent \"again\" after client A's worker crashed",
    ) {
        return v;
    }
    if let Err(v) = received(
        run,
        "C after the crash",
        "client C connected after client A's worker crashed and sent \"hello\"",
    ) {
        // B was served: the crash was contained. Whether C found a worker
        // is up to the master: name it when it never reaped the dead one.
        return match unreaped(run) {
            Some((why, lines)) => Verdict::fail(
                format!(
                    "{}; the crash itself was contained (B was still served), but no worker was left for C: {why}",
                    v.message
                ),
                lines,
            ),
            None => v,
        };
    }
    Verdict::pass("B was still served and C accepted after A's worker crashed")
}

/// When the worker that crashed was never reaped by the master before the
/// next client came: why, in words (the master never called `wait4` or
/// `waitid` at all, or not for it), the crash and the call the master was in.
fn unreaped(run: &Run) -> Option<(String, Vec<String>)> {
    let main = main_task(run);
    let (r, dead, _) = crashed(run)?;
    if dead == main {
        return None;
    }
    let trace = &run.outcome.trace;
    let next_client = trace.step("C: connect").unwrap_or(usize::MAX);
    let reaped = trace.records.iter().any(|rec| {
        rec.tid == main && rec.reaped() == Some(dead) && rec.exit.is_some_and(|x| x < next_client)
    });
    if reaped {
        return None;
    }
    let before_c = |rec: &crate::trace::Record| rec.enter.is_some_and(|e| e < next_client);
    let waited = from_first_socket(run)
        .any(|(_, rec)| rec.tid == main && rec.is_a(&[Class::Reap]) && before_c(rec));
    let why = if waited {
        format!(
            "the master did not reap the dead worker {} (wait4 or waitid) before C came, so it forked no replacement (see reaps-and-replaces); the crash, and the call the master was in until C came:",
            task_name(run, dead)
        )
    } else {
        format!(
            "the master never called wait4 or waitid, so it never learned that {} died and forked no replacement (see reaps-and-replaces); the crash, and the call the master was in until C came:",
            task_name(run, dead)
        )
    };
    // The crash, and what the master was in until C came.
    let master = from_first_socket(run)
        .filter(|(_, rec)| rec.tid == main && before_c(rec))
        .map(|(i, _)| i)
        .last();
    Some((why, evidence(run, std::iter::once(r).chain(master))))
}

fn reaps_and_replaces(runs: &Runs) -> Verdict {
    let run = runs.get("pool");
    let main = main_task(run);
    let Some((r, dead, how)) = crashed(run) else {
        return Verdict::fail("no worker read the \"crash\" line", Vec::new());
    };
    let trace = &run.outcome.trace;
    let how = how.map_or("still running".to_string(), |t| t.to_string());
    if dead == main {
        return Verdict::fail(
            format!(
                "the crash killed the master itself ({how}): the connection was served inside the master's process"
            ),
            evidence(run, [r]),
        );
    }
    // Reaped while the pool still runs: before the next client arrives.
    let next_client = trace.step("C: connect").unwrap_or(usize::MAX);
    let reap = trace.records.iter().position(|rec| {
        rec.tid == main && rec.reaped() == Some(dead) && rec.exit.is_some_and(|x| x < next_client)
    });
    let Some(reap) = reap else {
        let waits: Vec<usize> = from_first_socket(run)
            .filter(|(_, rec)| rec.tid == main)
            .map(|(i, _)| i)
            .skip_while(|&i| i < r)
            .take(3)
            .collect();
        let waited = from_first_socket(run).any(|(_, rec)| {
            rec.tid == main
                && rec.is_a(&[Class::Reap])
                && rec.enter.is_some_and(|e| e < next_client)
        });
        let never = if waited {
            ""
        } else {
            " (it never called either before then)"
        };
        return Verdict::fail(
            format!(
                "worker {} died ({how}) but the master did not reap it with wait4 or waitid before the next client came{never}, so it stayed a zombie and was not replaced; the master's calls after the crash:",
                task_name(run, dead)
            ),
            evidence(run, waits),
        );
    };
    let replaced = spawned(run).iter().any(|s| {
        s.parent == main
            && !s.thread
            && s.record > reap
            && trace.records[s.record]
                .exit
                .is_some_and(|x| x < next_client)
    });
    if replaced {
        return Verdict::pass(format!(
            "the master reaped {} ({how}) and forked a replacement",
            task_name(run, dead)
        ));
    }
    Verdict::fail(
        format!(
            "the master reaped {} ({how}) but forked no replacement before the next client came",
            task_name(run, dead)
        ),
        evidence(run, [reap]),
    )
}

/// When the master's SIGTERM handler has `SA_RESTART` and its wait was
/// restarted after SIGTERM: the handlers it installed with `SA_RESTART`
/// (SIGTERM's, and any other, such as a SIGCHLD one set with `signal()`),
/// the wait that SIGTERM interrupted and the wait the kernel restarted.
fn restarted_wait(run: &Run) -> Option<Vec<String>> {
    let main = main_task(run);
    let trace = &run.outcome.trace;
    let restarting = |rec: &crate::trace::Record| {
        matches!(rec.args.get(1), Some(Arg::Sigaction(sa)) if sa.handler > 1 && sa.flags & libc::SA_RESTART as u64 != 0)
    };
    let handlers: Vec<usize> = from_first_socket(run)
        .filter(|(_, rec)| rec.tid == main && rec.is_a(&[Class::Signal]) && restarting(rec))
        .map(|(i, _)| i)
        .collect();
    let term = handlers
        .iter()
        .any(|&h| trace.records[h].args.first() == Some(&Arg::Sym("SIGTERM")));
    if !term {
        return None;
    }
    let sent = trace.step("SIGTERM to main")?;
    // The wait SIGTERM interrupted (it ended after the signal was sent)
    // and the one that began again after it.
    let waits: Vec<usize> = from_first_socket(run)
        .filter(|(_, rec)| {
            rec.tid == main && rec.is_a(&[Class::Reap]) && rec.exit.is_none_or(|x| x > sent)
        })
        .map(|(i, _)| i)
        .take(2)
        .collect();
    let [interrupted, restarted] = waits[..] else {
        return None;
    };
    // The handler's return, between the two.
    let sigreturn = (interrupted + 1..restarted)
        .find(|&r| trace.records[r].tid == main && trace.records[r].is(&["rt_sigreturn"]));
    let mut lines = evidence(
        run,
        handlers
            .into_iter()
            .chain([interrupted])
            .chain(sigreturn),
    );
    // Its text may be the interrupted one's: say which it is.
    lines.push(format!(
        "{}   <- the same wait4 again, restarted by the kernel after the handler returned",
        run.transcript.record_text(restarted)
    ));
    Some(lines)
}

fn clean_shutdown(runs: &Runs) -> Verdict {
    for run in runs.iter() {
        let Some(Observed::Terminated { ended, left }) = run.outcome.observed("terminate") else {
            let (what, lines) = describe_settle(run, "all closed");
            return Verdict::fail(
                format!("the scenario did not get as far as SIGTERM; {what}"),
                lines,
            );
        };
        if let Some(early) = run.outcome.ended_by_itself {
            return Verdict::fail(
                format!("the master was gone before SIGTERM was sent: it {early}"),
                Vec::new(),
            );
        }
        let Some(ended) = ended else {
            return match restarted_wait(run) {
                Some(lines) => Verdict::fail(
                    "the master did not exit within the grace period after SIGTERM: its handler was installed with SA_RESTART (what glibc's signal() does), so after the handler ran the kernel restarted the blocked wait4 instead of failing it with EINTR, and the master never looked at its flag; install it with sigaction and no SA_RESTART:",
                    lines,
                ),
                None => Verdict::fail(
                    "the master did not exit within the grace period after SIGTERM",
                    Vec::new(),
                ),
            };
        };
        if !left.is_empty() {
            let names: Vec<String> = left.iter().map(|&p| task_name(run, p)).collect();
            let doing: Vec<usize> = left
                .iter()
                .filter_map(|&p| {
                    run.outcome
                        .trace
                        .records
                        .iter()
                        .rposition(|rec| rec.pid == p)
                })
                .collect();
            return Verdict::fail(
                format!(
                    "after SIGTERM the master {}, but {} kept running: orphans, re-parented to init and still holding the listening socket; their last calls:",
                    match ended {
                        Termination::Exited(_) => ended.to_string(),
                        _ => format!("was {ended}"),
                    },
                    names.join(", ")
                ),
                evidence(run, doing),
            );
        }
    }
    Verdict::pass("on SIGTERM the master stopped every worker and exited")
}
