//! Trace-synchronized scenarios: clients driven against a traced server in
//! steps that wait on the live trace instead of on the clock.
//!
//! The key step is [`Step::Settle`]: it waits until every task of the server
//! is *blocked* — inside a syscall that has not returned, asleep in the kernel
//! (`/proc/.../stat` says `S` or `D`), with no event for a settle period while
//! the clients hold still. Every client action is taken only after such an
//! observation, so the same server yields the same transcript every run.

use std::collections::{HashMap, HashSet};
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::limits::{self, Resources, bytes, seconds};
use crate::procfs::{cpu_time, task_state, tcp_table};
use crate::trace::{Arg, Event, EventKind, Ret, SockAddr, Termination, Tid, Trace};
use crate::tracer::{Spec, TraceError, Tracer};

/// Time bounds of a scenario run.
#[derive(Clone, Debug)]
pub struct Limits {
    /// How long the server may take to call `listen`.
    pub listen: Duration,
    /// How long the server must stay quiet and asleep to count as blocked.
    pub settle: Duration,
    /// How long a settle step waits before calling the server busy.
    pub settle_max: Duration,
    /// The same, once the server was found busy: it spins, and waiting
    /// longer each step would only make grading slow.
    pub settle_max_busy: Duration,
    /// How long a client waits for an expected reply.
    pub reply: Duration,
    /// How long the server gets to exit after SIGTERM before SIGKILL.
    pub term_grace: Duration,
    /// How long one scenario may take in all, from start to stop: past it
    /// the remaining steps are skipped and the server is stopped.
    pub time: Duration,
    /// What the server may use (CPU, memory, tasks, files).
    pub resources: Resources,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            listen: Duration::from_secs(10),
            settle: Duration::from_millis(40),
            settle_max: Duration::from_secs(1),
            settle_max_busy: Duration::from_millis(250),
            reply: Duration::from_secs(5),
            term_grace: Duration::from_secs(1),
            time: Duration::from_secs(60),
            resources: Resources::default(),
        }
    }
}

impl Limits {
    /// Applies one `NAME=VALUE` limit (see [`limits::Limit`]).
    pub fn set(&mut self, limit: limits::Limit) {
        use limits::Limit;
        match limit {
            Limit::Time(d) => self.time = d,
            Limit::Listen(d) => self.listen = d,
            Limit::Cpu(d) => self.resources.cpu = d,
            Limit::Memory(n) => self.resources.address_space = n,
            Limit::Tasks(n) => self.resources.tasks = n,
            Limit::FileSize(n) => self.resources.file_size = n,
            Limit::OpenFiles(n) => self.resources.open_files = n,
        }
    }
}

/// Why a scenario could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error(transparent)]
    Trace(#[from] TraceError),
    #[error("the server {how} before it listened on a socket{}{}", stderr_tail(.stderr), bullets(.findings))]
    ExitedBeforeListening {
        how: Termination,
        stderr: String,
        findings: Vec<String>,
        accounting: Box<Accounting>,
    },
    #[error("the server did not listen on a socket within {}{}{}", seconds(*.timeout), stderr_tail(.stderr), bullets(.findings))]
    NeverListened {
        timeout: Duration,
        stderr: String,
        findings: Vec<String>,
        accounting: Box<Accounting>,
    },
}

impl ScenarioError {
    /// What the program wrote to stderr (the first 64 KiB), when it ran.
    pub fn stderr(&self) -> Option<&str> {
        match self {
            ScenarioError::Trace(_) => None,
            ScenarioError::ExitedBeforeListening { stderr, .. }
            | ScenarioError::NeverListened { stderr, .. } => Some(stderr),
        }
    }

    /// What the harness traced and killed, when the program ran at all.
    pub fn accounting(&self) -> Option<&Accounting> {
        match self {
            ScenarioError::Trace(_) => None,
            ScenarioError::ExitedBeforeListening { accounting, .. }
            | ScenarioError::NeverListened { accounting, .. } => Some(accounting),
        }
    }
}

/// The processes of one run, by the harness's own accounting.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Accounting {
    /// Every process traced.
    pub processes: Vec<Tid>,
    /// Processes that outlived the trace and were killed by the fences
    /// (the cgroup, the harness as subreaper).
    pub escaped: Vec<Tid>,
    /// Processes still running once the run was over: must be none.
    pub left_running: Vec<Tid>,
}

/// The instant `d` from now, or far in the future for a huge `d`.
fn far(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(365 * 24 * 3600))
}

/// Findings as indented bullet lines.
fn bullets(findings: &[String]) -> String {
    findings.iter().map(|f| format!("\n  - {f}")).collect()
}

fn stderr_tail(stderr: &str) -> String {
    let tail: Vec<&str> = stderr.lines().rev().take(3).collect();
    if tail.is_empty() {
        String::new()
    } else {
        let lines: Vec<&str> = tail.into_iter().rev().collect();
        format!("; its stderr ends with: {}", lines.join(" / "))
    }
}

/// One step of a scenario. Clients are named by a letter (`A`, `B`, ...).
#[derive(Clone, Debug)]
pub enum Step {
    /// Wait until the server is blocked (or busy for `settle_max`, or gone).
    Settle(&'static str),
    Connect(&'static str),
    /// Connect like a client across a real network: a 1400-byte segment
    /// size and a 64 KiB receive buffer (which the kernel doubles), so a
    /// large reply cannot all sit in the kernel's buffers and the server's
    /// writes must wait for room.
    ConnectNarrow(&'static str),
    Send(&'static str, Vec<u8>),
    /// Expect exactly these bytes on a client (label, client, bytes).
    Expect(&'static str, &'static str, Vec<u8>),
    /// Expect nothing on a client once the server has settled (label, client).
    ExpectNothing(&'static str, &'static str),
    Close(&'static str),
    /// Send this many bytes while reading the reply at the same time, and
    /// expect them back upper-cased (label, client, size).
    Burst(&'static str, &'static str, usize),
    /// Like `Burst`, but the client reads slowly: only each time the server
    /// has settled, so the server's writes fill the socket buffers and must
    /// wait for room (label, client, size).
    SlowBurst(&'static str, &'static str, usize),
    /// With the clients holding still, measure what the server does for
    /// this long: syscalls, `EAGAIN`s, CPU time (label, duration).
    Measure(&'static str, Duration),
    /// Requests in flight together, timed: each is sent once the server
    /// has read the one before (so the first is being worked on when the
    /// next arrives), then every reply is awaited. Observes each reply's
    /// delay and the wall time of the whole (label, requests).
    Requests(&'static str, Vec<Request>),
    /// Send SIGTERM to the server's first process only (as `kill PID`
    /// would) and wait for it to exit; observes how it ended and which
    /// processes outlived it (label).
    Terminate(&'static str),
}

/// One request of a [`Step::Requests`].
#[derive(Clone, Debug)]
pub struct Request {
    pub client: &'static str,
    pub data: Vec<u8>,
    pub expected: Vec<u8>,
}

/// One reply of a [`Step::Requests`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub client: &'static str,
    pub got: Vec<u8>,
    pub expected: Vec<u8>,
    /// From sending the request to the whole expected reply, if it came.
    pub after: Option<Duration>,
}

/// A named list of steps.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: &'static str,
    /// Arguments added to the server's command line for this scenario
    /// (lab 4 runs the same server in two modes).
    pub args: &'static [&'static str],
    pub steps: Vec<Step>,
}

/// What a settle step saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Settled {
    /// Every task was blocked; the records they were blocked in.
    Blocked(Vec<usize>),
    /// The server kept running syscalls (or computing) for `settle_max`:
    /// how many syscalls it made meanwhile, and the last few records.
    Busy { calls: usize, recent: Vec<usize> },
    /// The server spins: every task that is not blocked keeps making calls
    /// that achieve nothing (`EAGAIN`, empty waits, sleeps), each of them
    /// seen at least twice and nothing else for a settle period. How many
    /// syscalls it made meanwhile, and the last few records.
    Spinning { calls: usize, recent: Vec<usize> },
    /// The server is gone.
    Gone,
}

/// What a step observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Observed {
    Settled(Settled),
    /// An action that worked.
    Done,
    /// An action that failed, and why.
    Failed(String),
    /// Bytes received by an `Expect`, `ExpectNothing` or `Burst`.
    Received {
        got: Vec<u8>,
        expected: Vec<u8>,
    },
    /// What a `Measure` step saw.
    Measured(Usage),
    /// What a `Requests` step saw: each reply, and the wall time from the
    /// first request to the last reply when every reply came whole.
    Timed {
        replies: Vec<Reply>,
        wall: Option<Duration>,
        /// The trace events from the first request on.
        events: std::ops::Range<usize>,
    },
    /// What a `Terminate` step saw: how the first process ended (`None`:
    /// it did not within the grace period), and the processes still
    /// running once it had (orphans, unless it never ended).
    Terminated {
        ended: Option<Termination>,
        left: Vec<Tid>,
    },
}

/// What the server did during a `Measure` step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Usage {
    pub wall: Duration,
    /// CPU time of all its tasks (from the scheduler's own accounting).
    pub cpu: Duration,
    /// The records it entered during the measurement.
    pub records: std::ops::Range<usize>,
}

/// The result of running a scenario.
#[derive(Debug)]
pub struct Outcome {
    pub scenario: &'static str,
    pub steps: Vec<(Step, Observed)>,
    pub trace: Trace,
    pub stdout: String,
    pub stderr: String,
    /// How the server ended (before the harness stopped it, if it did).
    pub ended_by_itself: Option<Termination>,
    /// The limits it hit and the rules it broke (running out of time
    /// included), as sentences for the report.
    pub findings: Vec<String>,
    pub accounting: Accounting,
}

impl Outcome {
    /// The observation of the step with this label.
    pub fn observed(&self, label: &str) -> Option<&Observed> {
        self.steps.iter().find_map(|(s, o)| {
            let l = match s {
                Step::Settle(l)
                | Step::Expect(l, ..)
                | Step::ExpectNothing(l, ..)
                | Step::Burst(l, ..)
                | Step::SlowBurst(l, ..)
                | Step::Measure(l, ..)
                | Step::Requests(l, ..)
                | Step::Terminate(l) => *l,
                _ => return None,
            };
            (l == label).then_some(o)
        })
    }

    /// The blocked records a settle step saw, if it saw the server blocked.
    pub fn blocked_at(&self, label: &str) -> Option<&[usize]> {
        match self.observed(label) {
            Some(Observed::Settled(Settled::Blocked(r))) => Some(r),
            _ => None,
        }
    }
}

/// Captured output of the server: the first [`OUTPUT_CAP`] bytes, and how
/// many it wrote in all (the rest is read and dropped, so a server that
/// floods its output never blocks on it nor grows the harness).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<(Vec<u8>, u64)>>);

/// How much of each output stream is kept.
pub const OUTPUT_CAP: usize = 64 * 1024;

impl Captured {
    fn spawn(mut from: impl Read + Send + 'static) -> (Captured, JoinHandle<()>) {
        let cap = Captured::default();
        let inner = cap.clone();
        let handle = std::thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match from.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        let mut v = inner.0.lock().unwrap_or_else(|e| e.into_inner());
                        let room = OUTPUT_CAP.saturating_sub(v.0.len());
                        v.0.extend_from_slice(&buf[..n.min(room)]);
                        v.1 += n as u64;
                    }
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
        });
        (cap, handle)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner()).0).into_owned()
    }

    /// How many bytes were written in all.
    fn total(&self) -> u64 {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).1
    }
}

/// A server running under the tracer, with the live trace.
pub struct Server {
    tracer: Tracer,
    pub trace: Trace,
    limits: Limits,
    live: HashSet<Tid>,
    /// The process of each task seen.
    pids: HashMap<Tid, Tid>,
    last_event: Instant,
    stdout: Captured,
    stderr: Captured,
    readers: Vec<JoinHandle<()>>,
    ended: Option<Termination>,
    /// A settle step already found the server busy.
    busy: bool,
    /// The server was settled since the last client action.
    settled: bool,
    /// Per task, the calls that achieved nothing since its last call that
    /// did something (counted from the start of the current settle).
    spins: HashMap<Tid, Spin>,
    /// When the current settle started, in trace time.
    spin_from: Duration,
    /// Where clients connect.
    pub addr: SocketAddr,
    /// When the scenario's time is up (`Limits::time`).
    deadline: Instant,
    /// How the tracer failed, if it did (strace output it cannot read).
    failure: Option<TraceError>,
}

impl Server {
    /// Starts `spec` under the tracer and waits until it listens.
    pub fn start(spec: &Spec, limits: &Limits) -> Result<Server, ScenarioError> {
        let mut tracer = Tracer::spawn(spec)?;
        let mut readers = Vec::new();
        let mut capture = |s: Option<Box<dyn Read + Send>>| match s {
            Some(s) => {
                let (c, h) = Captured::spawn(s);
                readers.push(h);
                c
            }
            None => Captured::default(),
        };
        let stdout = capture(
            tracer
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        );
        let stderr = capture(
            tracer
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        );
        let mut server = Server {
            tracer,
            trace: Trace::new(),
            limits: limits.clone(),
            live: HashSet::new(),
            pids: HashMap::new(),
            last_event: Instant::now(),
            stdout,
            stderr,
            readers,
            ended: None,
            busy: false,
            settled: false,
            spins: HashMap::new(),
            spin_from: Duration::MAX,
            addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            deadline: far(limits.time),
            failure: None,
        };
        let root = server.tracer.root;
        server.live.insert(root);
        let listen = limits.listen.min(limits.time);
        let deadline = far(listen);
        loop {
            if let Some(addr) = server.listening_addr() {
                server.addr = addr;
                return Ok(server);
            }
            if server.live.is_empty() || server.ended.is_some() {
                let how = server.ended.unwrap_or(Termination::Exited(0));
                let left_behind = server.processes_alive();
                let (stderr, findings, accounting) = server.wrap_up(&left_behind, Vec::new())?;
                return Err(ScenarioError::ExitedBeforeListening {
                    how,
                    stderr,
                    findings,
                    accounting: Box::new(accounting),
                });
            }
            if Instant::now() >= deadline {
                let mut more = Vec::new();
                // Computing, not waiting: some task is outside any system
                // call and running or runnable (its share of the CPU
                // depends on the machine's load, its state does not).
                let computing = server.live.iter().any(|&t| {
                    let pid = server.pids.get(&t).copied().unwrap_or(t);
                    server.trace.pending(t).is_none() && task_state(pid, t) == Some('R')
                });
                if computing {
                    more.push(format!(
                        "when the time ran out it was computing, outside any system call ({:.1} s of CPU in those {}): a loop that never reaches listen()?",
                        server.cpu_time().as_secs_f64(),
                        seconds(listen)
                    ));
                }
                let (stderr, findings, accounting) = server.wrap_up(&[], more)?;
                return Err(ScenarioError::NeverListened {
                    timeout: listen,
                    stderr,
                    findings,
                    accounting: Box::new(accounting),
                });
            }
            server.pump(Duration::from_millis(20));
        }
    }

    /// The processes with a task still alive.
    fn processes_alive(&self) -> Vec<Tid> {
        let mut pids: Vec<Tid> = self
            .live
            .iter()
            .map(|t| self.pids.get(t).copied().unwrap_or(*t))
            .collect();
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    /// Whether the scenario's time is up.
    fn overdue(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Kills everything (for errors before the scenario) and returns stderr,
    /// the findings (`left_behind`: processes that outlived the program,
    /// `more`: findings of the caller's own) and the accounting.
    /// A tracer that failed fails the run instead.
    fn wrap_up(
        mut self,
        left_behind: &[Tid],
        more: Vec<String>,
    ) -> Result<(String, Vec<String>, Accounting), ScenarioError> {
        let accounting = self.stop_now();
        if let Some(e) = self.failure.take() {
            return Err(e.into());
        }
        let mut findings = self.findings(left_behind);
        findings.extend(more);
        Ok((self.stderr.text(), findings, accounting))
    }

    /// The limits hit and rules broken, from the trace and the output.
    fn findings(&self, left_behind: &[Tid]) -> Vec<String> {
        let mut out = limits::findings(
            &self.trace,
            &self.limits.resources,
            self.tracer.limit_hit(),
            left_behind,
            self.addr.port() != 0,
        );
        let (stdout, stderr) = (self.stdout.total(), self.stderr.total());
        if stdout.max(stderr) > OUTPUT_CAP as u64 {
            out.push(format!(
                "it wrote {} to stdout and {} to stderr; iolab kept the first {} of each",
                bytes(stdout),
                bytes(stderr),
                bytes(OUTPUT_CAP as u64)
            ));
        }
        out
    }

    /// Receives events that arrive within `wait`; returns whether any did.
    fn pump(&mut self, wait: Duration) -> bool {
        let first = match self.tracer.events.recv_timeout(wait) {
            Ok(e) => e,
            Err(RecvTimeoutError::Timeout) => return false,
            Err(RecvTimeoutError::Disconnected) => {
                self.live.clear();
                return false;
            }
        };
        self.take(first);
        while let Ok(e) = self.tracer.events.try_recv() {
            self.take(e);
        }
        self.last_event = Instant::now();
        true
    }

    fn take(&mut self, e: Event) {
        match &e.kind {
            EventKind::Spawn { child, .. } => {
                self.live.insert(*child);
            }
            EventKind::Exec { former, .. } => {
                self.live.remove(former);
                self.live.insert(e.tid);
            }
            EventKind::Gone(how) => {
                self.live.remove(&e.tid);
                if e.tid == self.tracer.root {
                    self.ended = Some(*how);
                }
            }
            _ => {
                self.live.insert(e.tid);
            }
        }
        if e.tid != 0 {
            self.pids.insert(e.tid, e.pid);
        }
        let exit = matches!(e.kind, EventKind::Exit(_));
        let tid = e.tid;
        self.trace.push(e);
        if exit {
            self.count_spin(tid);
        }
    }

    /// Updates `tid`'s spin count with the call that just returned.
    fn count_spin(&mut self, tid: Tid) {
        let Some(r) = self.trace.record_of_event(self.trace.events.len() - 1) else {
            return;
        };
        let rec = &self.trace.records[r];
        if !rec.is_idle() {
            self.spins.remove(&tid);
            return;
        }
        let Some(entered) = rec.entered_at.filter(|&t| t >= self.spin_from) else {
            return;
        };
        let key = (rec.nr, rec.fd_arg(0).unwrap_or(-1));
        let returned = rec.exited_at.unwrap_or(entered);
        let spin = self.spins.entry(tid).or_insert_with(|| Spin {
            since: entered,
            last: returned,
            counts: HashMap::new(),
        });
        spin.last = returned;
        *spin.counts.entry(key).or_default() += 1;
    }

    /// Whether `tid` sleeps in the kernel and the trace has caught up with
    /// it: under strace, lines can still be on their way while the task
    /// already sleeps in its next call, so the call the trace shows pending
    /// is only the one it sleeps in once the tracer has nothing unread.
    fn asleep(&self, pid: Tid, tid: Tid) -> bool {
        self.tracer.caught_up() && asleep(pid, tid)
    }

    /// Whether pending record `r` has slept past its timeout (see
    /// [`Record::timeout`](crate::trace::Record::timeout)): it returns by
    /// itself at any moment, so it is late, not blocked. On a virtual
    /// machine the timer of an idle CPU can fire tens of milliseconds late
    /// (the host ran something else), and a server's 1 ms nap then looked
    /// blocked for a whole settle period.
    fn overslept(&self, r: usize) -> bool {
        let rec = &self.trace.records[r];
        match (rec.timeout(), rec.entered_at) {
            (Some(timeout), Some(at)) => at
                .checked_add(timeout)
                .is_some_and(|end| self.tracer.start.elapsed() > end),
            _ => false,
        }
    }

    /// Whether every live task is spinning or blocked, and one is spinning.
    fn spinning(&self) -> bool {
        let now = self.tracer.start.elapsed();
        let quiet = |t: Duration| now.saturating_sub(t) >= self.limits.settle;
        let mut any = false;
        for &t in &self.live {
            let blocked = self.trace.pending(t).is_some_and(|r| {
                let rec = &self.trace.records[r];
                rec.entered_at.is_some_and(quiet) && self.asleep(rec.pid, t) && !self.overslept(r)
            });
            if blocked {
                continue;
            }
            // Spinning: idle calls for a settle period, each seen twice,
            // and still coming (the last one returned within that period).
            let spinning = self.spins.get(&t).is_some_and(|spin| {
                quiet(spin.since) && !quiet(spin.last) && spin.counts.values().all(|&n| n >= 2)
            });
            if !spinning {
                return false;
            }
            any = true;
        }
        any
    }

    /// CPU time used so far by the server's live tasks.
    fn cpu_time(&self) -> Duration {
        self.live
            .iter()
            .filter_map(|&t| {
                let pid = self.pids.get(&t).copied().unwrap_or(t);
                cpu_time(pid, t)
            })
            .sum()
    }

    /// Each live task's CPU time so far.
    fn cpu_times(&self) -> HashMap<Tid, Duration> {
        self.live
            .iter()
            .filter_map(|&t| {
                let pid = self.pids.get(&t).copied().unwrap_or(t);
                Some((t, cpu_time(pid, t)?))
            })
            .collect()
    }

    /// The CPU time the live tasks used since `before` (a task born since
    /// counts from zero; one that has ended no longer counts, but its end
    /// was an event).
    fn ran_since(&self, before: &HashMap<Tid, Duration>) -> Duration {
        self.cpu_times()
            .into_iter()
            .map(|(t, now)| now.saturating_sub(before.get(&t).copied().unwrap_or_default()))
            .sum()
    }

    /// Whether no live task is stopped by a signal (`T`): such a server
    /// is not waiting for a CPU. (A task that just ended, or whose state
    /// cannot be read, says nothing either way.)
    fn all_runnable_or_blocked(&self) -> bool {
        !self.live.iter().any(|&t| {
            let pid = self.pids.get(&t).copied().unwrap_or(t);
            task_state(pid, t) == Some('T')
        })
    }

    /// The address a client should connect to, once the server has listened.
    fn listening_addr(&self) -> Option<SocketAddr> {
        let listen = self
            .trace
            .records
            .iter()
            .find(|r| r.name() == "listen" && r.ret == Some(Ret::Ok(Arg::Int(0))))?;
        let fd = listen.fd_arg(0)?;
        // The address it bound, if the port was given there.
        let bound = self
            .trace
            .records
            .iter()
            .filter(|r| r.pid == listen.pid && r.name() == "bind" && r.fd_arg(0) == Some(fd))
            .filter(|r| r.ret == Some(Ret::Ok(Arg::Int(0))))
            .find_map(|r| match r.args.get(1) {
                Some(Arg::Addr(a)) => Some(a.clone()),
                _ => None,
            });
        let ip = match &bound {
            Some(SockAddr::Inet(ip, _)) if !ip.is_unspecified() => IpAddr::V4(*ip),
            Some(SockAddr::Inet6(ip, _)) if !ip.is_unspecified() => IpAddr::V6(*ip),
            Some(SockAddr::Inet6(..)) => IpAddr::V6(Ipv6Addr::LOCALHOST),
            _ => IpAddr::V4(Ipv4Addr::LOCALHOST),
        };
        let port = match bound.as_ref().and_then(SockAddr::port) {
            Some(p) if p != 0 => p,
            _ => proc_socket_port(listen.pid, fd)
                .or_else(|| port_from_output(&self.stdout.text()))?,
        };
        Some(SocketAddr::new(ip, port))
    }

    fn mark(&mut self, kind: EventKind, tid: Tid) {
        let at = self.trace.events.last().map(|e| e.at).unwrap_or_default();
        let pid = self.pids.get(&tid).copied().unwrap_or(0);
        self.trace.push(Event { tid, pid, at, kind });
    }

    /// Records a client action in the trace. Every action is taken while
    /// the server is settled: if nothing was observed since the previous
    /// action, this settles first, so no action races the server.
    pub fn step(&mut self, text: String) {
        if !self.settled {
            self.settle();
        }
        self.step_now(text);
    }

    /// Records a client action without settling first: for actions that
    /// must happen while the server works (see [`Step::Requests`]), each
    /// after a trace event that orders it.
    fn step_now(&mut self, text: String) {
        while self.pump(Duration::ZERO) {}
        self.mark(EventKind::Step(text), 0);
        self.settled = false;
    }

    /// Whether the server is stuck right now: no event for five settle
    /// periods (since its last event or the last client action, whichever
    /// came later: a loaded machine may deliver a client's bytes late),
    /// every task asleep in a call that no timer ends (a sleep, a futex
    /// wait or a readiness wait with a timeout would end by itself).
    fn stuck(&self) -> bool {
        if self.last_event.elapsed() < self.limits.settle * 5 || self.live.is_empty() {
            return false;
        }
        self.live.iter().all(|&t| {
            self.trace.pending(t).is_some_and(|r| {
                let rec = &self.trace.records[r];
                !rec.has_timeout() && self.asleep(rec.pid, t)
            })
        })
    }

    /// Waits until the server is blocked, spinning, busy, or gone.
    pub fn settle(&mut self) -> Settled {
        self.settled = true;
        let start = Instant::now();
        let calls_before = self.trace.records.len();
        let recent = |trace: &Trace| {
            let from = trace.records.len().saturating_sub(4).max(calls_before);
            (from..trace.records.len()).collect()
        };
        self.spins.clear();
        self.spin_from = self.tracer.start.elapsed();
        let cpu_before = self.cpu_times();
        loop {
            self.pump(Duration::from_millis(5));
            if self.live.is_empty() {
                return Settled::Gone;
            }
            if self.spinning() {
                return Settled::Spinning {
                    calls: self.trace.records.len() - calls_before,
                    recent: recent(&self.trace),
                };
            }
            if self.last_event.elapsed() >= self.limits.settle {
                let mut tids: Vec<Tid> = self.live.iter().copied().collect();
                tids.sort_unstable();
                let blocked: Option<Vec<(Tid, usize)>> = tids
                    .iter()
                    .map(|&t| {
                        let r = self.trace.pending(t)?;
                        let asleep = self.asleep(self.trace.records[r].pid, t);
                        (asleep && !self.overslept(r)).then_some((t, r))
                    })
                    .collect();
                if let Some(blocked) = blocked {
                    // Nothing arrived while we looked: it is still blocked.
                    if !self.pump(Duration::ZERO) {
                        for &(t, _) in &blocked {
                            self.mark(EventKind::Blocked, t);
                        }
                        return Settled::Blocked(blocked.into_iter().map(|(_, r)| r).collect());
                    }
                }
            }
            let max = if self.busy {
                self.limits.settle_max_busy
            } else {
                self.limits.settle_max
            };
            if start.elapsed() >= max {
                // Busy means it went on by itself: made calls, or computed.
                // A server that did neither for a settle period while not
                // asleep was waiting for a CPU (or its tracer was): a loaded
                // machine, not a busy server. Give it the time it lost.
                let waiting = self.last_event.elapsed() >= self.limits.settle
                    && self.ran_since(&cpu_before) < self.limits.settle
                    && self.all_runnable_or_blocked();
                if waiting && start.elapsed() < max * STARVED_WAIT && !self.overdue() {
                    continue;
                }
                self.busy = true;
                return Settled::Busy {
                    calls: self.trace.records.len() - calls_before,
                    recent: recent(&self.trace),
                };
            }
        }
    }

    /// Stops the server: SIGTERM, a grace period, then SIGKILL to everything.
    fn stop(&mut self) -> Accounting {
        if !self.live.is_empty() {
            self.tracer.signal_all(Signal::SIGTERM);
            let deadline = Instant::now() + self.limits.term_grace;
            while !self.live.is_empty() && Instant::now() < deadline {
                self.pump(Duration::from_millis(10));
            }
        }
        self.stop_now()
    }

    /// Kills everything, takes the last events, and waits for the tracer
    /// and the output readers to finish; returns the accounting.
    fn stop_now(&mut self) -> Accounting {
        self.tracer.kill_all();
        while let Ok(e) = self.tracer.events.recv_timeout(Duration::from_secs(5)) {
            self.take(e);
        }
        if let Err(e) = self.tracer.join() {
            self.failure.get_or_insert(e);
        }
        // The readers end when every writer of the pipes is gone; one that
        // defeated every fence (see `left_running`) would keep them open.
        let deadline = Instant::now() + Duration::from_secs(2);
        while self.readers.iter().any(|r| !r.is_finished()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        for r in self.readers.drain(..) {
            if r.is_finished() {
                let _ = r.join();
            }
        }
        Accounting {
            processes: self.tracer.seen_processes(),
            escaped: self.tracer.escaped().to_vec(),
            left_running: self.tracer.left_running().to_vec(),
        }
    }
}

/// How many settle windows a settle waits for a server that neither
/// blocked nor ran (starved of CPU) before calling it busy.
const STARVED_WAIT: u32 = 10;

/// The calls a task made that achieved nothing, since its last one that did.
struct Spin {
    /// When the first of them entered, and the last one returned.
    since: Duration,
    last: Duration,
    /// How often each (syscall, first fd) came.
    counts: HashMap<(u64, i32), usize>,
}

/// Whether a task is asleep in the kernel (state `S` or `D`), and the
/// kernel has no network work pending that could wake it: under load,
/// loopback packets are handed to the `ksoftirqd` threads, and a FIN or a
/// handshake's last ACK can wait there while the server still sleeps.
fn asleep(pid: Tid, tid: Tid) -> bool {
    matches!(task_state(pid, tid), Some('S' | 'D')) && softirqs_idle()
}

/// Whether every `ksoftirqd` thread this process can see is asleep (true
/// where none is visible, as in a container with its own pid namespace).
fn softirqs_idle() -> bool {
    static DAEMONS: std::sync::OnceLock<Vec<Tid>> = std::sync::OnceLock::new();
    let daemons = DAEMONS.get_or_init(|| {
        std::fs::read_dir("/proc")
            .map(|dir| {
                dir.flatten()
                    .filter_map(|e| e.file_name().to_str()?.parse::<Tid>().ok())
                    .filter(|pid| {
                        std::fs::read_to_string(format!("/proc/{pid}/comm"))
                            .is_ok_and(|c| c.starts_with("ksoftirqd/"))
                    })
                    .collect()
            })
            .unwrap_or_default()
    });
    daemons
        .iter()
        .all(|&pid| !matches!(task_state(pid, pid), Some('R')))
}

/// Bytes in the client's send queue not yet acknowledged by the server's
/// kernel.
fn unsent(stream: &TcpStream) -> libc::c_int {
    queued(stream, libc::TIOCOUTQ)
}

/// Bytes of the server's replies waiting in the client's receive queue.
fn arrived(stream: &TcpStream) -> libc::c_int {
    queued(stream, libc::FIONREAD)
}

/// A byte count one of the socket queue ioctls (`TIOCOUTQ`, `FIONREAD`)
/// gives for the stream, 0 if it fails.
fn queued(stream: &TcpStream, request: libc::Ioctl) -> libc::c_int {
    let mut bytes: libc::c_int = 0;
    // SAFETY: both requests write one c_int through the pointer, which
    // points at a live local; the fd is the open stream's.
    let r = unsafe { libc::ioctl(std::os::fd::AsRawFd::as_raw_fd(stream), request, &mut bytes) };
    if r == 0 { bytes } else { 0 }
}

/// Bytes of the client's the server's kernel has acknowledged so far
/// (`tcpi_bytes_acked` of `TCP_INFO`), or `None` if the kernel will not say.
fn acked(stream: &TcpStream) -> Option<u64> {
    // SAFETY: an all-zero tcp_info is a valid value (plain integers).
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `info`, a live
    // local of that size, and the new length into `len`; the fd is the
    // open stream's.
    let r = unsafe {
        libc::getsockopt(
            std::os::fd::AsRawFd::as_raw_fd(stream),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    (r == 0).then_some(info.tcpi_bytes_acked)
}

/// Waits until what the client sent (data, or its FIN) has reached the
/// server's kernel: its send queue is empty, every byte acknowledged. On
/// loopback that happens at once, unless the machine is loaded and the
/// packets wait for `ksoftirqd`; a server whose receive buffer is full never
/// acknowledges, so this gives up after the reply timeout.
fn delivered(server: &mut Server, stream: &TcpStream, limits: &Limits) {
    let start = Instant::now();
    loop {
        if unsent(stream) == 0 || start.elapsed() > limits.reply || server.overdue() {
            return;
        }
        server.pump(Duration::from_micros(200));
    }
}

/// The local port of socket `fd` of process `pid`, from `/proc`.
fn proc_socket_port(pid: Tid, fd: i32) -> Option<u16> {
    let link = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).ok()?;
    let inode = link
        .to_str()?
        .strip_prefix("socket:[")?
        .strip_suffix(']')?
        .to_string();
    ["tcp", "tcp6"].iter().find_map(|table| {
        let row = tcp_table(&format!("/proc/{pid}/net/{table}"))
            .into_iter()
            .find(|row| row.inode == inode)?;
        u16::from_str_radix(row.local.rsplit(':').next()?, 16).ok()
    })
}

/// The port in a `listening on HOST:PORT` line.
fn port_from_output(stdout: &str) -> Option<u16> {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("listening on "))
        .and_then(|rest| rest.trim().rsplit(':').next())
        .and_then(|p| p.parse().ok())
}

/// A client connection driven by the scenario.
struct Client {
    name: &'static str,
    stream: Option<TcpStream>,
}

fn escape(bytes: &[u8]) -> String {
    let shown = &bytes[..bytes.len().min(24)];
    let mut s = String::from_utf8_lossy(shown).escape_debug().to_string();
    if bytes.len() > shown.len() {
        s.push_str("...");
    }
    format!("\"{s}\"")
}

/// The bytes a correct server answers to `data`.
pub fn upper(data: &[u8]) -> Vec<u8> {
    data.to_ascii_uppercase()
}

/// Deterministic lower-case text of `n` bytes, for bursts.
pub fn burst_data(n: usize) -> Vec<u8> {
    let alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789 .,\n";
    let mut x: u32 = 0x1234_5678;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            alphabet[(x % alphabet.len() as u32) as usize]
        })
        .collect()
}

/// Runs a scenario against `spec`.
pub fn run(spec: &Spec, scenario: &Scenario, limits: &Limits) -> Result<Outcome, ScenarioError> {
    let mut spec = spec.clone();
    spec.args.extend(scenario.args.iter().map(Into::into));
    let spec = spec.with_resources(limits.resources.clone());
    let mut server = Server::start(&spec, limits)?;
    let mut clients: Vec<Client> = Vec::new();
    let mut steps = Vec::new();
    // How the server ended before the harness signalled it, if it did.
    let mut ended_by_itself = None;
    let mut signalled = false;
    let mut timed_out = false;
    for step in &scenario.steps {
        if server.overdue() {
            timed_out = true;
            break;
        }
        if matches!(step, Step::Terminate(_)) && !signalled {
            ended_by_itself = server.ended;
            signalled = true;
        }
        let observed = perform(&mut server, &mut clients, step, limits);
        steps.push((step.clone(), observed));
    }
    if !signalled {
        ended_by_itself = server.ended;
    }
    // Processes that outlived a program that ended by itself: a daemon.
    let left_behind = if ended_by_itself.is_some() && !signalled {
        server.processes_alive()
    } else {
        Vec::new()
    };
    if !server.live.is_empty() {
        server.step(if timed_out {
            format!(
                "stop the server (SIGTERM): the scenario's {} are up",
                seconds(limits.time)
            )
        } else {
            "stop the server (SIGTERM)".to_string()
        });
    }
    drop(clients);
    let accounting = server.stop();
    // A tracer that failed (strace output that cannot be decoded) fails the run.
    if let Some(e) = server.failure.take() {
        return Err(e.into());
    }
    let mut findings = server.findings(&left_behind);
    if timed_out {
        findings.push(format!(
            "the scenario ran out of time: it may take {} (the time limit), and iolab stopped the server after {} of its {} steps",
            seconds(limits.time),
            steps.len(),
            scenario.steps.len()
        ));
    }
    Ok(Outcome {
        scenario: scenario.name,
        steps,
        stdout: server.stdout.text(),
        stderr: server.stderr.text(),
        trace: std::mem::take(&mut server.trace),
        ended_by_itself,
        findings,
        accounting,
    })
}

/// Connects with a small segment size and receive buffer, set before the
/// handshake so that they shape the connection.
fn connect_narrow(addr: SocketAddr, timeout: Duration) -> std::io::Result<TcpStream> {
    use nix::sys::socket::{
        AddressFamily, SockFlag, SockType, SockaddrStorage, connect, setsockopt, socket, sockopt,
    };
    let family = if addr.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    };
    let fd = socket(family, SockType::Stream, SockFlag::SOCK_CLOEXEC, None)?;
    setsockopt(&fd, sockopt::RcvBuf, &(64 * 1024))?;
    setsockopt(&fd, sockopt::TcpMaxSeg, &1400)?;
    // A blocking connect gives up after SO_SNDTIMEO, like connect_timeout;
    // the timeout is cleared again for the writes that follow.
    let timeval =
        |d: Duration| nix::sys::time::TimeVal::new(d.as_secs() as _, d.subsec_micros() as _);
    setsockopt(&fd, sockopt::SendTimeout, &timeval(timeout))?;
    connect(
        std::os::fd::AsRawFd::as_raw_fd(&fd),
        &SockaddrStorage::from(addr),
    )?;
    setsockopt(&fd, sockopt::SendTimeout, &timeval(Duration::ZERO))?;
    Ok(TcpStream::from(fd))
}

fn client<'a>(clients: &'a mut [Client], name: &str) -> Option<&'a mut TcpStream> {
    clients
        .iter_mut()
        .find(|c| c.name == name)
        .and_then(|c| c.stream.as_mut())
}

fn perform(
    server: &mut Server,
    clients: &mut Vec<Client>,
    step: &Step,
    limits: &Limits,
) -> Observed {
    match step {
        Step::Settle(_) => Observed::Settled(server.settle()),
        Step::Connect(name) | Step::ConnectNarrow(name) => {
            let narrow = matches!(step, Step::ConnectNarrow(_));
            server.step(format!(
                "{name}: connect{}",
                if narrow { " (narrow window)" } else { "" }
            ));
            let connected = if narrow {
                connect_narrow(server.addr, limits.reply)
            } else {
                TcpStream::connect_timeout(&server.addr, limits.reply)
            };
            match connected {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    clients.push(Client {
                        name,
                        stream: Some(s),
                    });
                    Observed::Done
                }
                Err(e) => Observed::Failed(format!("{name} could not connect: {e}")),
            }
        }
        Step::Send(name, data) => {
            server.step(format!("{name}: send {}", escape(data)));
            match client(clients, name) {
                Some(s) => match s.write_all(data) {
                    Ok(()) => {
                        delivered(server, s, limits);
                        Observed::Done
                    }
                    Err(e) => Observed::Failed(format!("{name} could not send: {e}")),
                },
                None => Observed::Failed(format!("{name} is not connected")),
            }
        }
        Step::Close(name) => {
            server.step(format!("{name}: close"));
            match clients.iter_mut().find(|c| c.name == *name) {
                Some(c) => {
                    // The FIN first, and closed once it arrived, so that the
                    // next settle sees the server's answer to it.
                    if let Some(s) = &c.stream
                        && s.shutdown(std::net::Shutdown::Write).is_ok()
                    {
                        delivered(server, s, limits);
                    }
                    c.stream = None;
                    Observed::Done
                }
                None => Observed::Failed(format!("{name} is not connected")),
            }
        }
        Step::Expect(_, name, expected) => {
            let got = match client(clients, name) {
                Some(s) => collect(server, s, expected.len()),
                None => Vec::new(),
            };
            Observed::Received {
                got,
                expected: expected.clone(),
            }
        }
        Step::ExpectNothing(_, name) => {
            let got = match client(clients, name) {
                Some(s) => collect(server, s, usize::MAX),
                None => Vec::new(),
            };
            Observed::Received {
                got,
                expected: Vec::new(),
            }
        }
        Step::Measure(_, wall) => {
            server.settle();
            let records = server.trace.records.len();
            let cpu = server.cpu_time();
            let start = Instant::now();
            while start.elapsed() < *wall {
                server.pump(Duration::from_millis(5));
            }
            Observed::Measured(Usage {
                wall: start.elapsed(),
                cpu: server.cpu_time().saturating_sub(cpu),
                records: records..server.trace.records.len(),
            })
        }
        Step::Requests(_, requests) => timed_requests(server, clients, requests, limits),
        Step::Terminate(_) => {
            server.step("SIGTERM to main".to_string());
            // Only while it lives: a reaped pid may already be someone else's.
            if server.ended.is_none() {
                let root = nix::unistd::Pid::from_raw(server.tracer.root);
                let _ = nix::sys::signal::kill(root, Signal::SIGTERM);
            }
            let deadline = Instant::now() + limits.term_grace * 2;
            while server.ended.is_none() && !server.live.is_empty() && Instant::now() < deadline {
                server.pump(Duration::from_millis(10));
            }
            let ended = server.ended;
            if ended.is_some() && !server.live.is_empty() {
                server.settle();
            }
            let mut left: Vec<Tid> = server
                .live
                .iter()
                .map(|t| server.pids.get(t).copied().unwrap_or(*t))
                .collect();
            left.sort_unstable();
            left.dedup();
            Observed::Terminated { ended, left }
        }
        Step::Burst(_, name, size) | Step::SlowBurst(_, name, size) => {
            let slow = matches!(step, Step::SlowBurst(..));
            let data = burst_data(*size);
            server.step(if slow {
                format!("{name}: send {size} bytes, reading the reply only when the server settles")
            } else {
                format!("{name}: send {size} bytes while reading the reply")
            });
            let Some(stream) = client(clients, name) else {
                return Observed::Failed(format!("{name} is not connected"));
            };
            let got = match stream.try_clone() {
                Ok(writer) if slow => slow_burst(server, stream, writer, data.clone(), limits),
                Ok(writer) => burst(server, stream, writer, data.clone(), limits),
                Err(e) => return Observed::Failed(format!("{name}: {e}")),
            };
            // Let the server take in what it did while the bytes flowed.
            while server.pump(Duration::ZERO) {}
            Observed::Received {
                got,
                expected: upper(&data),
            }
        }
    }
}

/// Sends each request once the server has read the one before (a read
/// that returned data after that request was sent), then waits for every
/// reply, polling the clients every millisecond so that the delays are
/// measured, not guessed. Gives up at the reply timeout, or as soon as the
/// server is stuck (every task asleep in a call no timer ends) or a client
/// was disconnected.
fn timed_requests(
    server: &mut Server,
    clients: &mut [Client],
    requests: &[Request],
    limits: &Limits,
) -> Observed {
    let mut sent: Vec<Instant> = Vec::with_capacity(requests.len());
    let mut failed = None;
    let mut first_event = None;
    for (i, req) in requests.iter().enumerate() {
        let text = format!("{}: send {}", req.client, escape(&req.data));
        if i == 0 {
            server.step(text);
            first_event = Some(server.trace.events.len() - 1);
        } else {
            server.step_now(text);
        }
        let mark = server.trace.events.len();
        match client(clients, req.client) {
            Some(s) => {
                if let Err(e) = s.write_all(&req.data) {
                    failed = Some(format!("{} could not send: {e}", req.client));
                    break;
                }
            }
            None => {
                failed = Some(format!("{} is not connected", req.client));
                break;
            }
        }
        sent.push(Instant::now());
        // The client acted: quiet is counted from here.
        server.last_event = Instant::now();
        if i + 1 < requests.len() {
            let deadline = Instant::now() + limits.reply;
            let mut from = mark;
            let mut reader = None;
            while reader.is_none()
                && Instant::now() < deadline
                && !server.stuck()
                && !server.overdue()
            {
                reader = read_since(&server.trace, &mut from, &req.data);
                if reader.is_none() {
                    server.pump(Duration::from_millis(1));
                }
            }
            // Then wait until that task is at work on it: it made its next
            // call (a sleep, a lock wait), or it has computed for a while.
            if let Some((tid, read_at)) = reader {
                let pid = server.pids.get(&tid).copied().unwrap_or(tid);
                let cpu_at_read = cpu_time(pid, tid);
                let next_call = |trace: &Trace| {
                    trace.events[read_at + 1..].iter().any(|e| {
                        e.tid == tid && matches!(e.kind, EventKind::Enter(_) | EventKind::Gone(_))
                    })
                };
                while !next_call(&server.trace)
                    && Instant::now() < deadline
                    && !server.stuck()
                    && match (cpu_at_read, cpu_time(pid, tid)) {
                        (Some(a), Some(b)) => b.saturating_sub(a) < AT_WORK,
                        _ => false,
                    }
                {
                    server.pump(Duration::from_millis(1));
                }
            }
        }
    }
    if let Some(f) = failed {
        return Observed::Failed(f);
    }
    let mut got: Vec<Vec<u8>> = vec![Vec::new(); requests.len()];
    let mut done: Vec<Option<Instant>> = vec![None; requests.len()];
    let mut closed = vec![false; requests.len()];
    let deadline = Instant::now() + limits.reply;
    loop {
        for (i, req) in requests.iter().enumerate() {
            if done[i].is_some() || closed[i] {
                continue;
            }
            if let Some(s) = client(clients, req.client) {
                closed[i] = drain(s, &mut got[i], req.expected.len());
            }
            if got[i].len() >= req.expected.len() {
                done[i] = Some(Instant::now());
            }
        }
        let pending = (0..requests.len()).any(|i| done[i].is_none() && !closed[i]);
        if !pending || Instant::now() >= deadline || server.stuck() || server.overdue() {
            break;
        }
        server.pump(Duration::from_millis(1));
    }
    while server.pump(Duration::ZERO) {}
    let replies: Vec<Reply> = requests
        .iter()
        .enumerate()
        .map(|(i, req)| Reply {
            client: req.client,
            after: done[i]
                .filter(|_| got[i] == req.expected)
                .map(|d| d.duration_since(sent[i])),
            got: std::mem::take(&mut got[i]),
            expected: req.expected.clone(),
        })
        .collect();
    let wall = if replies.iter().all(|r| r.after.is_some()) {
        done.iter()
            .flatten()
            .max()
            .map(|last| last.duration_since(sent[0]))
    } else {
        None
    };
    Observed::Timed {
        replies,
        wall,
        events: first_event.unwrap_or(0)..server.trace.events.len(),
    }
}

/// Whether a read returned the start of `data` at an event from `*from`
/// on; moves `*from` past the events looked at, so each is looked at once.
/// The task that read `data` in an event since `from` (which moves on), and
/// the event index of that read's return.
fn read_since(trace: &Trace, from: &mut usize, data: &[u8]) -> Option<(Tid, usize)> {
    let events = *from..trace.events.len();
    *from = trace.events.len();
    events.into_iter().find_map(|i| {
        let read = matches!(trace.events[i].kind, EventKind::Exit(_))
            && trace.record_of_event(i).is_some_and(|r| {
                trace.records[r].is_a(&[crate::syscalls::Class::Read])
                    && trace.records[r].args.iter().any(|a| {
                    matches!(a, Arg::Bytes { head, .. }
                        if !head.is_empty() && data.starts_with(&head[..head.len().min(data.len())]))
                })
            });
        read.then(|| (trace.events[i].tid, i))
    })
}

/// How much CPU the task that read a request must use before the next
/// request goes out, unless it makes another call first: enough to be past
/// taking a lock, so the next request cannot overtake it.
const AT_WORK: Duration = Duration::from_millis(2);

/// Sends `data` from a writer thread while reading the reply. Reading stops
/// when the whole reply arrived, or when the server's kernel has the whole
/// request and the server has settled (so every byte it will send is
/// already here), or when nothing moved for the reply timeout (a stuck
/// server; the socket is then shut down to free the writer).
fn burst(
    server: &mut Server,
    stream: &mut TcpStream,
    mut writer: TcpStream,
    data: Vec<u8>,
    limits: &Limits,
) -> Vec<u8> {
    let want = data.len();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer_done = Arc::clone(&done);
    let handle = std::thread::spawn(move || {
        let _ = writer.write_all(&data);
        writer_done.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    let mut got = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut last_progress = Instant::now();
    let _ = stream.set_read_timeout(Some(Duration::from_millis(20)));
    while got.len() < want {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                last_progress = Instant::now();
                continue;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) => {}
            Err(_) => break,
        }
        server.pump(Duration::ZERO);
        // The writer is done once the request is in the client's own send
        // queue; its tail may wait there a while (for the server's window
        // to open, or for a softirq on a loaded machine), and a server
        // blocked in read meanwhile is not finished. So the reply is
        // collected only once the server's kernel has every byte of the
        // request (TIOCOUTQ = 0); until then read on. A server that stopped
        // reading for good is given up on after the reply timeout.
        if done.load(std::sync::atomic::Ordering::SeqCst) && unsent(stream) == 0 {
            got.extend(collect(server, stream, want - got.len()));
            break;
        }
        if last_progress.elapsed() > limits.reply || server.overdue() {
            break;
        }
    }
    if !done.load(std::sync::atomic::Ordering::SeqCst) {
        let _ = stream.shutdown(std::net::Shutdown::Both);
    }
    let _ = handle.join();
    got
}

/// Sends `data` from a writer thread, and reads the reply only each time the
/// server has settled: the server's replies pile up in the socket buffers
/// until its writes must wait, whatever their sizes. Reading stops when the
/// whole reply arrived, the server is gone, or nothing moved either way over
/// a few settles and the reply timeout (a stuck server).
fn slow_burst(
    server: &mut Server,
    stream: &mut TcpStream,
    mut writer: TcpStream,
    data: Vec<u8>,
    limits: &Limits,
) -> Vec<u8> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let want = data.len();
    let sent = Arc::new(AtomicUsize::new(0));
    let writer_sent = Arc::clone(&sent);
    let handle = std::thread::spawn(move || {
        for chunk in data.chunks(64 * 1024) {
            if writer.write_all(chunk).is_err() {
                break;
            }
            writer_sent.fetch_add(chunk.len(), Ordering::SeqCst);
        }
    });
    let mut got = Vec::new();
    let mut last_progress = Instant::now();
    let mut stalls = 0;
    while got.len() < want {
        let flow = |s: &TcpStream| (acked(s), arrived(s));
        let before = (got.len(), sent.load(Ordering::SeqCst), acked(stream));
        let flow_before = flow(stream);
        let settled = server.settle();
        // Read only once the server has stopped: blocked or spinning, or
        // busy without taking input or sending replies during the whole
        // settle; and with bytes of the request waiting in the client's
        // send queue (it is not taking input: its replies wait for room),
        // or with the whole request sent. Until then the client reads
        // nothing, so the server's send buffer cannot grow (that needs its
        // replies acknowledged), and a reply bigger than any send buffer must
        // wait for room.
        // Reading earlier, at every settle, let a starved writer (a loaded
        // machine) pace the server, and a slow server's own buffers grow,
        // until its replies never filled them.
        let busy = matches!(settled, Settled::Busy { .. }) && flow(stream) != flow_before;
        let done = sent.load(Ordering::SeqCst) >= want;
        let closed = !busy && (done || unsent(stream) > 0) && drain(stream, &mut got, want);
        if closed || settled == Settled::Gone || server.overdue() {
            break;
        }
        // A server that takes input or sends replies is progressing.
        if (got.len(), sent.load(Ordering::SeqCst), acked(stream)) == before {
            stalls += 1;
            if stalls >= 3 && last_progress.elapsed() > limits.reply.min(Duration::from_secs(1)) {
                break;
            }
        } else {
            stalls = 0;
            last_progress = Instant::now();
        }
    }
    if sent.load(Ordering::SeqCst) < want {
        let _ = stream.shutdown(std::net::Shutdown::Both);
    }
    let _ = handle.join();
    got
}

/// Reads up to `want` bytes: whatever has arrived, and then, each time the
/// server settles (blocked, busy or gone), whatever arrived meanwhile, until a
/// settle brings nothing new and the server's kernel holds nothing more of
/// its replies. No clock decides when a reply is complete.
///
/// A server blocked in its next read may not have sent all it wrote: its
/// kernel holds a short last segment (Nagle's algorithm, unless the server
/// set `TCP_NODELAY`) until the client acknowledges the one before, and the
/// client's kernel may delay that ACK for 40 ms or more, longer on a loaded
/// machine. Those bytes are the server's socket's send queue.
fn collect(server: &mut Server, stream: &TcpStream, want: usize) -> Vec<u8> {
    let mut got = Vec::new();
    let mut closed = drain(stream, &mut got, want);
    let mut last_progress = Instant::now();
    while got.len() < want && !closed {
        let before = got.len();
        let settled = server.settle();
        // Looked at before draining: what the server's kernel no longer
        // holds, the client's has acknowledged, so it is here to drain.
        let held = server_unacked(stream).unwrap_or(0);
        closed = drain(stream, &mut got, want);
        if settled == Settled::Gone || server.overdue() {
            break;
        }
        if got.len() > before {
            last_progress = Instant::now();
        } else if held == 0 || last_progress.elapsed() > server.limits.reply {
            break;
        }
    }
    got
}

/// Bytes the server's side of `stream` has written and the client has not
/// acknowledged (its socket's `tx_queue` in `/proc/net/tcp`, which
/// includes bytes not sent yet), or `None` if that socket is not found
/// (then `collect` goes by settles alone, as it did before: an IPv6
/// server reached over IPv4 is listed under an IPv4-mapped address that
/// this does not look for).
fn server_unacked(stream: &TcpStream) -> Option<u32> {
    // The server's socket: local address the client's peer, remote the
    // client's own; each written as the kernel prints it (the address's
    // 32-bit words in host order, then the port, in hex).
    let (server, client) = (stream.peer_addr().ok()?, stream.local_addr().ok()?);
    let hex = |addr: &SocketAddr| {
        let words: String = match addr.ip() {
            IpAddr::V4(ip) => format!("{:08X}", u32::from_ne_bytes(ip.octets())),
            IpAddr::V6(ip) => ip
                .octets()
                .chunks(4)
                .map(|w| format!("{:08X}", u32::from_ne_bytes([w[0], w[1], w[2], w[3]])))
                .collect(),
        };
        format!("{words}:{:04X}", addr.port())
    };
    let table = if server.is_ipv4() { "tcp" } else { "tcp6" };
    let (local, remote) = (hex(&server), hex(&client));
    tcp_table(&format!("/proc/net/{table}"))
        .into_iter()
        .find(|row| row.local == local && row.remote == remote)
        .map(|row| row.tx_queue)
}

/// Appends to `got` what has arrived on `stream`, up to `want` bytes in
/// all, without waiting; returns whether the server closed the connection
/// (or it failed). MSG_DONTWAIT rather than O_NONBLOCK: a writer thread may
/// share the socket's file description and must keep blocking writes.
fn drain(stream: &TcpStream, got: &mut Vec<u8>, want: usize) -> bool {
    use nix::errno::Errno;
    use nix::sys::socket::{MsgFlags, recv};
    let fd = std::os::fd::AsRawFd::as_raw_fd(stream);
    let mut buf = [0u8; 64 * 1024];
    while got.len() < want {
        let room = (want - got.len()).min(buf.len());
        match recv(fd, &mut buf[..room], MsgFlags::MSG_DONTWAIT) {
            Ok(0) => return true,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => return false,
            Err(_) => return true,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_is_found_in_the_listening_line() {
        assert_eq!(
            port_from_output("hello\nlistening on 127.0.0.1:4242\n"),
            Some(4242)
        );
        assert_eq!(port_from_output("listening on [::1]:80\n"), Some(80));
        assert_eq!(port_from_output("ready\n"), None);
    }

    #[test]
    fn the_server_side_send_queue_is_found_for_both_families() {
        for ip in ["127.0.0.1:0", "[::1]:0"] {
            let listener = std::net::TcpListener::bind(ip).expect("bind on loopback");
            let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let (mut served, _) = listener.accept().unwrap();
            assert_eq!(server_unacked(&client), Some(0), "{ip}: a quiet connection");
            // The client reads nothing: what does not fit its window waits
            // in the server's send queue.
            served.set_nonblocking(true).unwrap();
            let chunk = vec![b'x'; 64 * 1024];
            let mut wrote = 0;
            while let Ok(n) = served.write(&chunk) {
                wrote += n;
            }
            let held = server_unacked(&client).expect("the server's socket");
            assert!(held > 0, "{ip}: {held} of {wrote} bytes held");
            let mut sink = vec![0u8; wrote];
            (&client).read_exact(&mut sink).unwrap();
            let start = Instant::now();
            while server_unacked(&client) != Some(0) {
                assert!(
                    start.elapsed() < Duration::from_secs(10),
                    "{ip}: never drained"
                );
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }

    #[test]
    fn burst_data_is_deterministic_lower_case_text() {
        let a = burst_data(4096);
        assert_eq!(a, burst_data(4096));
        assert!(a.iter().all(|b| !b.is_ascii_uppercase()));
        assert_ne!(upper(&a), a);
    }

    #[test]
    fn stderr_tail_keeps_the_last_lines() {
        assert_eq!(stderr_tail(""), "");
        assert_eq!(
            stderr_tail("a\nb\nc\nd\n"),
            "; its stderr ends with: b / c / d"
        );
    }
}
