//! What a traced run shows, as facts that the labs' checks and `iolab
//! explain` both read: which records are the server's (from its first
//! socket on), each fd's role, the tasks and what created them, which thread
//! served which connection, and the trace lines that back a verdict.
//!
//! Facts are typed (an fd's role is an [`FdRole`], never its transcript
//! name); only [`evidence`] makes text, the transcript's own lines.

use crate::normalize::{FdRole, Transcript};
use crate::scenario::Outcome;
use crate::syscalls::Class;
use crate::trace::{Arg, Record, Ret, Tid};

/// One scenario's run, with its transcript: what every fact is read from.
pub struct Run {
    pub outcome: Outcome,
    pub transcript: Transcript,
}

/// The indices of the records of `run` that satisfy `pred`.
pub(crate) fn records_where(run: &Run, pred: impl Fn(&Record) -> bool) -> Vec<usize> {
    run.outcome
        .trace
        .records
        .iter()
        .enumerate()
        .filter(|(_, rec)| pred(rec))
        .map(|(r, _)| r)
        .collect()
}

/// At most this many trace lines back a verdict.
const EVIDENCE_LINES: usize = 6;

/// The transcript lines of records, without repeats, bounded.
pub(crate) fn evidence(run: &Run, records: impl IntoIterator<Item = usize>) -> Vec<String> {
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

/// Records that created a thread or process.
pub(crate) fn spawns(run: &Run) -> Vec<usize> {
    records_where(run, |r| {
        r.is_a(&[Class::Spawn]) && matches!(r.ret, Some(Ret::Ok(Arg::Tid(t))) if t > 0)
    })
}

/// A thread or process a task created, from the call that created it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Spawned {
    pub(crate) record: usize,
    pub(crate) parent: Tid,
    pub(crate) child: Tid,
    /// Created with `CLONE_VM|CLONE_THREAD`: a thread sharing memory.
    pub(crate) thread: bool,
}

/// Every thread and process created, in trace order.
pub(crate) fn spawned(run: &Run) -> Vec<Spawned> {
    spawns(run)
        .into_iter()
        .filter_map(|r| {
            let rec = &run.outcome.trace.records[r];
            let Some(Ret::Ok(Arg::Tid(child))) = rec.ret else {
                return None;
            };
            Some(Spawned {
                record: r,
                parent: rec.tid,
                child,
                thread: rec.has_flag(0, (libc::CLONE_THREAD | libc::CLONE_VM) as u64),
            })
        })
        .collect()
}

/// The server's main task: its first, unless that one only started
/// another thread of the same process, which listened (a JVM's launcher
/// thread waits while another runs `main`). A process that listened after
/// a fork (lab 6's wrong `listen-after-fork`) is not the main task: the
/// process that forked it is.
pub(crate) fn main_task(run: &Run) -> Tid {
    let trace = &run.outcome.trace;
    let Some(first) = trace.events.iter().find(|e| e.tid != 0) else {
        return 0;
    };
    trace
        .first_listen()
        .filter(|r| r.pid == first.pid)
        .map_or(first.tid, |r| r.tid)
}

/// The name a task has in the transcript (`main`, `T1`, `P1`).
pub(crate) fn task_name(run: &Run, tid: Tid) -> String {
    run.transcript.task_name(tid).unwrap_or("?").to_string()
}

/// The thread created for each connection: of the threads the main thread
/// created after accepting it (and before its next accept), the one that
/// read it first, else the first one. `(accept record, connection,
/// thread)`.
pub(crate) fn connection_threads(run: &Run) -> Vec<(usize, FdRole, Option<Tid>)> {
    let main = main_task(run);
    let spawned = spawned(run);
    let records = &run.outcome.trace.records;
    let accepts: Vec<(usize, FdRole)> = from_first_socket(run)
        .filter(|(_, rec)| rec.tid == main && rec.is_a(&[Class::Accept]))
        .filter_map(|(r, _)| Some((r, returned_role(run, r)?)))
        .collect();
    accepts
        .iter()
        .enumerate()
        .map(|(i, &(a, conn))| {
            let next = accepts.get(i + 1).map_or(usize::MAX, |&(r, _)| r);
            let created: Vec<Tid> = spawned
                .iter()
                .filter(|s| s.parent == main && s.thread && s.record > a && s.record < next)
                .map(|s| s.child)
                .collect();
            let reader = (a..records.len()).find_map(|r| {
                let rec = &records[r];
                (created.contains(&rec.tid)
                    && rec.is_a(&[Class::Read])
                    && fd_role(run, r, 0) == Some(conn))
                .then_some(rec.tid)
            });
            (a, conn, reader.or(created.first().copied()))
        })
        .collect()
}

/// The records from the first `socket` call on: what came before is the
/// language runtime starting up (Rust's polls its standard fds, say).
pub(crate) fn from_first_socket(run: &Run) -> impl Iterator<Item = (usize, &Record)> {
    let records = &run.outcome.trace.records;
    let start = records
        .iter()
        .position(|r| r.is_a(&[Class::Socket]))
        .unwrap_or(records.len());
    records.iter().enumerate().skip(start)
}

/// The role of the fd in argument `i` of record `r`.
pub(crate) fn fd_role(run: &Run, r: usize, i: usize) -> Option<FdRole> {
    let fd = run.outcome.trace.records[r].fd_arg(i)?;
    run.transcript.fd_role(r, fd)
}

/// Which argument is the fd a call takes bytes from: a read's fd, the
/// source of a `splice`, `tee` or `copy_file_range`, `sendfile`'s second.
pub(crate) fn source_arg(rec: &Record) -> Option<usize> {
    match rec.class() {
        Class::Read => Some(0),
        Class::Splice if rec.nr == libc::SYS_sendfile as u64 => Some(1),
        Class::Splice => Some(0),
        _ => None,
    }
}

/// The role of the fd record `r` takes bytes from (see [`source_arg`]):
/// a connection it reads, whether into a buffer or through a pipe.
pub(crate) fn source_role(run: &Run, r: usize) -> Option<FdRole> {
    fd_role(run, r, source_arg(&run.outcome.trace.records[r])?)
}

/// The role of the fd a successful call returned.
pub(crate) fn returned_role(run: &Run, r: usize) -> Option<FdRole> {
    match run.outcome.trace.records[r].ret {
        Some(Ret::Ok(Arg::Fd(fd))) => run.transcript.fd_role(r, fd),
        _ => None,
    }
}

/// The fds a record names: its fd arguments, the fds of its poll and
/// select sets, and the fd it returned.
pub(crate) fn fds_of(rec: &Record) -> Vec<i32> {
    let mut fds = Vec::new();
    for arg in &rec.args {
        match arg {
            Arg::Fd(fd) => fds.push(*fd),
            Arg::FdPair(a, b) => fds.extend([*a, *b]),
            Arg::PollFds(p) => fds.extend(p.iter().map(|p| p.fd)),
            Arg::FdSet { given, .. } => fds.extend(given),
            _ => {}
        }
    }
    if let Some(Ret::Ok(Arg::Fd(fd))) = rec.ret {
        fds.push(fd);
    }
    fds
}

/// Whether record `r` touches a socket the server serves on: its
/// listening socket or one of its connections.
pub(crate) fn touches_served(run: &Run, r: usize) -> bool {
    fds_of(&run.outcome.trace.records[r])
        .into_iter()
        .any(|fd| run.transcript.fd_role(r, fd).is_some_and(FdRole::is_served))
}

/// Why a task the server created counts against "one task serves".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Extra {
    /// A process: runtimes do not fork, servers that fork are another model.
    Process,
    /// It (or a task it created) made this call on the listening socket or
    /// a connection.
    Serves(usize),
    /// Its creator made one after every connection it accepted.
    PerConnection,
}

/// Every thread and process the server created, with why it counts
/// against one task; `None`: a helper thread (a runtime's GC, JIT, timer)
/// that never touched the listening socket or a connection, created once,
/// not per connection.
pub(crate) fn extra_tasks(run: &Run) -> Vec<(Spawned, Option<Extra>)> {
    let spawned = spawned(run);
    let records = &run.outcome.trace.records;
    // The tasks under each spawned one (itself included).
    // Creators that made a task after every connection they accepted
    // (two or more): a task per connection, whatever it does.
    let per_connection = |s: &Spawned| -> bool {
        let accepts: Vec<usize> = (0..records.len())
            .filter(|&r| {
                records[r].tid == s.parent
                    && records[r].is_a(&[Class::Accept])
                    && returned_role(run, r).is_some_and(FdRole::is_conn)
            })
            .collect();
        accepts.len() >= 2
            && accepts.iter().enumerate().all(|(i, &a)| {
                let next = accepts.get(i + 1).copied().unwrap_or(usize::MAX);
                spawned
                    .iter()
                    .any(|o| o.parent == s.parent && o.record > a && o.record < next)
            })
            && accepts.first().is_some_and(|&a| s.record > a)
    };
    // The thread that listened serves, wherever it was born: a JVM's
    // launcher thread starts the one that runs `main`. (A process that
    // started the listening one is a second process all the same.)
    let main = main_task(run);
    spawned
        .iter()
        .filter(|s| !(s.child == main && s.thread))
        .map(|s| {
            let tasks = with_descendants(&spawned, vec![s.child]);
            let why = if !s.thread {
                Some(Extra::Process)
            } else if let Some(r) = (0..records.len()).find(|&r| {
                let t = records[r].tid;
                t != main && tasks.contains(&t) && touches_served(run, r)
            }) {
                Some(Extra::Serves(r))
            } else if per_connection(s) {
                Some(Extra::PerConnection)
            } else {
                None
            };
            (*s, why)
        })
        .collect()
}

/// The helper threads of a run (see [`extra_tasks`]) and every task they
/// created: a runtime's, not the server's.
pub(crate) fn helper_tasks(run: &Run) -> Vec<Tid> {
    let helpers = extra_tasks(run)
        .into_iter()
        .filter(|(_, why)| why.is_none())
        .map(|(s, _)| s.child)
        .collect();
    with_descendants(&spawned(run), helpers)
}

/// `tasks` and every task they created, and those created, down the tree.
fn with_descendants(spawned: &[Spawned], mut tasks: Vec<Tid>) -> Vec<Tid> {
    let mut i = 0;
    while i < tasks.len() {
        let t = tasks[i];
        tasks.extend(spawned.iter().filter(|s| s.parent == t).map(|s| s.child));
        i += 1;
    }
    tasks
}

/// The epoll instances (their roles, `EP1`...) that had the listening
/// socket or a connection added: the server's, not a start-up probe's.
pub(crate) fn serving_epolls(run: &Run) -> Vec<FdRole> {
    let records = &run.outcome.trace.records;
    (0..records.len())
        .filter(|&r| {
            records[r].is_a(&[Class::EpollCtl])
                && matches!(records[r].args.get(1), Some(Arg::Sym("EPOLL_CTL_ADD")))
                && fd_role(run, r, 2).is_some_and(FdRole::is_served)
        })
        .filter_map(|r| fd_role(run, r, 0))
        .collect()
}
