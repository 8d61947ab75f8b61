//! A server under the tracer: starting it, pumping its live trace, and
//! deciding when it has settled (every task blocked, busy or spinning).

use std::collections::{HashMap, HashSet};
use std::io::{ErrorKind, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::outcome::{Accounting, Limits, ScenarioError, far};
use super::ports::{port_from_output, proc_socket_port};
use super::steps::Settled;
use crate::findings::{self, Finding};
use crate::launch::{self, Separation};
use crate::procfs::{cpu_time, task_state};
use crate::trace::{Arg, Event, EventKind, Ret, SockAddr, Termination, Tid, Trace};
use crate::tracer::{Spec, TraceError, Tracer};

/// Captured output of the server: the first [`OUTPUT_CAP`] bytes, and how
/// many it wrote in all (the rest is read and dropped, so a server that
/// floods its output never blocks on it nor grows the harness).
#[derive(Clone, Default)]
pub(super) struct Captured(Arc<Mutex<(Vec<u8>, u64)>>);

/// How much of each output stream is kept.
pub const OUTPUT_CAP: usize = 64 * 1024;

impl Captured {
    pub(super) fn spawn(mut from: impl Read + Send + 'static) -> (Captured, JoinHandle<()>) {
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

    pub(super) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner()).0).into_owned()
    }

    /// How many bytes were written in all.
    pub(super) fn total(&self) -> u64 {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).1
    }
}

/// A server running under the tracer, with the live trace.
pub struct Server {
    pub(super) tracer: Tracer,
    pub trace: Trace,
    pub(super) limits: Limits,
    pub(super) live: HashSet<Tid>,
    /// The process of each task seen.
    pub(super) pids: HashMap<Tid, Tid>,
    pub(super) last_event: Instant,
    pub(super) stdout: Captured,
    pub(super) stderr: Captured,
    pub(super) readers: Vec<JoinHandle<()>>,
    pub(super) ended: Option<Termination>,
    /// The server's first process: the root, unless a launcher started
    /// the server (see [`crate::launch`]); how it ends is `ended`.
    pub(super) main: Tid,
    /// A settle step already found the server busy.
    pub(super) busy: bool,
    /// The server was settled since the last client action.
    pub(super) settled: bool,
    /// Per task, the calls that achieved nothing since its last call that
    /// did something (counted from the start of the current settle).
    pub(super) spins: HashMap<Tid, Spin>,
    /// When the current settle started, in trace time.
    pub(super) spin_from: Duration,
    /// Where clients connect.
    pub addr: SocketAddr,
    /// When the scenario's time is up (`Limits::time`).
    pub(super) deadline: Instant,
    /// How the tracer failed, if it did (strace output it cannot read).
    pub(super) failure: Option<TraceError>,
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
            main: 0,
            busy: false,
            settled: false,
            spins: HashMap::new(),
            spin_from: Duration::MAX,
            addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            deadline: far(limits.time),
            failure: None,
        };
        let root = server.tracer.root;
        server.main = root;
        server.live.insert(root);
        let listen = limits.listen.min(limits.time);
        let deadline = far(listen);
        loop {
            if let Some(addr) = server.listening_addr() {
                server.addr = addr;
                if let Separation::Launched(launch) = launch::separate(&server.trace) {
                    server.main = launch.pid;
                }
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
                    more.push(Finding::ComputingBeforeListen {
                        cpu: server.cpu_time(),
                        waited: listen,
                    });
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
    pub(super) fn processes_alive(&self) -> Vec<Tid> {
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
    pub(super) fn overdue(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Kills everything (for errors before the scenario) and returns stderr,
    /// the findings (`left_behind`: processes that outlived the program,
    /// `more`: findings of the caller's own) and the accounting.
    /// A tracer that failed fails the run instead.
    pub(super) fn wrap_up(
        mut self,
        left_behind: &[Tid],
        more: Vec<Finding>,
    ) -> Result<(String, Vec<Finding>, Accounting), ScenarioError> {
        let accounting = self.stop_now();
        if let Some(e) = self.failure.take() {
            return Err(e.into());
        }
        let mut findings = self.findings(left_behind);
        findings.extend(more);
        Ok((self.stderr.text(), findings, accounting))
    }

    /// The limits hit and rules broken, from the trace and the output.
    pub(super) fn findings(&self, left_behind: &[Tid]) -> Vec<Finding> {
        let mut out = findings::of_run(
            &self.trace,
            &self.limits.resources,
            self.tracer.limit_hit(),
            left_behind,
            self.addr.port() != 0,
        );
        let (stdout, stderr) = (self.stdout.total(), self.stderr.total());
        if stdout.max(stderr) > OUTPUT_CAP as u64 {
            out.push(Finding::OutputCapped {
                stdout,
                stderr,
                cap: OUTPUT_CAP as u64,
            });
        }
        out
    }

    /// Receives events that arrive within `wait`; returns whether any did.
    pub(super) fn pump(&mut self, wait: Duration) -> bool {
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

    pub(super) fn take(&mut self, e: Event) {
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
                if e.tid == self.main {
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
    pub(super) fn count_spin(&mut self, tid: Tid) {
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
    pub(super) fn asleep(&self, pid: Tid, tid: Tid) -> bool {
        self.tracer.caught_up() && asleep(pid, tid)
    }

    /// Whether pending record `r` has slept past its timeout (see
    /// [`Record::timeout`](crate::trace::Record::timeout)): it returns by
    /// itself at any moment, so it is late, not blocked. On a virtual
    /// machine the timer of an idle CPU can fire tens of milliseconds late
    /// (the host ran something else), and a server's 1 ms nap then looked
    /// blocked for a whole settle period.
    pub(super) fn overslept(&self, r: usize) -> bool {
        let rec = &self.trace.records[r];
        match (rec.timeout(), rec.entered_at) {
            (Some(timeout), Some(at)) => at
                .checked_add(timeout)
                .is_some_and(|end| self.tracer.start.elapsed() > end),
            _ => false,
        }
    }

    /// Whether every live task is spinning or blocked, and one is spinning.
    pub(super) fn spinning(&self) -> bool {
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
    pub(super) fn cpu_time(&self) -> Duration {
        self.live
            .iter()
            .filter_map(|&t| {
                let pid = self.pids.get(&t).copied().unwrap_or(t);
                cpu_time(pid, t)
            })
            .sum()
    }

    /// Each live task's CPU time so far.
    pub(super) fn cpu_times(&self) -> HashMap<Tid, Duration> {
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
    pub(super) fn ran_since(&self, before: &HashMap<Tid, Duration>) -> Duration {
        self.cpu_times()
            .into_iter()
            .map(|(t, now)| now.saturating_sub(before.get(&t).copied().unwrap_or_default()))
            .sum()
    }

    /// Whether no live task is stopped by a signal (`T`): such a server
    /// is not waiting for a CPU. (A task that just ended, or whose state
    /// cannot be read, says nothing either way.)
    pub(super) fn all_runnable_or_blocked(&self) -> bool {
        !self.live.iter().any(|&t| {
            let pid = self.pids.get(&t).copied().unwrap_or(t);
            task_state(pid, t) == Some('T')
        })
    }

    /// The address a client should connect to, once the server has listened.
    pub(super) fn listening_addr(&self) -> Option<SocketAddr> {
        let listen = self.trace.first_listen()?;
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

    pub(super) fn mark(&mut self, kind: EventKind, tid: Tid) {
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
    pub(super) fn step_now(&mut self, text: String) {
        while self.pump(Duration::ZERO) {}
        self.mark(EventKind::Step(text), 0);
        self.settled = false;
    }

    /// Whether the server is stuck right now: no event for five settle
    /// periods (since its last event or the last client action, whichever
    /// came later: a loaded machine may deliver a client's bytes late),
    /// every task asleep in a call that no timer ends (a sleep, a futex
    /// wait or a readiness wait with a timeout would end by itself).
    pub(super) fn stuck(&self) -> bool {
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
    pub(super) fn stop(&mut self) -> Accounting {
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
    pub(super) fn stop_now(&mut self) -> Accounting {
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
pub(super) const STARVED_WAIT: u32 = 10;

/// The calls a task made that achieved nothing, since its last one that did.
pub(super) struct Spin {
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
pub(super) fn asleep(pid: Tid, tid: Tid) -> bool {
    matches!(task_state(pid, tid), Some('S' | 'D')) && softirqs_idle()
}

/// Whether every `ksoftirqd` thread this process can see is asleep (true
/// where none is visible, as in a container with its own pid namespace).
pub(super) fn softirqs_idle() -> bool {
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
