//! Lab 4, `epoll` level- vs edge-triggered: one server, two modes
//! (`--trigger level|edge`). Level-triggered re-reports an fd while it stays
//! readable; edge-triggered reports a change once, so the handler must drain
//! to `EAGAIN` or data sits unread.

use crate::grade::{Check, Kind, Lab, Run, Runs, Verdict, Visibility};
use crate::scenario::Limits;
use crate::syscalls::Class;
use crate::trace::{Arg, Ret};

use super::{blocked_writes, blocking_uses, concurrent, full_read, idle_facts, idle_sleeps, large_replies, many_clients, reported_writable, short_write, size_text, slow_burst, slow_burst_size};
use crate::analysis::{evidence, fd_role, records_where, returned_role, serving_epolls};
use crate::normalize::FdRole;

const STANDARD: &[&str] = &["level", "edge"];
const ALL: &[&str] = &["level", "edge", "level-burst", "edge-burst"];

pub(super) fn lab() -> Lab {
    Lab {
        id: "lab4",
        title: "epoll, level- vs edge-triggered",
        binary: "lab4",
        scenarios: vec![
            many_clients("level", &["--trigger", "level"]),
            many_clients("edge", &["--trigger", "edge"]),
            slow_burst("level-burst", &["--trigger", "level"]),
            slow_burst("edge-burst", &["--trigger", "edge"]),
        ],
        standard: "level",
        facts: Some(idle_facts),
        limits: Limits::default(),
        syscalls: super::server_syscalls(),
        checks: vec![
            Check {
                id: "epoll-create",
                title: "one epoll instance, created once",
                kind: Kind::Model,
                visibility: Visibility::Visible,
                points: 10,
                hint: "call epoll_create1 once at start-up and keep that one instance for every socket",
                judge: epoll_create,
            },
            Check {
                id: "ctl-add",
                title: "L and every connection are added, with EPOLLET exactly in edge mode",
                kind: Kind::Model,
                visibility: Visibility::Visible,
                points: 15,
                hint: "epoll_ctl(EPOLL_CTL_ADD) the listening socket and each accepted connection; add EPOLLET to the events only with --trigger edge",
                judge: ctl_add,
            },
            Check {
                id: "ctl-del",
                title: "a closed connection is removed (EPOLL_CTL_DEL or close)",
                kind: Kind::Model,
                visibility: Visibility::Visible,
                points: 10,
                hint: "when read returns 0 the client has closed: EPOLL_CTL_DEL the fd (or just close it, which removes it) so epoll stops reporting it",
                judge: ctl_del,
            },
            Check {
                id: "idle-epoll",
                title: "while idle, the server sleeps in epoll_wait",
                kind: Kind::Model,
                visibility: Visibility::Visible,
                points: 10,
                hint: "pass -1 as epoll_wait's timeout: a zero or tiny timeout in a loop is busy polling",
                judge: idle_epoll,
            },
            Check {
                id: "edge-drains",
                title: "edge mode: non-blocking connections, accept and read until EAGAIN after each event",
                kind: Kind::Model,
                visibility: Visibility::Visible,
                points: 15,
                hint: "an edge-triggered event comes once per change: accept in a loop until accept fails with EAGAIN, and read in a loop until read fails with EAGAIN (the sockets must be non-blocking), or the clients and data still queued wait forever",
                judge: edge_drains,
            },
            Check {
                id: "level-rereports",
                title: "level mode: epoll_wait reports an fd again while data is left",
                kind: Kind::Model,
                visibility: Visibility::Visible,
                points: 10,
                hint: "in level mode read once per event (as the handout asks) and let epoll_wait report the fd again: that re-report is the level-triggered behaviour to observe",
                judge: level_rereports,
            },
            Check {
                id: "epollout",
                title: "a large reply waits for EPOLLOUT",
                kind: Kind::Model,
                visibility: Visibility::AfterDueDate,
                points: 10,
                hint: "when a write is partial or fails with EAGAIN, keep the rest and EPOLL_CTL_MOD the fd to EPOLLOUT; write more when epoll_wait reports it",
                judge: epollout,
            },
            Check {
                id: "concurrent",
                title: "B is answered while A is connected and silent, in both modes",
                kind: Kind::Protocol,
                visibility: Visibility::Visible,
                points: 10,
                hint: "serve whichever fd epoll_wait reports; never wait on one client",
                judge: |runs| concurrent(runs, STANDARD),
            },
            Check {
                id: "large-reply",
                title: "a message bigger than one read and a reply bigger than the send buffer arrive whole, in both modes",
                kind: Kind::Protocol,
                visibility: Visibility::Visible,
                points: 10,
                hint: "keep unsent output per connection and never drop the rest of a partial write; in edge mode also read until EAGAIN, or the rest of a message is never read",
                judge: large_reply,
            },
        ],
    }
}

/// Whether a scenario runs the server in edge mode.
fn edge(run: &Run) -> bool {
    run.outcome.scenario.starts_with("edge")
}

fn epoll_create(runs: &Runs) -> Verdict {
    for name in STANDARD {
        let run = runs.get(name);
        let creates = records_where(run, |rec| {
            rec.is_a(&[Class::EpollCreate]) && matches!(rec.ret, Some(Ret::Ok(_)))
        });
        // The instances that watched the listener or a connection: one made
        // and dropped unused (a runtime's start-up probe) is not a second.
        let watched = serving_epolls(run);
        let serving: Vec<usize> = creates
            .iter()
            .copied()
            .filter(|&r| returned_role(run, r).is_some_and(|ep| watched.contains(&ep)))
            .collect();
        if serving.len() != 1 {
            return Verdict::fail(
                format!(
                    "in {name} mode the server created {} epoll instances that watched its sockets; one serves every socket",
                    serving.len()
                ),
                evidence(run, if serving.is_empty() { creates } else { serving }),
            );
        }
    }
    Verdict::pass("one epoll instance in each mode")
}

/// The `epoll_ctl` records of a run with their op, target and event.
fn ctls(
    run: &Run,
) -> Vec<(
    usize,
    &'static str,
    FdRole,
    Option<&crate::trace::EpollEvent>,
)> {
    run.outcome
        .trace
        .records
        .iter()
        .enumerate()
        .filter(|(_, rec)| rec.class() == Class::EpollCtl && matches!(rec.ret, Some(Ret::Ok(_))))
        .filter_map(|(r, rec)| {
            let op = match rec.args.get(1) {
                Some(Arg::Sym(op)) => *op,
                _ => return None,
            };
            let target = fd_role(run, r, 2)?;
            let event = match rec.args.get(3) {
                Some(Arg::Epoll(e)) => Some(e),
                _ => None,
            };
            Some((r, op, target, event))
        })
        .collect()
}

fn ctl_add(runs: &Runs) -> Verdict {
    for name in STANDARD {
        let run = runs.get(name);
        let ctls = ctls(run);
        let added = |who: FdRole| {
            ctls.iter()
                .any(|&(_, op, t, _)| op == "EPOLL_CTL_ADD" && t == who)
        };
        let accepted: Vec<FdRole> = records_where(run, |rec| rec.is_a(&[Class::Accept]))
            .into_iter()
            .filter_map(|r| returned_role(run, r))
            .filter(|n| n.is_conn())
            .collect();
        let missing: Vec<String> = std::iter::once(FdRole::Listener(1))
            .chain(accepted.iter().copied())
            .filter(|&n| !added(n))
            .map(|n| n.to_string())
            .collect();
        if !missing.is_empty() {
            return Verdict::fail(
                format!(
                    "in {name} mode {} never added to the epoll instance (EPOLL_CTL_ADD), so epoll_wait cannot report it",
                    missing.join(", ")
                ),
                Vec::new(),
            );
        }
        let want_et = edge(run);
        let wrong: Vec<usize> = ctls
            .iter()
            .filter(|(_, op, t, ev)| {
                *op != "EPOLL_CTL_DEL"
                    && t.is_conn()
                    && ev.is_some_and(|e| e.events.contains(&"EPOLLET") != want_et)
            })
            .map(|(r, ..)| *r)
            .collect();
        if !wrong.is_empty() {
            let what = if want_et {
                "in edge mode every connection must be registered with EPOLLET; these were not:"
            } else {
                "in level mode no connection may be registered with EPOLLET; these were:"
            };
            return Verdict::fail(what, evidence(run, wrong));
        }
    }
    Verdict::pass("L and every connection were added, EPOLLET exactly in edge mode")
}

fn ctl_del(runs: &Runs) -> Verdict {
    for name in ALL {
        let run = runs.get(name);
        let records = &run.outcome.trace.records;
        for (r, rec) in records.iter().enumerate() {
            if !(rec.is_a(&[Class::Read]) && rec.ret == Some(Ret::Ok(Arg::Int(0)))) {
                continue;
            }
            let Some(conn) = fd_role(run, r, 0).filter(|n| n.is_conn()) else {
                continue;
            };
            let removed = records.iter().enumerate().skip(r + 1).any(|(x, later)| {
                (later.class() == Class::Close && fd_role(run, x, 0) == Some(conn))
                    || (later.class() == Class::EpollCtl
                        && later.args.get(1) == Some(&Arg::Sym("EPOLL_CTL_DEL"))
                        && fd_role(run, x, 2) == Some(conn))
            });
            if !removed {
                let again: Vec<usize> = records
                    .iter()
                    .enumerate()
                    .skip(r + 1)
                    .filter(|(x, later)| later.is_a(&[Class::Read]) && fd_role(run, *x, 0) == Some(conn))
                    .map(|(x, _)| x)
                    .take(2)
                    .collect();
                return Verdict::fail(
                    format!(
                        "in {name} mode, read on {conn} returned 0 (the client closed) but {conn} was neither removed nor closed: epoll keeps reporting it"
                    ),
                    evidence(run, std::iter::once(r).chain(again)),
                );
            }
        }
    }
    Verdict::pass("every connection that ended was removed or closed")
}

fn idle_epoll(runs: &Runs) -> Verdict {
    for name in STANDARD {
        if let Err(v) = idle_sleeps(runs.get(name), &[Class::EpollWait], "epoll_wait") {
            return v;
        }
    }
    Verdict::pass("idle in epoll_wait, with no wake-ups, in both modes")
}

/// Per `epoll_wait` that returned events: (wait record, the next wait
/// record or the end of the trace, connections it reported readable).
fn wait_rounds(run: &Run) -> Vec<(usize, usize, Vec<FdRole>)> {
    let records = &run.outcome.trace.records;
    let waits = records_where(run, |rec| rec.is_a(&[Class::EpollWait]));
    waits
        .iter()
        .enumerate()
        .filter_map(|(i, &w)| {
            let ready = run.transcript.ready(w)?;
            let conns = ready
                .iter()
                .filter(|x| x.readable())
                .filter_map(|x| x.role.filter(|n| n.is_conn()))
                .collect();
            let next = waits.get(i + 1).copied().unwrap_or(records.len());
            Some((w, next, conns))
        })
        .collect()
}

/// The reads of `conn` in records `from..to`.
fn reads_of(run: &Run, conn: FdRole, from: usize, to: usize) -> Vec<usize> {
    (from..to)
        .filter(|&r| run.outcome.trace.records[r].is_a(&[Class::Read]) && fd_role(run, r, 0) == Some(conn))
        .collect()
}

fn edge_drains(runs: &Runs) -> Verdict {
    for name in ["edge", "edge-burst"] {
        let run = runs.get(name);
        let blocking: Vec<usize> = blocking_uses(run)
            .into_iter()
            .filter(|&r| fd_role(run, r, 0).is_some_and(FdRole::is_conn))
            .collect();
        if !blocking.is_empty() {
            return Verdict::fail(
                "in edge mode the connections must be non-blocking (reading until EAGAIN needs it); these were read while blocking:",
                evidence(run, blocking),
            );
        }
        if let Some(v) = accepts_until_eagain(run) {
            return v;
        }
        let len = run.outcome.trace.records.len();
        for (w, next, conns) in wait_rounds(run) {
            for conn in conns {
                let reads = reads_of(run, conn, w + 1, next);
                let Some(&last) = reads.last() else {
                    continue;
                };
                // Stopping because the reply must wait for room is fine:
                // the fd is then re-armed with EPOLL_CTL_MOD.
                let backed_off = (w + 1..next).any(|x| {
                    let rec = &run.outcome.trace.records[x];
                    fd_role(run, x, 0) == Some(conn) && rec.is_a(&[Class::Write]) && short_write(rec)
                });
                if full_read(&run.outcome.trace.records[last]) && !backed_off {
                    return Verdict::fail(
                        format!(
                            "after epoll_wait reported {conn} (edge-triggered), the server read {conn} {} and went back to epoll_wait without reaching EAGAIN: the rest of the data was left unread, and no new edge will come for it",
                            if reads.len() == 1 {
                                "once".to_string()
                            } else {
                                format!("{} times", reads.len())
                            }
                        ),
                        evidence(
                            run,
                            std::iter::once(w)
                                .chain(reads)
                                .chain([next].into_iter().filter(|&n| n < len)),
                        ),
                    );
                }
            }
        }
    }
    Verdict::pass("every edge event was drained to EAGAIN")
}

/// With the listener registered with EPOLLET, each report of it is
/// followed by accepts until one fails with EAGAIN (or by an EPOLL_CTL_MOD
/// of the listener, which re-arms it): the clients queued at one edge get
/// no edge of their own. The failure, if any.
fn accepts_until_eagain(run: &Run) -> Option<Verdict> {
    // A listener registered level-triggered is reported again while
    // clients wait: one accept per report is then right.
    let listener_et = ctls(run).iter().any(|(_, op, t, ev)| {
        *op != "EPOLL_CTL_DEL"
            && t.is_listener()
            && ev.is_some_and(|e| e.events.contains(&"EPOLLET"))
    });
    if !listener_et {
        return None;
    }
    let records = &run.outcome.trace.records;
    let waits = records_where(run, |rec| rec.is_a(&[Class::EpollWait]));
    for (i, &w) in waits.iter().enumerate() {
        let reported = run.transcript.ready(w).is_some_and(|ready| {
            ready
                .iter()
                .any(|x| x.readable() && x.role.is_some_and(FdRole::is_listener))
        });
        if !reported {
            continue;
        }
        let next = waits.get(i + 1).copied().unwrap_or(records.len());
        let on_listener = |r: usize| fd_role(run, r, 0).is_some_and(FdRole::is_listener);
        let accepts: Vec<usize> = (w + 1..next)
            .filter(|&r| records[r].is_a(&[Class::Accept]) && on_listener(r))
            .collect();
        let rearmed = (w + 1..next).any(|r| {
            records[r].is_a(&[Class::EpollCtl])
                && matches!(records[r].args.get(1), Some(Arg::Sym("EPOLL_CTL_MOD")))
                && fd_role(run, r, 2).is_some_and(FdRole::is_listener)
        });
        let drained = accepts
            .last()
            .is_some_and(|&a| records[a].errno() == Some(libc::EAGAIN));
        if !drained && !rearmed && next < records.len() {
            return Some(Verdict::fail(
                format!(
                    "after epoll_wait reported L (edge-triggered), the server accepted {} and went back to epoll_wait without an accept failing with EAGAIN: clients queued at one edge get no edge of their own, so a second client that connected with the first is never accepted (until yet another connects)",
                    match accepts.len() {
                        0 => "nothing".to_string(),
                        1 => "once".to_string(),
                        n => format!("{n} times"),
                    }
                ),
                evidence(run, std::iter::once(w).chain(accepts).chain([next])),
            ));
        }
    }
    None
}

const BURSTS: &[&str] = &["level-burst", "edge-burst"];

/// [`large_replies`] in both modes, naming the mode that lost bytes; in
/// edge mode, when the reads stopped short of EAGAIN (`edge-drains`), that
/// is the cause the message points at, with its trace lines.
fn large_reply(runs: &Runs) -> Verdict {
    let verdict = large_replies(runs, STANDARD, BURSTS);
    if verdict.passed {
        return verdict;
    }
    // The scenario that failed, the first one in the order judged.
    let failed = STANDARD
        .iter()
        .find(|&&s| !large_replies(runs, &[s], &[]).passed)
        .or_else(|| BURSTS.iter().find(|&&s| !large_replies(runs, &[], &[s]).passed))
        .copied()
        .unwrap_or("level");
    let is_edge = edge(runs.get(failed));
    let mode = if is_edge {
        "edge-triggered (--trigger edge)"
    } else {
        "level-triggered (--trigger level)"
    };
    let said = format!("in {mode} mode (scenario \"{failed}\"): {}", verdict.message);
    let drains = edge_drains(runs);
    if is_edge && !drains.passed {
        return Verdict::fail(
            format!(
                "{said}; the bytes were never read, not lost in a write: after an edge-triggered event the server stopped reading before EAGAIN (see edge-drains), so the rest of the message waited for an edge that never comes; read until read fails with EAGAIN:"
            ),
            drains.evidence,
        );
    }
    Verdict::fail(said, verdict.evidence)
}

fn level_rereports(runs: &Runs) -> Verdict {
    let run = runs.get("level");
    let rounds = wait_rounds(run);
    for pair in rounds.windows(2) {
        let (w, next, conns) = &pair[0];
        for &conn in conns {
            let reads = reads_of(run, conn, w + 1, *next);
            if let [only] = reads[..]
                && full_read(&run.outcome.trace.records[only])
                && pair[1].0 == *next
                && pair[1].2.contains(&conn)
            {
                return Verdict::pass(format!(
                    "epoll_wait reported {conn} again after one read left data: {}",
                    run.transcript.record_text(*next)
                ));
            }
        }
    }
    let drained: Vec<usize> = rounds
        .iter()
        .find_map(|(w, next, conns)| {
            conns.iter().find_map(|&c| {
                let reads = reads_of(run, c, w + 1, *next);
                (reads.len() > 1).then(|| std::iter::once(*w).chain(reads).collect())
            })
        })
        .unwrap_or_default();
    Verdict::fail(
        format!(
            "with a {} byte message, epoll_wait never reported the same connection twice in a row: the level-triggered re-report did not show (read once per event in level mode)",
            super::BIG_MESSAGE
        ),
        evidence(run, drained),
    )
}

fn epollout(runs: &Runs) -> Verdict {
    for name in ["level-burst", "edge-burst"] {
        let run = runs.get(name);
        let blocked = blocked_writes(run);
        if !blocked.is_empty() {
            return Verdict::fail(
                format!(
                    "in {name}, while a client read its {} reply slowly, the server was found blocked in write:",
                    size_text(slow_burst_size())
                ),
                evidence(run, blocked),
            );
        }
        let asked = ctls(run).iter().any(|(_, op, t, ev)| {
            *op != "EPOLL_CTL_DEL"
                && t.is_conn()
                && ev.is_some_and(|e| e.events.contains(&"EPOLLOUT"))
        });
        let reported = reported_writable(run).is_some();
        if !(asked && reported) {
            let mut retries = records_where(run, |rec| {
                rec.is_a(&[Class::Write]) && rec.errno() == Some(libc::EAGAIN)
            });
            retries.truncate(3);
            return Verdict::fail(
                format!(
                    "in {name}, while a client read its {} reply slowly, {}",
                    size_text(slow_burst_size()),
                    if asked {
                        "epoll_wait never reported EPOLLOUT for the connection"
                    } else {
                        "no connection was registered for EPOLLOUT: the reply never waited for room the epoll way"
                    }
                ),
                evidence(run, retries),
            );
        }
    }
    Verdict::pass("large replies waited for EPOLLOUT")
}
