//! Who the server is, in a trace of everything the harness started.
//!
//! A student runs a solution the way they always do: `python3 server.py`
//! through a pyenv shim (a bash script that forks subshells before it
//! execs Python), `sh -c`, `cargo run`, `go run`, `env`, `timeout`. The
//! server is the process that listened, from its last `execve` on, with
//! the threads and processes it starts afterwards. The programs before it
//! (the images it replaced, its ancestors, their other children) are its
//! launcher: left out of the checks, the transcripts and the snapshot
//! comparison, and named in the report. A launcher that does more than
//! fork, exec and wait (makes a socket call, takes a descriptor of
//! another process) is not transparent: then nothing is left out, and a
//! finding says why.

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use crate::syscalls::Class;
use crate::trace::{Arg, Event, EventKind, SpawnKind, Tid, Trace};

/// The syscalls a transparent launcher never makes: every way to take
/// part in the server's I/O. A socket of its own (cargo's `socketpair`, a
/// package manager's download) is its business; binding, listening,
/// accepting, receiving descriptors (`SCM_RIGHTS` comes by `recvmsg`) or
/// taking another process's (`pidfd_getfd`) is not, and neither is
/// connecting to the server.
const SERVING: &[Class] = &[Class::Bind, Class::Listen, Class::Accept];

/// Other calls no launcher makes: receiving descriptors, taking another
/// process's.
const TAKING_FDS: &[&str] = &["recvmsg", "recvmmsg", "pidfd_getfd"];

/// How the traced program relates to the server in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Separation {
    /// The traced program is the server: nothing ran before its program.
    Whole,
    /// A launcher started the server, which begins at `from`.
    Launched(Launch),
    /// A launcher did more than launch: it is graded with the server.
    Opaque {
        /// The launcher's programs, as [`Launch::launchers`].
        launchers: Vec<String>,
        /// The launcher's first call that is no launcher's business.
        record: usize,
    },
}

/// A server started by a launcher.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Launch {
    /// The server's process (the one that exec'd the server's program).
    pub pid: Tid,
    /// The event index where the server begins: its `execve`'s entry.
    pub from: usize,
    /// The tasks that are the server's, with the event index from which
    /// each is.
    pub tasks: HashMap<Tid, usize>,
    /// The programs that led to the server, in order (`/usr/bin/env`,
    /// `/root/.pyenv/shims/python3`, `cargo`).
    pub launchers: Vec<String>,
    /// How many other processes the launcher ran (a shim's subshells).
    pub helpers: usize,
}

impl Launch {
    /// `launched by: /root/.pyenv/shims/python3 → pyenv → pyenv-exec (and 38
    /// short-lived processes it ran)`, for reports.
    pub fn describe(&self) -> String {
        let mut s = self.launchers.join(" → ");
        if self.helpers > 0 {
            s.push_str(&format!(
                " (and {} other process{} it ran)",
                self.helpers,
                if self.helpers == 1 { "" } else { "es" }
            ));
        }
        s
    }
}

/// Finds the server in `trace`: the process that listened first, from its
/// last exec on.
pub fn separate(trace: &Trace) -> Separation {
    let Some(listen) = trace.first_listen() else {
        return Separation::Whole;
    };
    let events = &trace.events;
    let before = listen.enter.unwrap_or(events.len());
    // The port it listens on, as its bind or a getsockname gave it.
    let port = trace
        .records
        .iter()
        .filter(|r| r.is_a(&[Class::Bind, Class::SockName]) && r.pid == listen.pid)
        .find_map(|r| match r.args.get(1) {
            Some(Arg::Addr(a)) => a.port().filter(|&p| p != 0),
            _ => None,
        });
    // Process parent by child process, and where each was born.
    let mut parent: HashMap<Tid, (Tid, usize)> = HashMap::new();
    for (i, e) in events.iter().enumerate() {
        if let EventKind::Spawn {
            child,
            kind: SpawnKind::Process,
        } = e.kind
        {
            parent.entry(child).or_insert((e.pid, i));
        }
    }
    // Walk up from the listener to the last exec of its program.
    let (mut proc, mut until) = (listen.pid, before);
    let exec = loop {
        let found = (0..until)
            .rev()
            .find(|&i| events[i].pid == proc && matches!(events[i].kind, EventKind::Exec { .. }));
        if let Some(i) = found {
            break i;
        }
        match parent.get(&proc) {
            Some(&(p, born)) if born < until => (proc, until) = (p, born),
            _ => return Separation::Whole,
        }
    };
    let root = events.iter().find(|e| e.tid != 0).map(|e| e.pid);
    let first_exec = events
        .iter()
        .position(|e| matches!(e.kind, EventKind::Exec { .. }));
    if Some(proc) == root && first_exec == Some(exec) {
        return Separation::Whole;
    }
    let (exec_tid, former) = match &events[exec].kind {
        EventKind::Exec { former, .. } => (events[exec].tid, *former),
        _ => unreachable!("found as an exec"),
    };
    // The server begins at its execve's entry.
    let from = trace
        .records
        .iter()
        .filter(|r| {
            r.is_a(&[Class::Exec])
                && (r.tid == exec_tid || r.tid == former)
                && r.enter.is_some_and(|e| e < exec)
                && r.exit.is_none_or(|e| e > exec)
        })
        .filter_map(|r| r.enter)
        .max()
        .unwrap_or(exec);
    let mut tasks: HashMap<Tid, usize> = HashMap::new();
    tasks.insert(exec_tid, from);
    tasks.insert(former, from);
    // Where each tid last ended, so far: a child is the server's from just
    // after that (its own first events may come before its parent's spawn
    // event: the kernel runs it at once), not from the spawn.
    let mut ended: HashMap<Tid, usize> = HashMap::new();
    for (i, e) in events.iter().enumerate() {
        match e.kind {
            EventKind::Gone(_) => {
                ended.insert(e.tid, i);
            }
            EventKind::Spawn { child, .. } if i >= from && tasks.contains_key(&e.tid) => {
                let since = ended.get(&child).map_or(from, |&g| (g + 1).max(from));
                tasks.entry(child).or_insert(since);
            }
            _ => {}
        }
    }
    // The launcher: every task of the trace that is not the server's.
    let is_server = |e: &Event, i: usize| tasks.get(&e.tid).is_some_and(|&f| i >= f);
    let launchers = lineage(events, &parent, proc, exec);
    let mut others: HashSet<Tid> = HashSet::new();
    let mut on_path: HashSet<Tid> = HashSet::new();
    let mut p = Some(proc);
    while let Some(q) = p {
        on_path.insert(q);
        p = parent.get(&q).map(|&(pp, _)| pp);
    }
    for (i, e) in events.iter().enumerate() {
        if e.tid != 0 && !is_server(e, i) && !on_path.contains(&e.pid) {
            others.insert(e.pid);
        }
    }
    for (r, rec) in trace.records.iter().enumerate() {
        let Some(enter) = rec.enter.or(rec.exit) else {
            continue;
        };
        let to_server = rec.is_a(&[Class::Connect])
            && matches!(rec.args.get(1), Some(Arg::Addr(a)) if a.port().is_some() && a.port() == port);
        if !is_server(&events[enter], enter)
            && (rec.is_a(SERVING) || rec.is(TAKING_FDS) || to_server)
        {
            return Separation::Opaque {
                launchers,
                record: r,
            };
        }
    }
    Separation::Launched(Launch {
        pid: proc,
        from,
        tasks,
        launchers,
        helpers: others.len(),
    })
}

/// The programs that ran before the server's, along its line of descent:
/// each ancestor's images and its own earlier ones, outermost first, as
/// each `execve` named them.
fn lineage(
    events: &[Event],
    parent: &HashMap<Tid, (Tid, usize)>,
    proc: Tid,
    exec: usize,
) -> Vec<String> {
    let mut chain = vec![(proc, exec)];
    let mut p = proc;
    while let Some(&(pp, born)) = parent.get(&p) {
        chain.push((pp, born));
        p = pp;
    }
    let mut out: Vec<String> = Vec::new();
    for (p, until) in chain.into_iter().rev() {
        for e in &events[..until] {
            if e.pid == p
                && let EventKind::Exec { program, .. } = &e.kind
            {
                out.push(program.clone());
            }
        }
    }
    out.dedup();
    out
}

/// Where records and events of a trace went in the server's trace.
#[derive(Clone, Debug, Default)]
pub struct Remap {
    records: Vec<Option<usize>>,
    events: Vec<Option<usize>>,
}

impl Remap {
    /// The server trace's index of record `r`, if it is the server's.
    pub fn record(&self, r: usize) -> Option<usize> {
        self.records.get(r).copied().flatten()
    }

    /// A range of records, as the records of the server's in it.
    pub fn records(&self, range: Range<usize>) -> Range<usize> {
        bounds(&self.records, range)
    }

    /// A range of events, as the events of the server's in it.
    pub fn events(&self, range: Range<usize>) -> Range<usize> {
        bounds(&self.events, range)
    }
}

fn bounds(map: &[Option<usize>], range: Range<usize>) -> Range<usize> {
    let next = |from: usize| -> Option<usize> { map.iter().skip(from).find_map(|m| *m) };
    let total = map.iter().rev().find_map(|m| *m).map_or(0, |m| m + 1);
    let start = next(range.start).unwrap_or(total);
    let end = next(range.end).unwrap_or(total);
    start..end.max(start)
}

/// The server's trace: the events of its tasks (from where each became
/// the server's) and every scenario step, and where the old indices went.
pub fn server_trace(trace: &Trace, launch: &Launch) -> (Trace, Remap) {
    let mut remap = Remap {
        records: vec![None; trace.records.len()],
        events: vec![None; trace.events.len()],
    };
    let mut kept = Trace::new();
    for (i, e) in trace.events.iter().enumerate() {
        let keep = e.tid == 0 || launch.tasks.get(&e.tid).is_some_and(|&f| i >= f);
        if keep {
            remap.events[i] = Some(kept.events.len());
            kept.push(e.clone());
        }
    }
    for (r, rec) in trace.records.iter().enumerate() {
        let new = [rec.enter, rec.exit]
            .into_iter()
            .flatten()
            .find_map(|e| remap.events[e].and_then(|n| kept.record_of_event(n)));
        remap.records[r] = new;
    }
    (kept, remap)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{Call, Ret, Return, Termination};
    use std::time::Duration;

    /// A trace built from `(tid, pid, kind)`s, a millisecond apart.
    fn trace(events: Vec<(Tid, Tid, EventKind)>) -> Trace {
        Trace::from_events(
            events
                .into_iter()
                .enumerate()
                .map(|(i, (tid, pid, kind))| Event {
                    tid,
                    pid,
                    at: Duration::from_millis(i as u64),
                    kind,
                }),
        )
    }

    fn call(name: &str, args: Vec<Arg>) -> EventKind {
        let nr = crate::syscalls::number(name).expect("a syscall");
        EventKind::Enter(Call { nr, args })
    }

    fn ret(name: &str, value: Arg) -> EventKind {
        let nr = crate::syscalls::number(name).expect("a syscall");
        EventKind::Exit(Return {
            nr,
            ret: Ret::Ok(value),
            outs: Vec::new(),
        })
    }

    fn exec(program: &str, by: Tid) -> EventKind {
        EventKind::Exec {
            former: by,
            program: program.to_string(),
        }
    }

    /// A shim (pid 10) that forks a subshell (11), then execs the server,
    /// which listens, is connected to, and reads.
    fn shimmed() -> Trace {
        trace(vec![
            (10, 10, exec("/shims/python3", 10)),
            (10, 10, call("clone", vec![])),
            (
                10,
                10,
                EventKind::Spawn {
                    child: 11,
                    kind: SpawnKind::Process,
                },
            ),
            (10, 10, ret("clone", Arg::Tid(11))),
            (11, 11, call("write", vec![Arg::Fd(1)])),
            (11, 11, ret("write", Arg::Int(3))),
            (11, 11, EventKind::Gone(Termination::Exited(0))),
            (
                10,
                10,
                call("execve", vec![Arg::Str("/usr/bin/python3".into())]),
            ),
            (10, 10, exec("/usr/bin/python3", 10)),
            (10, 10, ret("execve", Arg::Int(0))),
            (10, 10, call("listen", vec![Arg::Fd(3), Arg::Int(128)])),
            (10, 10, ret("listen", Arg::Int(0))),
            (0, 0, EventKind::Step("A: connect".into())),
            (10, 10, call("read", vec![Arg::Fd(4)])),
        ])
    }

    #[test]
    fn a_shim_and_its_subshell_are_the_launcher() {
        let t = shimmed();
        let Separation::Launched(launch) = separate(&t) else {
            panic!("{:?}", separate(&t));
        };
        assert_eq!(launch.pid, 10);
        assert_eq!(launch.launchers, vec!["/shims/python3"]);
        assert_eq!(launch.helpers, 1, "the subshell");
        assert!(launch.describe().contains("(and 1 other process it ran)"));
        let (server, remap) = server_trace(&t, &launch);
        // The execve on: execve, listen, the step, the read.
        let names: Vec<&str> = server.records.iter().map(|r| r.name()).collect();
        assert_eq!(names, ["execve", "listen", "read"]);
        assert!(server.events.iter().all(|e| e.tid != 11));
        assert_eq!(remap.record(0), None, "the shim's clone is gone");
        assert_eq!(remap.record(4), Some(2), "the read");
        assert_eq!(remap.events(0..t.events.len()), 0..server.events.len());
    }

    #[test]
    fn a_child_seen_before_its_spawn_is_the_servers() {
        let mut events: Vec<(Tid, Tid, EventKind)> = Vec::new();
        for e in shimmed().events {
            events.push((e.tid, e.pid, e.kind));
        }
        // The server forks a worker whose accept is seen before the fork's
        // spawn event, as the kernel may run it first.
        events.push((12, 12, call("accept", vec![Arg::Fd(3)])));
        events.push((
            10,
            10,
            EventKind::Spawn {
                child: 12,
                kind: SpawnKind::Process,
            },
        ));
        let t = trace(events);
        let Separation::Launched(launch) = separate(&t) else {
            panic!("{:?}", separate(&t));
        };
        let (server, _) = server_trace(&t, &launch);
        assert!(
            server
                .records
                .iter()
                .any(|r| r.tid == 12 && r.name() == "accept")
        );
    }

    #[test]
    fn a_program_that_listens_itself_is_whole() {
        let t = trace(vec![
            (10, 10, exec("/srv", 10)),
            (10, 10, call("listen", vec![Arg::Fd(3), Arg::Int(128)])),
            (10, 10, ret("listen", Arg::Int(0))),
        ]);
        assert_eq!(separate(&t), Separation::Whole);
    }

    #[test]
    fn a_launcher_that_accepts_is_not_transparent() {
        let mut events: Vec<(Tid, Tid, EventKind)> = Vec::new();
        for e in shimmed().events {
            events.push((e.tid, e.pid, e.kind));
        }
        // The subshell accepts a connection before it exits.
        events.insert(6, (11, 11, ret("accept", Arg::Fd(5))));
        events.insert(6, (11, 11, call("accept", vec![Arg::Fd(3)])));
        let t = trace(events);
        match separate(&t) {
            Separation::Opaque { record, .. } => assert_eq!(t.records[record].name(), "accept"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ranges_keep_what_is_left_of_them() {
        let remap = Remap {
            records: vec![None, Some(0), None, Some(1), None],
            events: Vec::new(),
        };
        assert_eq!(remap.records(0..5), 0..2);
        assert_eq!(remap.records(2..4), 1..2);
        assert_eq!(remap.records(4..5), 2..2);
    }
}
