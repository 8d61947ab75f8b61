//! Normalized transcripts: a trace turned into stable, readable text.
//!
//! What varies from run to run or machine to machine is named instead of
//! shown: fds by role (`L` listening, `C1`, `C2` in accept order, `S1` other
//! sockets, `F1` files, `P1r`/`P1w` pipes), tasks by birth order (`main`,
//! `T1` threads, `P1` processes), futex words as `W1`, `W2`, the server's
//! port as `PORT` and other ports as `*`, pointers as `0x…`. Start-up noise
//! before the first socket call, memory management and runtime set-up calls
//! ([`HIDDEN`]) and signals that change nothing are dropped, and runs of
//! identical lines are collapsed with a count that the snapshot form leaves
//! out. A server with several tasks gets one section per task, so that
//! scheduling cannot reorder lines, and a summary of who waited for whom.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::syscalls::Class;
use crate::trace::{
    Arg, EpollEvent, EventKind, Record, Ret, SockAddr, SpawnKind, Tid, Trace, errno_name,
    known_at_entry, signal_name,
};

/// Calls a transcript leaves out: memory management and the per-thread
/// set-up a language runtime does. They say nothing about I/O models, and
/// some vary run to run (how many `munmap`s align a new malloc arena
/// depends on where `mmap` put it) or machine to machine (`rseq` support,
/// the CPU mask size). Reports can still quote them as evidence.
const HIDDEN: &[&str] = &[
    "mmap",
    "munmap",
    "mprotect",
    "madvise",
    "mremap",
    "brk",
    "rseq",
    "set_robust_list",
    "sigaltstack",
    "sched_getaffinity",
    "getrandom",
];

/// How many bytes of a buffer a transcript shows.
const SHOWN_BYTES: usize = 32;
/// The longest block of lines that is collapsed when it repeats.
const MAX_REPEAT_BLOCK: usize = 3;

/// One line of a transcript.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub text: String,
    /// How many times this line (or the block it closes) ran in a row.
    pub count: usize,
    /// When `count > 1`: how many lines, ending with this one, repeated.
    pub block: usize,
    /// The syscall records this line shows.
    pub records: Vec<usize>,
    /// How many calls a storm line stands for (its records and their
    /// repeats folded by the tracer); 0 for other lines.
    pub calls: u64,
    /// The line stands for a storm: its `records` are calls that achieved
    /// nothing.
    pub storm: bool,
}

/// A normalized transcript, and the names it gave.
#[derive(Clone, Debug, Default)]
pub struct Transcript {
    pub lines: Vec<Line>,
    /// Every record (shown or not) rendered with the transcript's names,
    /// prefixed with its task's name: evidence for reports.
    record_texts: Vec<String>,
    /// The role each fd had in each record.
    fd_roles: HashMap<(usize, i32), FdRole>,
    /// For each readiness wait that returned, what it reported ready.
    ready: HashMap<usize, Vec<Ready>>,
    /// Each task's name.
    tasks: HashMap<Tid, String>,
}

/// One fd a readiness wait (`select`, `poll`, `epoll_wait`) reported ready.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ready {
    /// The fd's role; `None` for an fd the trace never showed being made,
    /// or an epoll event whose data matches no registered fd.
    pub role: Option<FdRole>,
    /// How the transcript names it (`L`, `C1`, or `data=N`).
    name: String,
    /// How: `in`/`out`/`except` for select, the event flags for poll and
    /// epoll, as the transcript shows them; checks ask [`Ready::readable`]
    /// and [`Ready::writable`].
    how: Vec<&'static str>,
}

impl Ready {
    /// Whether this reports the fd readable (or hung up / in error, which a
    /// read also notices).
    pub fn readable(&self) -> bool {
        self.how.iter().any(|h| {
            matches!(
                *h,
                "in" | "POLLIN"
                    | "POLLHUP"
                    | "POLLERR"
                    | "POLLRDHUP"
                    | "EPOLLIN"
                    | "EPOLLHUP"
                    | "EPOLLERR"
                    | "EPOLLRDHUP"
            )
        })
    }

    /// Whether this reports the fd writable.
    pub fn writable(&self) -> bool {
        self.how
            .iter()
            .any(|h| matches!(*h, "out" | "POLLOUT" | "EPOLLOUT"))
    }
}

impl Transcript {
    /// The snapshot form: repeats marked, counts left out.
    pub fn render(&self) -> String {
        self.render_inner(false)
    }

    /// The report form: repeats marked with their counts.
    pub fn render_with_counts(&self) -> String {
        self.render_inner(true)
    }

    fn render_inner(&self, counts: bool) -> String {
        let mut out = String::new();
        for line in &self.lines {
            out.push_str(&line.text);
            if line.storm {
                // A storm's calls are its records (over all its repeats).
                if counts {
                    let _ = write!(out, "  (storm of {} calls)", line.calls);
                } else {
                    out.push_str("  (storm)");
                }
            }
            if line.count > 1 {
                let times = if counts {
                    format!(" ×{}", line.count)
                } else {
                    String::new()
                };
                if line.block == 1 {
                    let _ = write!(out, "  (repeated{times})");
                } else {
                    let _ = write!(out, "\n  (the {} lines above repeated{times})", line.block);
                }
            }
            out.push('\n');
        }
        out
    }

    /// The role fd `fd` had in record `r` (its `Display` is the
    /// transcript's name: `L`, `C1`, ...).
    pub fn fd_role(&self, r: usize, fd: i32) -> Option<FdRole> {
        self.fd_roles.get(&(r, fd)).copied()
    }

    /// The name task `tid` has (`main`, `T1`, `P1`).
    pub fn task_name(&self, tid: Tid) -> Option<&str> {
        self.tasks.get(&tid).map(String::as_str)
    }

    /// Record `r` as evidence: `task  call(...) = ret`.
    pub fn record_text(&self, r: usize) -> &str {
        self.record_texts.get(r).map_or("?", String::as_str)
    }

    /// What readiness wait `r` reported ready (`None` if `r` is not a
    /// readiness wait that returned successfully).
    pub fn ready(&self, r: usize) -> Option<&[Ready]> {
        self.ready.get(&r).map(Vec::as_slice)
    }
}

/// What an fd is, as the transcript names it: its role first, then its
/// order among fds of that role. Checks compare roles; only its `Display`
/// (`L`, `C1`, `EP`, `P1r`, `fd3`) makes the transcript's text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FdRole {
    /// stdin, stdout or stderr (0, 1, 2) as the program got them.
    Std(i32),
    /// The `n`th socket that listened (from 1): `L`, `L2`, ...
    Listener(usize),
    /// The `n`th connection accepted (from 1): `C1`, `C2`, ...
    Conn(usize),
    /// The `n`th other socket (from 1): `S1`, ...
    Socket(usize),
    /// The `n`th file opened (from 1): `F1`, ...
    File(usize),
    /// An end of the `n`th pipe (from 1): `P1r`, `P1w`.
    Pipe { n: usize, write: bool },
    /// The `n`th epoll instance (from 1): `EP`, `EP2`, ...
    Epoll(usize),
    /// An fd the program had when the trace began (other than 0-2): `fd3`.
    Inherited(i32),
}

impl FdRole {
    /// A listening socket.
    pub fn is_listener(self) -> bool {
        matches!(self, FdRole::Listener(_))
    }

    /// An accepted connection.
    pub fn is_conn(self) -> bool {
        matches!(self, FdRole::Conn(_))
    }

    /// A socket of any kind: a listener, a connection or another socket.
    pub fn is_socket(self) -> bool {
        matches!(
            self,
            FdRole::Listener(_) | FdRole::Conn(_) | FdRole::Socket(_)
        )
    }

    /// A socket the server serves on: a listener or a connection.
    pub fn is_served(self) -> bool {
        self.is_listener() || self.is_conn()
    }
}

impl std::fmt::Display for FdRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            FdRole::Std(0) => f.write_str("stdin"),
            FdRole::Std(1) => f.write_str("stdout"),
            FdRole::Std(_) => f.write_str("stderr"),
            FdRole::Listener(1) => f.write_str("L"),
            FdRole::Listener(n) => write!(f, "L{n}"),
            FdRole::Conn(n) => write!(f, "C{n}"),
            FdRole::Socket(n) => write!(f, "S{n}"),
            FdRole::File(n) => write!(f, "F{n}"),
            FdRole::Pipe { n, write } => write!(f, "P{n}{}", if write { "w" } else { "r" }),
            FdRole::Epoll(1) => f.write_str("EP"),
            FdRole::Epoll(n) => write!(f, "EP{n}"),
            FdRole::Inherited(fd) => write!(f, "fd{fd}"),
        }
    }
}

/// What an fd refers to, as far as the trace shows.
#[derive(Clone, Debug)]
enum Obj {
    Std(i32),
    Socket { listening: bool },
    Accepted(usize),
    File,
    Pipe { n: usize, write: bool },
    Epoll,
    Inherited(i32),
}

/// Names of fds, tasks and ports across a trace.
#[derive(Default)]
struct Names {
    objs: Vec<Obj>,
    /// Which object each fd number means in each record.
    fd_at: HashMap<(usize, i32), usize>,
    tasks: HashMap<Tid, String>,
    /// Tasks in birth order (the order they were named).
    order: Vec<Tid>,
    /// Who created each task, and whether as a thread or a process.
    parents: HashMap<Tid, (Tid, SpawnKind)>,
    /// Threads (`T1`, ...) and processes (`P1`, ...) named so far.
    threads: usize,
    processes: usize,
    /// Futex words by (process, address): `W1`, `W2`, ...
    words: HashMap<(Tid, u64), String>,
    server_ports: Vec<u16>,
    /// What each (epoll object, event data) was registered for.
    epoll_data: HashMap<(usize, u64), usize>,
    /// The objects each `epoll_wait` record's events refer to (by event).
    epoll_ready: HashMap<usize, Vec<Option<usize>>>,
    /// The target fd of each `epoll_ctl` record.
    epoll_targets: HashMap<usize, i32>,
}

impl Names {
    fn build(trace: &Trace) -> Names {
        let mut names = Names::default();
        let mut tables: HashMap<Tid, HashMap<i32, usize>> = HashMap::new();
        let mut accepted = 0;
        let mut pipes = 0;
        // Who spawned each task, by the first spawn event that names it. A
        // child's own events can come before that event: the native tracer
        // resumes a child whose first stop beat its parent's clone event,
        // and strace's decoder announces a child late when it found no clone
        // pending. The parent is still inside the clone meanwhile, so the
        // child counts as spawned at its first event, with the parent's fds.
        // (A parent not named yet by then, a nested early fork, is not
        // looked up: grading traces every clone, which names the parent.)
        let mut spawns: HashMap<Tid, (Tid, Tid, SpawnKind)> = HashMap::new();
        for e in &trace.events {
            if let EventKind::Spawn { child, kind } = e.kind {
                spawns.entry(child).or_insert((e.tid, e.pid, kind));
            }
        }
        for (i, e) in trace.events.iter().enumerate() {
            if e.tid != 0 && !names.tasks.contains_key(&e.tid) {
                match spawns.get(&e.tid) {
                    Some(&from) if names.tasks.contains_key(&from.0) => {
                        names.name_spawned(&mut tables, e.tid, from);
                    }
                    // First seen without a spawn event: the root (or a stray).
                    _ => names.name_unspawned(e.tid),
                }
            }
            match &e.kind {
                EventKind::Enter(_) => {
                    let r = trace.record_of_event(i).expect("entry has a record");
                    let table = tables.entry(e.pid).or_default();
                    names.resolve_inputs(r, &trace.records[r], table);
                }
                EventKind::Exit(_) => {
                    let r = trace.record_of_event(i).expect("exit has a record");
                    let rec = &trace.records[r];
                    let table = tables.entry(e.pid).or_default();
                    if rec.enter.is_none() {
                        names.resolve_inputs(r, rec, table);
                    }
                    names.apply_exit(r, rec, table, &mut accepted, &mut pipes);
                }
                // A task is named once: a spawn event for a child already
                // named (at its own first event, above) takes no number.
                EventKind::Spawn { child, kind } if !names.tasks.contains_key(child) => {
                    names.name_spawned(&mut tables, *child, (e.tid, e.pid, *kind));
                }
                _ => {}
            }
        }
        names.name_words(trace);
        names
    }

    /// Names `child`, spawned by task `parent` of process `parent_pid`: the
    /// next `T` or `P` number, and a process starts with a copy of its
    /// parent's fd table.
    fn name_spawned(
        &mut self,
        tables: &mut HashMap<Tid, HashMap<i32, usize>>,
        child: Tid,
        (parent, parent_pid, kind): (Tid, Tid, SpawnKind),
    ) {
        let name = match kind {
            SpawnKind::Thread => {
                self.threads += 1;
                format!("T{}", self.threads)
            }
            SpawnKind::Process => {
                self.processes += 1;
                let table = tables.get(&parent_pid).cloned().unwrap_or_default();
                tables.insert(child, table);
                format!("P{}", self.processes)
            }
        };
        self.tasks.insert(child, name);
        self.order.push(child);
        self.parents.insert(child, (parent, kind));
    }

    /// Names a task no spawn event accounts for: `main` if it is the first,
    /// else the next process number (a stray).
    fn name_unspawned(&mut self, tid: Tid) {
        let name = if self.tasks.is_empty() {
            "main".to_string()
        } else {
            self.processes += 1;
            format!("P{}", self.processes)
        };
        self.tasks.insert(tid, name);
        self.order.push(tid);
    }

    /// Names futex words in the order they first appear when the tasks'
    /// calls are read one task after another in birth order: each task's
    /// own order is fixed, so the names do not depend on scheduling.
    fn name_words(&mut self, trace: &Trace) {
        for &task in &self.order {
            for rec in trace.records.iter().filter(|r| r.tid == task) {
                for arg in &rec.args {
                    if let Arg::Word(w) = arg {
                        let n = self.words.len() + 1;
                        self.words
                            .entry((rec.pid, *w))
                            .or_insert_with(|| format!("W{n}"));
                    }
                }
            }
        }
    }

    fn object_for(&mut self, table: &mut HashMap<i32, usize>, fd: i32) -> usize {
        *table.entry(fd).or_insert_with(|| {
            self.objs.push(if (0..=2).contains(&fd) {
                Obj::Std(fd)
            } else {
                Obj::Inherited(fd)
            });
            self.objs.len() - 1
        })
    }

    fn new_object(&mut self, table: &mut HashMap<i32, usize>, fd: i32, obj: Obj) -> usize {
        self.objs.push(obj);
        let id = self.objs.len() - 1;
        table.insert(fd, id);
        id
    }

    fn resolve_inputs(&mut self, r: usize, rec: &Record, table: &mut HashMap<i32, usize>) {
        for arg in &rec.args {
            for fd in arg_fds(arg) {
                let obj = self.object_for(table, fd);
                self.fd_at.insert((r, fd), obj);
            }
        }
    }

    fn apply_exit(
        &mut self,
        r: usize,
        rec: &Record,
        table: &mut HashMap<i32, usize>,
        accepted: &mut usize,
        pipes: &mut usize,
    ) {
        let ok = matches!(rec.ret, Some(Ret::Ok(_)));
        // Output args that hold fds created by the call.
        for arg in &rec.args {
            if let Arg::FdPair(a, b) = arg
                && ok
            {
                let (a, b) = (*a, *b);
                if rec.class() == Class::Socket {
                    let x = self.new_object(table, a, Obj::Socket { listening: false });
                    let y = self.new_object(table, b, Obj::Socket { listening: false });
                    self.fd_at.insert((r, a), x);
                    self.fd_at.insert((r, b), y);
                } else {
                    *pipes += 1;
                    let x = self.new_object(
                        table,
                        a,
                        Obj::Pipe {
                            n: *pipes,
                            write: false,
                        },
                    );
                    let y = self.new_object(
                        table,
                        b,
                        Obj::Pipe {
                            n: *pipes,
                            write: true,
                        },
                    );
                    self.fd_at.insert((r, a), x);
                    self.fd_at.insert((r, b), y);
                }
            }
        }
        let Some(Ret::Ok(ret)) = &rec.ret else {
            return;
        };
        match (rec.class(), ret) {
            (Class::EpollCreate, Arg::Fd(fd)) => {
                let id = self.new_object(table, *fd, Obj::Epoll);
                self.fd_at.insert((r, *fd), id);
            }
            (Class::EpollCtl, _) => {
                if let Some(fd) = rec.fd_arg(2) {
                    self.epoll_targets.insert(r, fd);
                }
                let ep = rec
                    .fd_arg(0)
                    .and_then(|fd| self.fd_at.get(&(r, fd)).copied());
                let target = rec
                    .fd_arg(2)
                    .and_then(|fd| self.fd_at.get(&(r, fd)).copied());
                if let (Some(ep), Some(target), Some(Arg::Epoll(ev)), Some(Arg::Sym(op))) =
                    (ep, target, rec.args.get(3), rec.args.get(1))
                    && matches!(*op, "EPOLL_CTL_ADD" | "EPOLL_CTL_MOD")
                {
                    self.epoll_data.insert((ep, ev.data), target);
                }
            }
            (Class::EpollWait, _) => {
                let ep = rec
                    .fd_arg(0)
                    .and_then(|fd| self.fd_at.get(&(r, fd)).copied());
                if let (Some(ep), Some(Arg::EpollEvents(events))) = (ep, rec.args.get(1)) {
                    let objs = events
                        .iter()
                        .map(|e| self.epoll_data.get(&(ep, e.data)).copied())
                        .collect();
                    self.epoll_ready.insert(r, objs);
                }
            }
            // `socketpair` returns 0: its fds are the pair it wrote.
            (Class::Socket, Arg::Fd(fd)) => {
                let id = self.new_object(table, *fd, Obj::Socket { listening: false });
                self.fd_at.insert((r, *fd), id);
            }
            (Class::Accept, Arg::Fd(fd)) => {
                *accepted += 1;
                let id = self.new_object(table, *fd, Obj::Accepted(*accepted));
                self.fd_at.insert((r, *fd), id);
            }
            (Class::Dup | Class::Fcntl, Arg::Fd(fd)) => {
                let source = rec.fd_arg(0).and_then(|s| self.fd_at.get(&(r, s)).copied());
                let id = match source {
                    Some(id) => {
                        table.insert(*fd, id);
                        id
                    }
                    None => self.new_object(table, *fd, Obj::Inherited(*fd)),
                };
                self.fd_at.insert((r, *fd), id);
            }
            (_, Arg::Fd(fd)) => {
                let id = self.new_object(table, *fd, Obj::File);
                self.fd_at.insert((r, *fd), id);
            }
            (Class::Listen, _) => {
                if let Some(&id) = rec.fd_arg(0).and_then(|fd| self.fd_at.get(&(r, fd))) {
                    self.objs[id] = Obj::Socket { listening: true };
                }
            }
            (Class::Close, _) => {
                if let Some(fd) = rec.fd_arg(0) {
                    table.remove(&fd);
                }
            }
            _ => {}
        }
        if let ("bind" | "getsockname", Some(Arg::Addr(addr))) = (rec.name(), rec.args.get(1))
            && let Some(port) = addr.port()
            && port != 0
            && !self.server_ports.contains(&port)
        {
            self.server_ports.push(port);
        }
    }

    /// Final names of objects: roles first, then order of creation.
    fn object_roles(&self) -> Vec<FdRole> {
        let (mut listening, mut sockets, mut files, mut epolls) = (0, 0, 0, 0);
        let next = |count: &mut usize| {
            *count += 1;
            *count
        };
        self.objs
            .iter()
            .map(|o| match *o {
                Obj::Std(fd) => FdRole::Std(fd),
                Obj::Socket { listening: true } => FdRole::Listener(next(&mut listening)),
                Obj::Socket { listening: false } => FdRole::Socket(next(&mut sockets)),
                Obj::Accepted(n) => FdRole::Conn(n),
                Obj::File => FdRole::File(next(&mut files)),
                Obj::Pipe { n, write } => FdRole::Pipe { n, write },
                Obj::Epoll => FdRole::Epoll(next(&mut epolls)),
                Obj::Inherited(fd) => FdRole::Inherited(fd),
            })
            .collect()
    }
}

/// The fds an argument holds as inputs.
fn arg_fds(arg: &Arg) -> Vec<i32> {
    match arg {
        Arg::Fd(fd) => vec![*fd],
        Arg::PollFds(list) => list.iter().map(|p| p.fd).filter(|fd| *fd >= 0).collect(),
        Arg::FdSet { given, .. } => given.clone(),
        _ => Vec::new(),
    }
}

/// Renders args and results with the transcript's names.
struct Renderer<'a> {
    names: &'a Names,
    roles: Vec<FdRole>,
    /// The trace's records (their processes name futex words).
    records: &'a [Record],
}

impl Renderer<'_> {
    /// The role of fd `fd` in record `r`, if the trace showed it made.
    fn role(&self, r: usize, fd: i32) -> Option<FdRole> {
        self.names.fd_at.get(&(r, fd)).map(|&id| self.roles[id])
    }

    fn fd(&self, r: usize, fd: i32) -> String {
        match self.names.fd_at.get(&(r, fd)) {
            Some(&id) => self.roles[id].to_string(),
            None if fd < 0 => fd.to_string(),
            None => format!("fd{fd}"),
        }
    }

    fn task(&self, tid: Tid) -> String {
        self.names
            .tasks
            .get(&tid)
            .cloned()
            .unwrap_or_else(|| "?".to_string())
    }

    fn port(&self, port: u16) -> String {
        if port == 0 {
            "0".to_string()
        } else if self.names.server_ports.contains(&port) {
            "PORT".to_string()
        } else {
            "*".to_string()
        }
    }

    fn arg(&self, r: usize, arg: &Arg) -> String {
        match arg {
            Arg::Fd(fd) => self.fd(r, *fd),
            Arg::Tid(t) => self.task(*t),
            Arg::Int(v) => v.to_string(),
            Arg::Hex(v) => format!("{v:#x}"),
            Arg::Mode(v) => crate::values::mode_text(*v),
            Arg::Ptr(0) | Arg::Out(0) => "NULL".to_string(),
            Arg::Ptr(_) | Arg::Out(_) => "0x…".to_string(),
            Arg::Sym(s) => (*s).to_string(),
            Arg::Flags { names, rest } => flags_text(names, *rest),
            Arg::Addr(a) => self.addr(a),
            Arg::Bytes { head, len } => self.bytes(head, *len),
            Arg::Str(s) => format!("{s:?}"),
            Arg::Strs(v) => {
                let mut items: Vec<String> = v
                    .iter()
                    .take(crate::trace::ARGV_SHOWN)
                    .map(|s| format!("{s:?}"))
                    .collect();
                if v.len() > crate::trace::ARGV_SHOWN {
                    items.push("...".into());
                }
                format!("[{}]", items.join(", "))
            }
            Arg::SigSet(mask) => format!("{mask:#x}"),
            Arg::Env { vars, .. } => format!("0x… /* {vars} vars */"),
            Arg::IntRef(v) => format!("[{v}]"),
            Arg::FdPair(a, b) => format!("[{}, {}]", self.fd(r, *a), self.fd(r, *b)),
            Arg::PollFds(list) => {
                let mut items: Vec<String> = list
                    .iter()
                    .take(crate::trace::ARGV_SHOWN)
                    .map(|p| match p.fd {
                        // As strace: a negative fd (ignored) without its events.
                        fd if fd < 0 => format!("{{fd={fd}}}"),
                        fd => format!(
                            "{{fd={}, events={}}}",
                            self.fd(r, fd),
                            flags_text(&p.events, p.rest)
                        ),
                    })
                    .collect();
                if list.len() > crate::trace::ARGV_SHOWN {
                    items.push("...".into());
                }
                format!("[{}]", items.join(", "))
            }
            Arg::FdSet { given, .. } => self.fd_set(r, given),
            Arg::Epoll(ev) => {
                // `data.fd = fd` (C) may leave the upper 32 bits unset.
                let data = match self.names.epoll_targets.get(&r) {
                    Some(&fd) if ev.data as u32 == fd as u32 => self.fd(r, fd),
                    _ => self.epoll_data(ev.data),
                };
                format!("{{{}, data={data}}}", flags_text(&ev.events, ev.rest))
            }
            Arg::EpollEvents(list) => {
                let items: Vec<String> = list
                    .iter()
                    .enumerate()
                    .map(|(i, ev)| {
                        let who = self.epoll_event_name(r, i, ev);
                        format!("{{{}, {who}}}", flags_text(&ev.events, ev.rest))
                    })
                    .collect();
                format!("[{}]", items.join(", "))
            }
            Arg::Word(w) => {
                let pid = self.records.get(r).map_or(0, |rec| rec.pid);
                self.names
                    .words
                    .get(&(pid, *w))
                    .cloned()
                    .unwrap_or_else(|| "0x…".to_string())
            }
            Arg::ChildInfo { code, pid, status } => format!(
                "{{si_signo=SIGCHLD, si_code={code}, si_pid={}, si_status={status}}}",
                self.task(*pid)
            ),
            Arg::Time(t) => t.to_string(),
            Arg::Sigaction(sa) => crate::values::sigaction_text(sa),
            // Addresses, which transcripts leave out (see `args`).
            Arg::Members(_) => String::new(),
            Arg::Text(t) => t.clone(),
            Arg::Unknown => "?".to_string(),
        }
    }

    /// Epoll data that names no fd: small tokens as numbers, pointers hidden.
    fn epoll_data(&self, data: u64) -> String {
        if data <= u64::from(u32::MAX) {
            data.to_string()
        } else {
            "0x…".to_string()
        }
    }

    fn fd_set(&self, r: usize, fds: &[i32]) -> String {
        let names: Vec<String> = fds.iter().map(|&fd| self.fd(r, fd)).collect();
        format!("{{{}}}", names.join(", "))
    }

    /// The name of the fd the `i`th event of epoll wait `r` was registered
    /// for, or `data=N` when its data matches no registration.
    fn epoll_event_name(&self, r: usize, i: usize, ev: &EpollEvent) -> String {
        match self.epoll_event_object(r, i) {
            Some(id) => self.roles[id].to_string(),
            None => format!("data={}", self.epoll_data(ev.data)),
        }
    }

    /// The object the `i`th event of epoll wait `r` was registered for.
    fn epoll_event_object(&self, r: usize, i: usize) -> Option<usize> {
        self.names
            .epoll_ready
            .get(&r)
            .and_then(|o| o.get(i).copied().flatten())
    }

    /// What a readiness wait reported, after its return value, like strace:
    /// `= 1 (in {L})` for select, `= 1 ([{fd=L, revents=POLLIN}])` for poll.
    /// (An epoll wait shows its events as an argument.)
    fn ready_suffix(&self, r: usize, rec: &Record) -> String {
        let Some(ready) = self.ready(r, rec).filter(|x| !x.is_empty()) else {
            return String::new();
        };
        if rec.is_a(&[Class::Select]) {
            let parts: Vec<String> = ["in", "out", "except"]
                .iter()
                .filter_map(|how| {
                    let names: Vec<&str> = ready
                        .iter()
                        .filter(|x| x.how.contains(how))
                        .map(|x| x.name.as_str())
                        .collect();
                    (!names.is_empty()).then(|| format!("{how} {{{}}}", names.join(", ")))
                })
                .collect();
            format!(" ({})", parts.join(", "))
        } else if rec.is_a(&[Class::Poll]) {
            let items: Vec<String> = ready
                .iter()
                .map(|x| format!("{{fd={}, revents={}}}", x.name, flags_text(&x.how, 0)))
                .collect();
            format!(" ([{}])", items.join(", "))
        } else {
            String::new()
        }
    }

    /// What readiness wait `r` reported ready, with transcript names.
    fn ready(&self, r: usize, rec: &Record) -> Option<Vec<Ready>> {
        if !matches!(rec.ret, Some(Ret::Ok(_))) {
            return None;
        }
        let named = |fd: i32, how: Vec<&'static str>| Ready {
            role: self.role(r, fd),
            name: self.fd(r, fd),
            how,
        };
        if rec.is_a(&[Class::Select]) {
            let mut out: Vec<(i32, Ready)> = Vec::new();
            for (how, a) in ["in", "out", "except"].iter().zip(rec.args.iter().skip(1)) {
                if let Arg::FdSet {
                    ready: Some(ready), ..
                } = a
                {
                    for &fd in ready {
                        match out.iter_mut().find(|(f, _)| *f == fd) {
                            Some((_, x)) => x.how.push(how),
                            None => out.push((fd, named(fd, vec![how]))),
                        }
                    }
                }
            }
            return Some(out.into_iter().map(|(_, x)| x).collect());
        }
        if let Some(Arg::PollFds(list)) = rec.args.first() {
            return Some(
                list.iter()
                    .filter_map(|p| match &p.revents {
                        Some(rev) if !rev.is_empty() => Some(named(p.fd, rev.clone())),
                        _ => None,
                    })
                    .collect(),
            );
        }
        match rec.args.get(1) {
            Some(Arg::EpollEvents(list)) if rec.is_a(&[Class::EpollWait]) => Some(
                list.iter()
                    .enumerate()
                    .map(|(i, ev)| Ready {
                        role: self.epoll_event_object(r, i).map(|id| self.roles[id]),
                        name: self.epoll_event_name(r, i, ev),
                        how: ev.events.clone(),
                    })
                    .collect(),
            ),
            _ => None,
        }
    }

    fn addr(&self, a: &SockAddr) -> String {
        match a {
            SockAddr::Inet(ip, port) => format!("{{AF_INET, {ip}:{}}}", self.port(*port)),
            SockAddr::Inet6(ip, port) => format!("{{AF_INET6, [{ip}]:{}}}", self.port(*port)),
            SockAddr::Unix(path) => format!("{{AF_UNIX, {path:?}}}"),
            SockAddr::Other(family) => format!("{{sa_family={family}}}"),
        }
    }

    fn bytes(&self, head: &[u8], len: u64) -> String {
        let shown = &head[..head.len().min(SHOWN_BYTES)];
        let mut s = String::from("\"");
        for &b in shown {
            match b {
                b'"' => s.push_str("\\\""),
                b'\\' => s.push_str("\\\\"),
                b'\n' => s.push_str("\\n"),
                b'\r' => s.push_str("\\r"),
                b'\t' => s.push_str("\\t"),
                0x20..=0x7e => s.push(b as char),
                _ => {
                    let _ = write!(s, "\\x{b:02x}");
                }
            }
        }
        s.push('"');
        for port in &self.names.server_ports {
            s = s.replace(&format!(":{port}"), ":PORT");
        }
        if (shown.len() as u64) < len {
            s.push_str("...");
        }
        s
    }

    fn ret(&self, r: usize, ret: &Option<Ret>) -> String {
        match ret {
            None => "?".to_string(),
            Some(Ret::Ok(a)) => self.arg(r, a),
            Some(Ret::Err(e)) if (512..=516).contains(e) => format!("? {}", errno_name(*e)),
            Some(Ret::Err(e)) => format!("-1 {}", errno_name(*e)),
        }
    }

    /// Whether a buffer holds the server's port (which is then redacted, so
    /// lengths that count its digits must be too).
    fn holds_port(&self, head: &[u8]) -> bool {
        let text = String::from_utf8_lossy(head);
        self.names
            .server_ports
            .iter()
            .any(|p| text.contains(&format!(":{p}")))
    }

    /// The length of a buffer whose text was redacted, if the record has one.
    fn redacted_len(&self, rec: &Record) -> Option<u64> {
        rec.args.iter().find_map(|a| match a {
            Arg::Bytes { head, len } if self.holds_port(head) => Some(*len),
            _ => None,
        })
    }

    fn arg_of(&self, r: usize, a: &Arg, redacted: Option<u64>) -> String {
        match (a, redacted) {
            (Arg::Int(v), Some(len)) if *v >= 0 && *v as u64 == len => "LEN".to_string(),
            _ => self.arg(r, a),
        }
    }

    fn args(&self, r: usize, rec: &Record, range: std::ops::Range<usize>) -> Vec<String> {
        let redacted = self.redacted_len(rec);
        rec.args[range]
            .iter()
            .filter(|a| !matches!(a, Arg::Members(_)))
            .map(|a| self.arg_of(r, a, redacted))
            .collect()
    }

    fn ret_of(&self, r: usize, rec: &Record) -> String {
        match &rec.ret {
            Some(Ret::Ok(a)) => {
                self.arg_of(r, a, self.redacted_len(rec)) + &self.ready_suffix(r, rec)
            }
            other => self.ret(r, other),
        }
    }

    /// `name(args) = ret`.
    fn record(&self, r: usize, rec: &Record) -> String {
        let args = self.args(r, rec, 0..rec.args.len());
        format!(
            "{}({}) = {}",
            rec.name(),
            args.join(", "),
            self.ret_of(r, rec)
        )
    }
}

fn flags_text(names: &[&str], rest: u64) -> String {
    let mut parts: Vec<String> = names.iter().map(|s| (*s).to_string()).collect();
    if rest != 0 {
        parts.push(format!("{rest:#x}"));
    }
    if parts.is_empty() {
        "0".to_string()
    } else {
        parts.join("|")
    }
}

/// Normalizes a trace into a transcript.
pub fn normalize(trace: &Trace) -> Transcript {
    let names = Names::build(trace);
    let renderer = Renderer {
        roles: names.object_roles(),
        names: &names,
        records: &trace.records,
    };
    let record_texts: Vec<String> = trace
        .records
        .iter()
        .enumerate()
        .map(|(r, rec)| format!("{}  {}", renderer.task(rec.tid), renderer.record(r, rec)))
        .collect();

    let start = trace
        .events
        .iter()
        .position(|e| match &e.kind {
            EventKind::Enter(c) => matches!(c.name(), "socket" | "socketpair"),
            _ => false,
        })
        .unwrap_or(0);
    // Tasks with something to show (a runtime helper thread whose calls are
    // all hidden does not make a single-task server a multi-task one).
    let shown_tasks: Vec<Tid> = {
        let mut v: Vec<Tid> = Vec::new();
        for (i, e) in trace.events.iter().enumerate().skip(start) {
            let hidden = trace
                .record_of_event(i)
                .is_some_and(|r| trace.records[r].is(HIDDEN));
            let shows = matches!(e.kind, EventKind::Enter(_) | EventKind::Exit(_)) && !hidden;
            if e.tid != 0 && shows && !v.contains(&e.tid) {
                v.push(e.tid);
            }
        }
        v
    };
    let handlers = handlers_from(trace);

    // Every line, tagged with its task (0 for scenario steps).
    let mut raw: Vec<(Tid, String, Vec<usize>)> = Vec::new();
    for (i, e) in trace.events.iter().enumerate().skip(start) {
        let mut push = |text: String, records: Vec<usize>| raw.push((e.tid, text, records));
        if let Some(r) = trace.record_of_event(i)
            && trace.records[r].is(HIDDEN)
        {
            continue;
        }
        match &e.kind {
            EventKind::Enter(call) => {
                let r = trace.record_of_event(i).expect("entry has a record");
                let rec = &trace.records[r];
                let crosses = trace.events[i..rec.exit.unwrap_or(trace.events.len())]
                    .iter()
                    .any(|e| matches!(e.kind, EventKind::Step(_)));
                if crosses && !rec.blocked && rec.exit.is_some() {
                    // A call in flight when a client acted: whether it
                    // entered just before or just after the action is
                    // timing, so it is shown where it returned.
                    continue;
                }
                if crosses && rec.blocked {
                    let known = known_at_entry(&call.args);
                    let mut head = renderer.args(r, rec, 0..known);
                    head.push("<blocked ...>".to_string());
                    push(format!("{}({}", rec.name(), head.join(", ")), vec![r]);
                } else {
                    let mut text = renderer.record(r, rec);
                    if rec.blocked {
                        text.push_str("  <blocked>");
                    }
                    push(text, vec![r]);
                }
            }
            EventKind::Exit(_) => {
                let r = trace.record_of_event(i).expect("exit has a record");
                let rec = &trace.records[r];
                let Some(enter) = rec.enter else {
                    push(renderer.record(r, rec), vec![r]);
                    continue;
                };
                let crossed = trace.events[enter..i]
                    .iter()
                    .any(|e| matches!(e.kind, EventKind::Step(_)));
                if crossed && !rec.blocked {
                    push(renderer.record(r, rec), vec![r]);
                } else if crossed {
                    let known = match &trace.events[enter].kind {
                        EventKind::Enter(c) => known_at_entry(&c.args),
                        _ => 0,
                    };
                    let tail = renderer.args(r, rec, known..rec.args.len());
                    push(
                        format!(
                            "<... {} resumed>{}) = {}",
                            rec.name(),
                            tail.join(", "),
                            renderer.ret_of(r, rec)
                        ),
                        vec![r],
                    );
                }
            }
            EventKind::Step(text) => push(format!("-- {text}"), Vec::new()),
            EventKind::Signal(sig) => {
                let unheard = IGNORED_BY_DEFAULT.contains(sig)
                    && handlers.get(&(e.pid, *sig)).is_none_or(|&h| h > i);
                if !unheard {
                    push(format!("--- {} ---", signal_name(*sig)), Vec::new());
                }
            }
            EventKind::Gone(how) => {
                if e.tid == e.pid || shown_tasks.len() > 1 {
                    push(format!("+++ {} +++", how.without_core()), Vec::new());
                }
            }
            EventKind::Exec { program, .. } => {
                let base = program.rsplit('/').next().unwrap_or(program);
                push(format!("--- exec {base} ---"), Vec::new());
            }
            EventKind::Spawn { .. } | EventKind::Blocked | EventKind::Repeat(_) => {}
        }
    }

    let lines = if shown_tasks.len() > 1 {
        sections(&raw, &shown_tasks, &names, &renderer, trace)
    } else {
        let raw = raw.into_iter().map(|(_, t, r)| (t, r)).collect();
        collapse(storms(raw, trace))
    };

    let fd_roles = names
        .fd_at
        .iter()
        .map(|(&k, &obj)| (k, renderer.roles[obj]))
        .collect();
    let ready = trace
        .records
        .iter()
        .enumerate()
        .filter(|(_, rec)| rec.is_a(&Class::READINESS))
        .filter_map(|(r, rec)| Some((r, renderer.ready(r, rec)?)))
        .collect();
    Transcript {
        tasks: names.tasks.clone(),
        lines,
        record_texts,
        fd_roles,
        ready,
    }
}

/// The transcript of a server with several tasks: one section per thread or
/// process, in birth order, each holding that task's own lines and the
/// scenario steps it did something after. One task's calls are in program
/// order, so no scheduling of the others can reorder a section. Storms and
/// repeats are folded per section. Last, who waited for whom.
fn sections(
    raw: &[(Tid, String, Vec<usize>)],
    shown: &[Tid],
    names: &Names,
    renderer: &Renderer<'_>,
    trace: &Trace,
) -> Vec<Line> {
    let mut out: Vec<Line> = Vec::new();
    let plain = |text: String| Line {
        text,
        count: 1,
        block: 1,
        records: Vec::new(),
        calls: 0,
        storm: false,
    };
    for &task in names.order.iter().filter(|t| shown.contains(t)) {
        let mine: Vec<(String, Vec<usize>)> = raw
            .iter()
            .filter(|(tid, ..)| *tid == task || *tid == 0)
            .map(|(_, text, records)| (text.clone(), records.clone()))
            .collect();
        let mut lines = storms(mine, trace);
        // A step matters to a section only if the task did something
        // after it and before the next step.
        let is_step = |l: &RawLine| l.records.is_empty() && l.text.starts_with("-- ");
        let keep: Vec<bool> = (0..lines.len())
            .map(|i| !is_step(&lines[i]) || lines.get(i + 1).is_some_and(|n| !is_step(n)))
            .collect();
        let mut k = keep.into_iter();
        lines.retain(|_| k.next().unwrap_or(true));
        if !out.is_empty() {
            out.push(plain(String::new()));
        }
        let who = renderer.task(task);
        out.push(plain(match names.parents.get(&task) {
            Some((parent, SpawnKind::Thread)) => {
                format!("== {who}: thread of {} ==", renderer.task(*parent))
            }
            Some((parent, SpawnKind::Process)) => {
                format!("== {who}: process forked by {} ==", renderer.task(*parent))
            }
            None => format!("== {who} =="),
        }));
        out.extend(collapse(lines));
    }
    let waits = waited_for(trace, names, renderer);
    if !waits.is_empty() {
        out.push(plain(String::new()));
        out.push(plain("== who waited for whom ==".to_string()));
        out.extend(waits.into_iter().map(|(text, records)| Line {
            records,
            ..plain(text)
        }));
    }
    out
}

/// Task-to-task waits: a futex wait ended by another task's wake on the
/// same word, and a child reaped by `wait4`/`waitid`. One line per distinct
/// wait (the records are every occurrence), ordered by the waiting task's
/// birth and then by text, so that scheduling cannot reorder them.
fn waited_for(trace: &Trace, names: &Names, renderer: &Renderer<'_>) -> Vec<(String, Vec<usize>)> {
    let mut found: Vec<(usize, String, usize)> = Vec::new();
    let birth = |tid: Tid| {
        names
            .order
            .iter()
            .position(|&t| t == tid)
            .unwrap_or(usize::MAX)
    };
    for (r, w) in trace.futex_handoffs() {
        let rec = &trace.records[r];
        let text = format!(
            "{} waited on {} for {} (futex)",
            renderer.task(rec.tid),
            renderer.arg(r, &rec.args[0]),
            renderer.task(trace.records[w].tid)
        );
        found.push((birth(rec.tid), text, r));
    }
    for (r, rec) in trace.records.iter().enumerate() {
        if let Some(child) = rec.reaped() {
            let how = trace
                .events
                .iter()
                .find_map(|e| match e.kind {
                    EventKind::Gone(how) if e.tid == child => Some(how.without_core().to_string()),
                    _ => None,
                })
                .unwrap_or_else(|| "gone".to_string());
            let text = format!(
                "{} waited for {} ({}): {how}",
                renderer.task(rec.tid),
                renderer.task(child),
                rec.name()
            );
            found.push((birth(rec.tid), text, r));
        }
    }
    found.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let mut out: Vec<(String, Vec<usize>)> = Vec::new();
    for (_, text, r) in found {
        match out.last_mut() {
            Some((t, records)) if *t == text => records.push(r),
            _ => out.push((text, vec![r])),
        }
    }
    out
}

/// Signals whose default action is to be ignored: delivered to a process
/// that installed no handler, they change nothing for it.
const IGNORED_BY_DEFAULT: &[i32] = &[libc::SIGCHLD, libc::SIGURG, libc::SIGWINCH];

/// For each (process, signal ignored by default), the event at which the
/// process first installed a handler for it. A delivery before that (or
/// with none) does nothing to the program: the kernel reports it only to a
/// tracer, and exactly when it lands (before or after the parent's next
/// `wait4`, say) is timing, so transcripts leave it out.
fn handlers_from(trace: &Trace) -> HashMap<(Tid, i32), usize> {
    let mut out = HashMap::new();
    for rec in &trace.records {
        let (Some(enter), Some(Arg::Sym(name)), Some(Arg::Sigaction(act))) =
            (rec.enter, rec.args.first(), rec.args.get(1))
        else {
            continue;
        };
        if rec.name() != "rt_sigaction" || act.handler <= 1 {
            continue;
        }
        if let Some(&sig) = IGNORED_BY_DEFAULT
            .iter()
            .find(|&&s| signal_name(s) == *name)
        {
            out.entry((rec.pid, sig)).or_insert(enter);
        }
    }
    out
}

/// A transcript line before repeats are collapsed.
struct RawLine {
    text: String,
    records: Vec<usize>,
    /// For a storm: how many calls it stands for.
    calls: u64,
    storm: bool,
}

/// Folds each storm into one line: a run of at least two calls that achieved
/// nothing ([`Record::is_idle`]: `EAGAIN`, an empty wait, a sleep). Scenario
/// steps that fall inside a storm, or right after it, are moved in front of
/// it: where a step lands in a spinning loop is a matter of timing, and the
/// transcript must not depend on timing. The storm line lists its distinct
/// calls in the order they first came.
fn storms(raw: Vec<(String, Vec<usize>)>, trace: &Trace) -> Vec<RawLine> {
    let idle = |line: &(String, Vec<usize>)| match line.1.as_slice() {
        [r] => {
            let rec = &trace.records[*r];
            rec.is_idle() && !rec.blocked
        }
        _ => false,
    };
    let step = |line: &(String, Vec<usize>)| line.1.is_empty() && line.0.starts_with("-- ");
    let mut out = Vec::new();
    let mut i = 0;
    while i < raw.len() {
        if !idle(&raw[i]) {
            out.push(RawLine {
                text: raw[i].0.clone(),
                records: raw[i].1.clone(),
                calls: 0,
                storm: false,
            });
            i += 1;
            continue;
        }
        let mut end = i;
        while end < raw.len() && (idle(&raw[end]) || step(&raw[end])) {
            end += 1;
        }
        let group = &raw[i..end];
        let calls: Vec<&(String, Vec<usize>)> = group.iter().filter(|l| idle(l)).collect();
        // A call the tracer saw repeat (EventKind::Repeat) is a storm alone.
        let times: u64 = calls
            .iter()
            .flat_map(|l| l.1.iter())
            .map(|&r| trace.records[r].times())
            .sum();
        if times < 2 {
            out.extend(group.iter().map(|l| RawLine {
                text: l.0.clone(),
                records: l.1.clone(),
                calls: 0,
                storm: false,
            }));
            i = end;
            continue;
        }
        for l in group.iter().filter(|l| step(l)) {
            out.push(RawLine {
                text: l.0.clone(),
                records: Vec::new(),
                calls: 0,
                storm: false,
            });
        }
        let mut distinct: Vec<&str> = Vec::new();
        for l in &calls {
            if !distinct.contains(&l.0.as_str()) {
                distinct.push(&l.0);
            }
        }
        out.push(RawLine {
            text: distinct.join(" | "),
            records: calls.iter().flat_map(|l| l.1.iter().copied()).collect(),
            calls: times,
            storm: true,
        });
        i = end;
    }
    out
}

/// Collapses runs of identical lines, or of identical blocks of up to
/// [`MAX_REPEAT_BLOCK`] lines, into one occurrence with a count.
fn collapse(raw: Vec<RawLine>) -> Vec<Line> {
    let mut out: Vec<Line> = Vec::new();
    let mut i = 0;
    while i < raw.len() {
        let mut best: Option<(usize, usize)> = None; // (block, repeats)
        for block in 1..=MAX_REPEAT_BLOCK {
            if i + 2 * block > raw.len() {
                break;
            }
            let mut repeats = 1;
            while i + (repeats + 1) * block <= raw.len()
                && (0..block).all(|k| {
                    let (a, b) = (&raw[i + k], &raw[i + repeats * block + k]);
                    a.text == b.text && a.storm == b.storm
                })
            {
                repeats += 1;
            }
            if repeats > 1 && best.is_none_or(|(_, r)| repeats * block > r) {
                best = Some((block, repeats));
            }
        }
        match best {
            Some((block, repeats)) => {
                for k in 0..block {
                    let records: Vec<usize> = (0..repeats)
                        .flat_map(|n| raw[i + n * block + k].records.iter().copied())
                        .collect();
                    let last = k == block - 1;
                    out.push(Line {
                        text: raw[i + k].text.clone(),
                        count: if last { repeats } else { 1 },
                        block: if last { block } else { 1 },
                        records,
                        calls: (0..repeats).map(|n| raw[i + n * block + k].calls).sum(),
                        storm: raw[i + k].storm,
                    });
                }
                i += block * repeats;
            }
            None => {
                let line = &raw[i];
                out.push(Line {
                    text: line.text.clone(),
                    count: 1,
                    block: 1,
                    records: line.records.clone(),
                    calls: line.calls,
                    storm: line.storm,
                });
                i += 1;
            }
        }
    }
    out
}

/// Two transcripts of the same steps in two columns, each step's lines side
/// by side (for lab 4: the level- and edge-triggered runs of one server).
pub fn side_by_side(left: (&str, &str), right: (&str, &str)) -> String {
    fn sections(text: &str) -> Vec<Vec<&str>> {
        let mut out = vec![Vec::new()];
        for line in text.lines() {
            if line.starts_with("-- ") {
                out.push(Vec::new());
            }
            out.last_mut().expect("never empty").push(line);
        }
        out
    }
    let (l, r) = (sections(left.1), sections(right.1));
    let width = left
        .1
        .lines()
        .chain([left.0])
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    let mut row = |a: &str, b: &str| {
        let pad = width - a.chars().count();
        let _ = writeln!(out, "{a}{}  | {b}", " ".repeat(pad));
    };
    row(left.0, right.0);
    row(&"=".repeat(width), &"=".repeat(right.0.chars().count()));
    for i in 0..l.len().max(r.len()) {
        let (a, b) = (
            l.get(i).map_or(&[][..], Vec::as_slice),
            r.get(i).map_or(&[][..], Vec::as_slice),
        );
        for k in 0..a.len().max(b.len()) {
            row(
                a.get(k).copied().unwrap_or(""),
                b.get(k).copied().unwrap_or(""),
            );
        }
    }
    out.lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// Every event rendered one per line with raw numbers, for `iolab trace --raw`.
pub fn raw_lines(trace: &Trace) -> Vec<String> {
    trace
        .events
        .iter()
        .map(|e| {
            let at = format!("{:>4}.{:06}", e.at.as_secs(), e.at.subsec_micros());
            let what = match &e.kind {
                EventKind::Enter(c) => format!("enter {}({})", c.name(), raw_args(&c.args)),
                EventKind::Exit(x) => {
                    let ret = match &x.ret {
                        Ret::Ok(a) => raw_arg(a),
                        Ret::Err(e) => format!("-1 {}", errno_name(*e)),
                    };
                    let outs: Vec<String> = x
                        .outs
                        .iter()
                        .filter(|(_, a)| !matches!(a, Arg::Members(_)))
                        .map(|(k, a)| format!("{k}:{}", raw_arg(a)))
                        .collect();
                    let name = crate::trace::syscall_name(x.nr);
                    if outs.is_empty() {
                        format!("exit  {name} = {ret}")
                    } else {
                        format!("exit  {name} = {ret}  out {}", outs.join(" "))
                    }
                }
                EventKind::Signal(s) => format!("signal {}", signal_name(*s)),
                EventKind::Spawn { child, kind } => format!("spawn {kind:?} {child}"),
                EventKind::Exec { former, program } => format!("exec {program} (by {former})"),
                EventKind::Gone(how) => format!("gone: {how}"),
                EventKind::Step(s) => format!("step: {s}"),
                EventKind::Blocked => "blocked".to_string(),
                EventKind::Repeat(n) => format!("repeated {n} more times"),
            };
            format!("{at} {:>7}/{:<7} {what}", e.pid, e.tid)
        })
        .collect()
}

fn raw_args(args: &[Arg]) -> String {
    args.iter()
        .filter(|a| !matches!(a, Arg::Members(_)))
        .map(raw_arg)
        .collect::<Vec<_>>()
        .join(", ")
}

fn raw_arg(a: &Arg) -> String {
    match a {
        Arg::Fd(fd) => fd.to_string(),
        Arg::Tid(t) => t.to_string(),
        Arg::Ptr(p) => format!("{p:#x}"),
        Arg::Addr(SockAddr::Inet(ip, port)) => format!("{{AF_INET, {ip}:{port}}}"),
        Arg::Addr(SockAddr::Inet6(ip, port)) => format!("{{AF_INET6, [{ip}]:{port}}}"),
        Arg::FdPair(a, b) => format!("[{a}, {b}]"),
        Arg::Word(w) => format!("{w:#x}"),
        Arg::ChildInfo { code, pid, status } => {
            format!("{{si_code={code}, si_pid={pid}, si_status={status}}}")
        }
        Arg::PollFds(list) => format!(
            "[{}]",
            list.iter()
                .map(|p| format!("{{fd={}, events={}}}", p.fd, flags_text(&p.events, 0)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => {
            let names = Names::default();
            Renderer {
                names: &names,
                roles: Vec::new(),
                records: &[],
            }
            .arg(0, other)
        }
    }
}
