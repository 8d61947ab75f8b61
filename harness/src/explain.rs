//! `iolab explain`: the I/O model of any TCP server, named from its trace.
//!
//! A standard probe drives the server the way the labs do (an idle period,
//! a silent client plus an active one, a burst, two clients at once), and
//! the answer is read off the trace on two axes, plus the lock:
//!
//! - `io:` how the server waits for its sockets: where its tasks sat while
//!   a client was connected and silent (`read` on the connection, `select`,
//!   `poll`, `epoll_wait`; level or edge from the `epoll_ctl` flags), or
//!   that it never sat anywhere and met `EAGAIN` instead;
//! - `concurrency:` who served each connection: the task that read it
//!   first, against the task that accepted it and when that one was born;
//! - `lock:` whether one lock serialized the threads' work: while two
//!   clients' requests ran at once, one serving thread waited on a futex
//!   word that another serving thread woke.
//!
//! The probe's two concurrent requests are lab 7's `cpu 100` command; a
//! server that does not know it answers them like any other bytes. Where
//! the trace does not settle a question the answer is `unsure`, with the
//! reasons, never a guess.

use std::fmt::Write as _;
use std::time::Duration;

use crate::analysis::{
    Extra, evidence, extra_tasks, fd_role, from_first_socket, main_task, returned_role,
    serving_epolls, source_role, spawned, task_name,
};
use crate::grade::Run;
use crate::normalize::{FdRole, normalize};
use crate::scenario::{self, Limits, Observed, Request, Scenario, ScenarioError, Settled, Step};
use crate::syscalls::Class;
use crate::trace::{Arg, Ret, Tid};
use crate::tracer::Spec;

/// The probe's burst: more than one read, less than the socket buffers
/// hold, so a server that echoes it never waits on a client that does not
/// read.
const BURST: usize = 32 * 1024;

/// The probe every server gets.
pub fn probe() -> Scenario {
    let cpu = |client| Request {
        client,
        data: b"cpu 100\n".to_vec(),
        expected: b"ok\n".to_vec(),
    };
    Scenario {
        name: "probe",
        args: &[],
        steps: vec![
            Step::Settle(IDLE),
            Step::Measure("idle spin", Duration::from_millis(300)),
            Step::Connect("A"),
            Step::Settle(SILENT),
            Step::Connect("B"),
            Step::Send("B", b"hello\n".to_vec()),
            Step::Settle(ACTIVE),
            Step::Send("A", crate::scenario::burst_data(BURST)),
            Step::Settle("after the burst"),
            Step::Close("A"),
            Step::Close("B"),
            Step::Settle("A and B closed"),
            Step::Connect("C"),
            Step::Connect("D"),
            Step::Settle("C and D connected"),
            Step::Requests(TOGETHER, vec![cpu("C"), cpu("D")]),
            Step::Close("C"),
            Step::Close("D"),
            Step::Settle("all closed"),
        ],
    }
}

const IDLE: &str = "idle";
const SILENT: &str = "A connected and silent";
const ACTIVE: &str = "B active while A is silent";
const TOGETHER: &str = "C and D at once";

/// One axis's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// `blocking`, `epoll-edge`, `thread-pool`, `global`, ... or `unsure`.
    pub value: String,
    /// Why, in a sentence (for `unsure`, the reasons, one per line).
    pub why: String,
    /// The transcript lines behind it (`task: line`).
    pub evidence: Vec<String>,
}

impl Answer {
    fn new(value: &str, why: impl Into<String>, evidence: Vec<String>) -> Answer {
        Answer {
            value: value.to_string(),
            why: why.into(),
            evidence,
        }
    }

    fn unsure(reasons: &[String]) -> Answer {
        Answer::new("unsure", reasons.join("\n"), Vec::new())
    }
}

/// What `iolab explain` says about a server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explanation {
    pub io: Answer,
    pub concurrency: Answer,
    pub lock: Answer,
}

impl Explanation {
    /// `io:`, `concurrency:` and `lock:` lines first (for scripts), then
    /// the evidence behind each.
    pub fn render(&self) -> String {
        let axes = [
            ("io", &self.io),
            ("concurrency", &self.concurrency),
            ("lock", &self.lock),
        ];
        let mut out = String::new();
        for (axis, a) in axes {
            let _ = writeln!(out, "{axis}: {}", a.value);
        }
        for (axis, a) in axes {
            let _ = writeln!(out, "\nevidence for {axis}: {}", a.value);
            for line in a.why.lines() {
                let _ = writeln!(out, "  - {line}");
            }
            for e in &a.evidence {
                let _ = writeln!(out, "    {e}");
            }
        }
        out
    }
}

/// Runs the probe against `spec` and names the server's model.
pub fn explain(spec: &Spec, limits: &Limits) -> Result<(Explanation, Run), ScenarioError> {
    let spec = spec.clone().with_filter(crate::labs::server_syscalls());
    let outcome = scenario::run(&spec, &probe(), limits)?;
    let transcript = normalize(&outcome.trace);
    let run = Run {
        outcome,
        transcript,
    };
    Ok((analyze(&run), run))
}

/// Names the model of a probe's run.
pub fn analyze(run: &Run) -> Explanation {
    Explanation {
        io: io(run),
        concurrency: concurrency(run),
        lock: lock(run),
    }
}

/// The transcript lines of records (each with its task), bounded like a
/// check's evidence.
fn lines(run: &Run, records: impl IntoIterator<Item = usize>) -> Vec<String> {
    evidence(run, records)
}

/// How a blocked call waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wait {
    /// In `read`/`recv` on a connection, or `accept` on the listener.
    Call {
        on_connection: bool,
    },
    Select,
    Poll,
    Epoll,
    Sleep,
    Other,
}

/// A `select` or `poll` of no fd is a sleep (Apache's master naps in
/// `select(0, NULL, NULL, NULL, {tv_sec=1, ...})`); one of fds that are
/// not the server's sockets (a pipe from its children), or an epoll
/// instance that never had one added, waits for something else.
fn wait_of(run: &Run, epolls: &[FdRole], r: usize) -> Wait {
    let rec = &run.outcome.trace.records[r];
    match rec.class() {
        Class::Select | Class::Poll if watches_no_fd(rec) => Wait::Sleep,
        Class::Select | Class::Poll | Class::EpollWait if !watches_a_socket(run, epolls, r) => {
            Wait::Other
        }
        Class::Select => Wait::Select,
        Class::Poll => Wait::Poll,
        Class::EpollWait => Wait::Epoll,
        Class::Sleep => Wait::Sleep,
        _ => {
            // A read of a connection (into a buffer, or spliced into a
            // pipe), or an accept on the listener.
            let role = if rec.is_a(&[Class::Accept]) {
                fd_role(run, r, 0)
            } else {
                source_role(run, r)
            };
            match role {
                Some(n) if n.is_conn() && !rec.is_a(&[Class::Accept]) => Wait::Call {
                    on_connection: true,
                },
                Some(n) if n.is_listener() && rec.is_a(&[Class::Accept]) => Wait::Call {
                    on_connection: false,
                },
                _ => Wait::Other,
            }
        }
    }
}

/// Whether a `select` or `poll` watches no fd at all.
fn watches_no_fd(rec: &crate::trace::Record) -> bool {
    !rec.args.iter().any(|a| match a {
        Arg::FdSet { given, .. } => !given.is_empty(),
        Arg::PollFds(fds) => !fds.is_empty(),
        _ => false,
    })
}

fn settled<'a>(run: &'a Run, label: &str) -> Option<&'a Settled> {
    match run.outcome.observed(label) {
        Some(Observed::Settled(s)) => Some(s),
        _ => None,
    }
}

/// The records entered while no client was active: the idle measurement,
/// and from A's connect to B's (A connected and silent).
fn quiet_records(run: &Run) -> Vec<usize> {
    let trace = &run.outcome.trace;
    let silent = match (trace.step("A: connect"), trace.step("B: connect")) {
        (Some(a), Some(b)) => a..b,
        (Some(a), None) => a..trace.events.len(),
        _ => 0..0,
    };
    let idle = match run.outcome.observed("idle spin") {
        Some(Observed::Measured(u)) => u.records.clone(),
        _ => 0..0,
    };
    (0..trace.records.len())
        .filter(|&r| {
            idle.contains(&r) || trace.records[r].enter.is_some_and(|e| silent.contains(&e))
        })
        .collect()
}

/// Of `records`, those on a served socket (`L` or a connection) that
/// failed with EAGAIN.
fn eagains(run: &Run, records: &[usize]) -> Vec<usize> {
    records
        .iter()
        .copied()
        .filter(|&r| {
            let rec = &run.outcome.trace.records[r];
            let role = if rec.is_a(&[Class::Accept]) {
                fd_role(run, r, 0)
            } else {
                source_role(run, r)
            };
            rec.errno() == Some(libc::EAGAIN) && role.is_some_and(|n| n.is_served())
        })
        .collect()
}

/// The `io:` axis.
fn io(run: &Run) -> Answer {
    let epolls = &serving_epolls(run);
    let Some(silent) = settled(run, SILENT) else {
        return Answer::unsure(&[format!(
            "the probe never got to a connected, silent client: {}",
            how_it_ended(run)
        )]);
    };
    match silent {
        Settled::Blocked(records) => io_blocked(run, epolls, records),
        Settled::Spinning { .. } | Settled::Busy { .. } => {
            // What it did while nothing happened: a readiness call that
            // returns at once names the call; else EAGAIN is the polling.
            let quiet = quiet_records(run);
            let waits: Vec<usize> = quiet
                .iter()
                .copied()
                .filter(|&r| {
                    matches!(
                        wait_of(run, epolls, r),
                        Wait::Select | Wait::Poll | Wait::Epoll
                    )
                })
                .collect();
            let mut apis: Vec<Wait> = Vec::new();
            for &r in &waits {
                let w = wait_of(run, epolls, r);
                if !apis.contains(&w) {
                    apis.push(w);
                }
            }
            if let [w] = apis.as_slice() {
                let value = api_name(run, *w);
                if value != "unsure" {
                    return Answer::new(
                        &value,
                        "it waits in a readiness call, but with a zero or tiny timeout in a loop: it never sleeps (polling)",
                        lines(run, waits.iter().rev().take(6).rev().copied()),
                    );
                }
            }
            let storms = eagains(run, &quiet);
            if apis.is_empty() && !storms.is_empty() {
                let per_sec = idle_rate(run, &storms);
                return Answer::new(
                    "nonblocking-polling",
                    format!(
                        "it never waited: while no client was active it kept calling read/accept on non-blocking sockets and got EAGAIN ({per_sec})"
                    ),
                    lines(run, storms.iter().rev().take(20).rev().copied()),
                );
            }
            Answer::unsure(&[format!(
                "with a client connected and silent the server never blocked; meanwhile it made {} readiness calls ({} kinds) and met EAGAIN {} times on its sockets",
                waits.len(),
                apis.len(),
                storms.len()
            )])
        }
        Settled::Gone => Answer::unsure(&[format!(
            "the server was gone before a client was connected and silent: {}",
            how_it_ended(run)
        )]),
    }
}

/// Where the tasks sat with a client connected and silent.
fn io_blocked(run: &Run, epolls: &[FdRole], records: &[usize]) -> Answer {
    let on_conn: Vec<usize> = records
        .iter()
        .copied()
        .filter(|&r| {
            wait_of(run, epolls, r)
                == Wait::Call {
                    on_connection: true,
                }
        })
        .collect();
    if !on_conn.is_empty() {
        let mut shown = on_conn.clone();
        shown.extend(records.iter().filter(|&&r| {
            wait_of(run, epolls, r)
                == Wait::Call {
                    on_connection: false,
                }
                || matches!(
                    wait_of(run, epolls, r),
                    Wait::Select | Wait::Poll | Wait::Epoll
                )
        }));
        let call = run.outcome.trace.records[on_conn[0]]
            .syscall()
            .map_or("read", |s| s.name);
        return Answer::new(
            "blocking",
            format!(
                "with a client connected and silent, a task sat in a plain {call} on the connection itself"
            ),
            lines(run, shown),
        );
    }
    let mut apis: Vec<Wait> = Vec::new();
    let mut waits = Vec::new();
    for &r in records {
        let w = wait_of(run, epolls, r);
        if matches!(w, Wait::Select | Wait::Poll | Wait::Epoll) {
            waits.push(r);
            if !apis.contains(&w) {
                apis.push(w);
            }
        }
    }
    match apis.as_slice() {
        [w] => {
            let value = api_name(run, *w);
            let mut shown = waits.clone();
            let why = match *w {
                Wait::Epoll => {
                    let (ctls, why) = epoll_registrations(run);
                    shown.extend(ctls);
                    why
                }
                Wait::Select => {
                    "with a client connected and silent, the server slept in select".to_string()
                }
                _ => "with a client connected and silent, the server slept in poll".to_string(),
            };
            if value == "unsure" {
                return Answer::unsure(&[why]);
            }
            Answer::new(&value, why, lines(run, shown))
        }
        [] => {
            let storms = eagains(run, &quiet_records(run));
            if !storms.is_empty()
                && records
                    .iter()
                    .any(|&r| wait_of(run, epolls, r) == Wait::Sleep)
            {
                return Answer::new(
                    "nonblocking-polling",
                    "it never waits on a socket: it tries non-blocking calls, meets EAGAIN, and sleeps a little between tries",
                    lines(
                        run,
                        storms
                            .iter()
                            .rev()
                            .take(4)
                            .rev()
                            .copied()
                            .chain(records.iter().copied()),
                    ),
                );
            }
            Answer::unsure(&[
                "with a client connected and silent, no task sat in a read on it nor in select, poll or epoll_wait; they were blocked in:".to_string(),
            ])
            .with_evidence(lines(run, records.iter().copied()))
        }
        _ => Answer::unsure(&[
            "different tasks waited in different readiness calls at once".to_string(),
        ])
        .with_evidence(lines(run, waits)),
    }
}

impl Answer {
    fn with_evidence(mut self, evidence: Vec<String>) -> Answer {
        self.evidence = evidence;
        self
    }
}

/// Whether a readiness call watches the listening socket or a connection:
/// has one in its set, or waits on an epoll instance that had one added
/// (`epolls`, the run's [`serving_epolls`]).
fn watches_a_socket(run: &Run, epolls: &[FdRole], r: usize) -> bool {
    let rec = &run.outcome.trace.records[r];
    let served = |fd: i32| run.transcript.fd_role(r, fd).is_some_and(|n| n.is_served());
    if rec.class() == Class::EpollWait {
        return fd_role(run, r, 0).is_some_and(|ep| epolls.contains(&ep));
    }
    rec.args.iter().any(|a| match a {
        Arg::FdSet { given, .. } => given.iter().any(|&fd| served(fd)),
        Arg::PollFds(fds) => fds.iter().any(|p| served(p.fd)),
        _ => false,
    })
}

/// The `io:` name of a readiness call; for epoll, level or edge.
fn api_name(run: &Run, w: Wait) -> String {
    match w {
        Wait::Select => "select".into(),
        Wait::Poll => "poll".into(),
        Wait::Epoll => match edge_registrations(run) {
            (true, false) => "epoll-edge".into(),
            (false, true) => "epoll-level".into(),
            _ => "unsure".into(),
        },
        _ => "unsure".into(),
    }
}

/// The successful `epoll_ctl` ADD and MOD calls on connections, and
/// whether each asked for `EPOLLET`.
fn connection_ctls(run: &Run) -> Vec<(usize, bool)> {
    from_first_socket(run)
        .filter(|(r, rec)| {
            rec.class() == Class::EpollCtl
                && matches!(rec.ret, Some(Ret::Ok(_)))
                && matches!(
                    rec.args.get(1),
                    Some(Arg::Sym("EPOLL_CTL_ADD" | "EPOLL_CTL_MOD"))
                )
                && fd_role(run, *r, 2).is_some_and(FdRole::is_conn)
        })
        .map(|(r, rec)| {
            let et =
                matches!(rec.args.get(3), Some(Arg::Epoll(e)) if e.events.contains(&"EPOLLET"));
            (r, et)
        })
        .collect()
}

/// (some connection registered edge-triggered, some level-triggered).
fn edge_registrations(run: &Run) -> (bool, bool) {
    let ctls = connection_ctls(run);
    (
        ctls.iter().any(|(_, et)| *et),
        ctls.iter().any(|(_, et)| !*et),
    )
}

fn epoll_registrations(run: &Run) -> (Vec<usize>, String) {
    let ctls = connection_ctls(run);
    let records: Vec<usize> = ctls.iter().map(|(r, _)| *r).collect();
    let why = match edge_registrations(run) {
        (true, false) => {
            "with a client connected and silent, the server slept in epoll_wait; every connection was registered with EPOLLET (edge-triggered)"
        }
        (false, true) => {
            "with a client connected and silent, the server slept in epoll_wait; no connection was registered with EPOLLET (level-triggered)"
        }
        (true, true) => {
            "the server slept in epoll_wait, but registered some connections with EPOLLET and others without: neither level nor edge throughout"
        }
        (false, false) => {
            "the server slept in epoll_wait, but never registered a connection with epoll_ctl, so level or edge cannot be told"
        }
    };
    (records, why.to_string())
}

/// EAGAINs per second during the idle measurement, in words.
fn idle_rate(run: &Run, storms: &[usize]) -> String {
    match run.outcome.observed("idle spin") {
        Some(Observed::Measured(u)) if u.wall > Duration::ZERO => {
            let n: u64 = storms
                .iter()
                .filter(|&&r| u.records.contains(&r))
                .map(|&r| run.outcome.trace.records[r].times())
                .sum();
            format!(
                "{:.0} EAGAIN per second while idle",
                n as f64 / u.wall.as_secs_f64()
            )
        }
        _ => format!("{} EAGAIN", storms.len()),
    }
}

fn how_it_ended(run: &Run) -> String {
    match run.outcome.ended_by_itself {
        Some(t) => format!("the server {t}"),
        None => "the server stopped answering the probe".to_string(),
    }
}

/// How one connection was served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Served {
    /// By the task the server started with.
    Main,
    /// By a thread created after the connection was accepted.
    NewThread,
    /// By a thread that existed before the connection was accepted.
    OldThread,
    /// By a process forked after the connection was accepted.
    NewProcess,
    /// By a process that existed before (and accepted it itself).
    OldProcess,
}

/// The server's task and its pid: the task that listened. A wrapper that
/// started it (a shell script, `make run`, a reloader) is not part of its
/// model.
fn server_task(run: &Run) -> (Tid, Tid) {
    let main = run
        .outcome
        .trace
        .first_listen()
        .map_or_else(|| main_task(run), |r| r.tid);
    let main_pid = run
        .outcome
        .trace
        .records
        .iter()
        .find(|r| r.tid == main)
        .map_or(main, |r| r.pid);
    (main, main_pid)
}

/// The `concurrency:` axis.
fn concurrency(run: &Run) -> Answer {
    let records = &run.outcome.trace.records;
    let (main, main_pid) = server_task(run);
    let spawned = spawned(run);
    let mut served: Vec<(String, usize, usize, Served, Tid)> = Vec::new();
    let mut unread: Vec<String> = Vec::new();
    for (a, rec) in from_first_socket(run) {
        if !rec.is_a(&[Class::Accept]) {
            continue;
        }
        let Some(conn) = returned_role(run, a).filter(|n| n.is_conn()) else {
            continue;
        };
        let reader = (a..records.len()).find(|&r| {
            source_role(run, r) == Some(conn) && matches!(records[r].ret, Some(Ret::Ok(_)))
        });
        let Some(read) = reader else {
            unread.push(conn.to_string());
            continue;
        };
        let tid = records[read].tid;
        let how = if tid == main {
            Served::Main
        } else {
            let born = spawned
                .iter()
                .find(|s| s.child == tid)
                .or_else(|| spawned.iter().find(|s| s.child == records[read].pid));
            match born {
                // Created for it: by the task that accepted it, after the
                // accept and before that task's next one.
                Some(s) if s.thread && s.child == tid => {
                    let next_accept = (a + 1..records.len())
                        .find(|&r| records[r].tid == rec.tid && records[r].is_a(&[Class::Accept]))
                        .unwrap_or(usize::MAX);
                    if s.record > a && s.parent == rec.tid && s.record < next_accept {
                        Served::NewThread
                    } else {
                        Served::OldThread
                    }
                }
                Some(s) if !s.thread => {
                    if s.record > a {
                        Served::NewProcess
                    } else {
                        Served::OldProcess
                    }
                }
                // A thread of a forked process, or a task whose birth the
                // trace does not show: judged by its process.
                _ => Served::OldThread,
            }
        };
        served.push((conn.to_string(), a, read, how, tid));
    }
    if served.is_empty() {
        let mut reasons = vec!["the server read no connection during the probe".to_string()];
        if !unread.is_empty() {
            reasons.push(format!(
                "it accepted {} but never read them",
                unread.join(", ")
            ));
        }
        return Answer::unsure(&reasons);
    }
    if served.len() < 2 {
        return Answer::unsure(&[format!(
            "only {} was served before the probe stopped ({}); telling the models apart takes two connections or more",
            served[0].0,
            how_it_ended(run)
        )]);
    }
    let kinds: Vec<Served> = {
        let mut k: Vec<Served> = served.iter().map(|s| s.3).collect();
        k.sort_by_key(|s| *s as u8);
        k.dedup();
        k
    };
    // Each connection's accept and first read, and the creation of the
    // task that read it, in the order they happened: a pool's threads
    // show up before the connections they serve.
    let shown = |extra: &[usize]| {
        let mut rs: Vec<usize> = extra.to_vec();
        for s in &served {
            rs.push(s.1);
            if let Some(sp) = spawned.iter().find(|sp| sp.child == s.4) {
                rs.push(sp.record);
            }
            rs.push(s.2);
        }
        rs.sort_unstable();
        rs.dedup();
        lines(run, rs)
    };
    let distinct = |kind: Served| {
        let tids: Vec<Tid> = served.iter().filter(|s| s.3 == kind).map(|s| s.4).collect();
        let mut unique = tids.clone();
        unique.sort_unstable();
        unique.dedup();
        unique.len() == tids.len()
    };
    // Threads served every connection: a pool (of one process, when the
    // first task is one of them; of worker processes, each with its own).
    let by_threads = served.iter().all(|s| {
        matches!(s.3, Served::NewThread | Served::OldThread)
            || (s.3 == Served::Main && served.iter().all(|o| records[o.2].pid == main_pid))
    });
    match kinds.as_slice() {
        [Served::Main] => {
            // Threads that stood ready to serve (waited on the listening
            // socket, or touched a connection) make a pool, whoever this
            // run's connections happened to go to.
            let ready = ready_threads(run, main, main_pid);
            if !ready.is_empty() {
                let creations: Vec<usize> = spawned
                    .iter()
                    .filter(|s| ready.iter().any(|&(t, _)| t == s.child))
                    .map(|s| s.record)
                    .collect();
                let waits: Vec<usize> = ready.iter().map(|&(_, r)| r).collect();
                return Answer::new(
                    "thread-pool",
                    format!(
                        "{} thread(s) besides the first waited for connections on the listening socket or served one, though in this run the first task read every connection first",
                        ready.len()
                    ),
                    shown(&[creations, waits].concat()),
                );
            }
            let helpers = spawned.iter().filter(|s| s.parent == main).count();
            let why = if helpers == 0 {
                "one task accepted and served every connection; it created no thread or process"
                    .to_string()
            } else {
                format!(
                    "the first task accepted and served every connection ({helpers} other task(s) it created never read one)"
                )
            };
            Answer::new("single", why, shown(&[]))
        }
        [Served::NewThread] if distinct(Served::NewThread) => Answer::new(
            "thread-per-connection",
            "after each accept, a new thread (CLONE_THREAD) was created and it served that connection",
            shown(&[]),
        ),
        _ if by_threads => Answer::new(
            "thread-pool",
            "connections were served by threads of one process that were not each created for the connection they served: created before it arrived, reused from one connection to the next, or the first task itself",
            shown(&[]),
        ),
        [Served::NewProcess] if distinct(Served::NewProcess) => Answer::new(
            "process-per-connection",
            "after each accept, a child process was forked (no CLONE_VM) and it served that connection",
            shown(&[]),
        ),
        [Served::OldProcess] => {
            let pids: Vec<Tid> = {
                let mut p: Vec<Tid> = served.iter().map(|s| records[s.2].pid).collect();
                p.sort_unstable();
                p.dedup();
                p
            };
            let accepted_by_server = served.iter().all(|s| records[s.1].pid == records[s.2].pid);
            if accepted_by_server && pids.len() >= 2 {
                Answer::new(
                    "prefork",
                    format!(
                        "processes forked before any client arrived accepted on the shared listening socket and served what they accepted ({} of them served the probe)",
                        pids.len()
                    ),
                    shown(&[]),
                )
            } else {
                Answer::unsure(&[if accepted_by_server {
                    "one process, forked before any client arrived, served every connection: a prefork server with one worker, or a wrapper the trace started the server from".to_string()
                } else {
                    "connections were served by processes that existed before they arrived, but accepted by another process (passed over a socket?)".to_string()
                }])
                .with_evidence(shown(&[]))
            }
        }
        _ => {
            let reasons: Vec<String> = served
                .iter()
                .map(|(conn, _, _, how, tid)| {
                    format!(
                        "{conn} was served by {} ({})",
                        task_name(run, *tid),
                        match how {
                            Served::Main => "the first task",
                            Served::NewThread => "a thread created for it",
                            Served::OldThread => "a thread that existed before it",
                            Served::NewProcess => "a process forked for it",
                            Served::OldProcess => "a process that existed before it",
                        }
                    )
                })
                .collect();
            Answer::unsure(&reasons).with_evidence(shown(&[]))
        }
    }
}

/// The epoll instances the listening socket was added to.
fn listening_epolls(run: &Run) -> Vec<FdRole> {
    let records = &run.outcome.trace.records;
    (0..records.len())
        .filter(|&r| {
            records[r].is_a(&[Class::EpollCtl])
                && matches!(records[r].args.get(1), Some(Arg::Sym("EPOLL_CTL_ADD")))
                && fd_role(run, r, 2).is_some_and(FdRole::is_listener)
        })
        .filter_map(|r| fd_role(run, r, 0))
        .collect()
}

/// The threads of the server's process, besides `main`, that stood ready
/// to serve: each with its first call that waited for a connection on the
/// listening socket (an accept, a `select`/`poll` of it, an `epoll_wait`
/// on an instance it was added to) or touched the listener or a
/// connection. A runtime's helper threads (GC, timers) do neither.
fn ready_threads(run: &Run, main: Tid, main_pid: Tid) -> Vec<(Tid, usize)> {
    let threads: Vec<Tid> = spawned(run)
        .iter()
        .filter(|s| s.thread && s.child != main)
        .map(|s| s.child)
        .collect();
    let listening_epolls = listening_epolls(run);
    let serving: Vec<Tid> = extra_tasks(run)
        .into_iter()
        .filter(|(_, why)| matches!(why, Some(Extra::Serves(_))))
        .map(|(s, _)| s.child)
        .collect();
    let mut ready: Vec<(Tid, usize)> = Vec::new();
    for (r, rec) in from_first_socket(run) {
        if rec.pid != main_pid
            || !threads.contains(&rec.tid)
            || ready.iter().any(|&(t, _)| t == rec.tid)
        {
            continue;
        }
        let waits = match rec.class() {
            Class::EpollWait => fd_role(run, r, 0).is_some_and(|ep| listening_epolls.contains(&ep)),
            _ => serving.contains(&rec.tid) && crate::analysis::touches_served(run, r),
        };
        if waits {
            ready.push((rec.tid, r));
        }
    }
    ready
}

/// How many times each of two serving threads must wait for the other to
/// show a lock they take turns on (lab 7's 5 ms switch interval makes
/// about ten each way in two 100 ms requests).
const MIN_HANDOFFS: usize = 3;

/// The `lock:` axis.
fn lock(run: &Run) -> Answer {
    let records = &run.outcome.trace.records;
    let spawned = spawned(run);
    let threads: Vec<Tid> = spawned
        .iter()
        .filter(|s| s.thread)
        .map(|s| s.child)
        .collect();
    // The threads that share memory and serve: those of one process that
    // read a connection in this run, and those that stood ready to (a
    // pool's threads, whichever of them this run's clients went to), so
    // that the answer is the server's and not the run's.
    let (main, main_pid) = server_task(run);
    let serving: Vec<Tid> = {
        let mut by_pid: Vec<(Tid, Tid)> = from_first_socket(run)
            .filter(|(r, rec)| {
                (threads.contains(&rec.tid) || rec.tid == main)
                    && source_role(run, *r).is_some_and(FdRole::is_conn)
            })
            .map(|(_, rec)| (rec.pid, rec.tid))
            .chain(
                ready_threads(run, main, main_pid)
                    .into_iter()
                    .map(|(t, _)| (main_pid, t)),
            )
            .collect();
        // The first task too when it ran an event loop of its own on the
        // listener (haproxy's first loop), whoever this run's clients
        // reached.
        let epolls = listening_epolls(run);
        if from_first_socket(run).any(|(r, rec)| {
            rec.tid == main
                && rec.is_a(&[Class::EpollWait])
                && fd_role(run, r, 0).is_some_and(|ep| epolls.contains(&ep))
        }) {
            by_pid.push((main_pid, main));
        }
        by_pid.sort_unstable();
        by_pid.dedup();
        let most = by_pid
            .iter()
            .map(|&(p, _)| p)
            .max_by_key(|&p| by_pid.iter().filter(|&&(q, _)| q == p).count());
        by_pid
            .iter()
            .filter(|&&(p, _)| Some(p) == most)
            .map(|&(_, t)| t)
            .collect()
    };
    let events = match run.outcome.observed(TOGETHER) {
        Some(Observed::Timed { events, .. }) => events.clone(),
        _ => {
            return Answer::unsure(&[format!(
                "the probe never got to two clients at once ({})",
                how_it_ended(run)
            )]);
        }
    };
    if serving.len() < 2 {
        return Answer::new(
            "none",
            if threads.is_empty() {
                "no task shares memory with another (no thread was created), so no lock can serialize them".to_string()
            } else {
                "fewer than two threads of one process served connections or stood ready to, so there was no work to serialize across threads".to_string()
            },
            Vec::new(),
        );
    }
    let handoffs: Vec<(usize, usize)> = run
        .outcome
        .trace
        .futex_handoffs()
        .into_iter()
        .filter(|&(wait, wake)| {
            let w = &records[wait];
            w.enter.is_some_and(|e| events.contains(&e))
                && serving.contains(&w.tid)
                && serving.contains(&records[wake].tid)
                && w.tid != records[wake].tid
        })
        .collect();
    // Turns: some pair of threads each waited for the other at least
    // MIN_HANDOFFS times. A runtime's brief lock (CPython's GIL around an
    // echo) can hand off once or twice when the machine preempts its holder;
    // a lock held for the work hands off again and again.
    let count = |waiter: Tid, waker: Tid| {
        handoffs
            .iter()
            .filter(|&&(w, k)| records[w].tid == waiter && records[k].tid == waker)
            .count()
    };
    let turns = handoffs.iter().any(|&(w, k)| {
        let (a, b) = (records[w].tid, records[k].tid);
        count(a, b) >= MIN_HANDOFFS && count(b, a) >= MIN_HANDOFFS
    });
    let words: Vec<_> = {
        let mut w: Vec<u64> = handoffs
            .iter()
            .filter_map(|&(wait, _)| records[wait].futex().map(|(_, addr)| addr))
            .collect();
        w.sort_unstable();
        w.dedup();
        w
    };
    if turns && words.len() == 1 {
        let shown = handoffs.iter().take(3).flat_map(|&(a, b)| [a, b]);
        return Answer::new(
            "global",
            format!(
                "while two clients' requests ran at once, the serving threads took turns on one futex word: {} hand-off(s), one thread waiting until another woke it",
                handoffs.len()
            ),
            lines(run, shown),
        );
    }
    let mut reasons = vec![format!(
        "{} threads of one process served connections or stood ready to, and while two requests ran at once they did not take turns on one futex word ({} hand-off(s) between them)",
        serving.len(),
        handoffs.len()
    )];
    reasons.push(
        "a lock held only for a moment (or work too short to contend) would not show: the probe cannot tell"
            .to_string(),
    );
    if words.len() > 1 {
        reasons.push(format!("the waits were on {} different words", words.len()));
    }
    Answer::unsure(&reasons).with_evidence(lines(run, handoffs.iter().flat_map(|&(a, b)| [a, b])))
}
