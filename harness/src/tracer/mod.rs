//! Tracing a program: the [`Tracer`] a caller holds, whichever backend runs
//! the program, and the layers under it.
//!
//! One dedicated thread runs the program under a backend, becomes the
//! tracer of it and of every thread and process it creates, and sends each
//! syscall entry and exit, signal, spawn, exec and exit over a channel as
//! it happens, so that a scenario can wait on the live trace. The native
//! backend ([`Backend::Native`], `ptrace`) is iolab's own ptrace tracer;
//! the other ([`Backend::Strace`], [`strace`]) runs the system's strace and
//! decodes its output into the same events.
//!
//! Layers, without cycles: this facade uses the backends; the backends use
//! only the pieces the facade shares (`spec`: what to run, `shared`: the
//! state a running trace shares with the harness, `error`, `decode`: the
//! syscall decoder), never the facade or each other; and `unsafe` code
//! lives in `crate::sys` alone. `harness/tests/layers.rs` checks the first
//! rule (see docs/harness/architecture.md).

pub(crate) mod decode;
mod error;
mod ptrace;
mod shared;
mod spec;
pub mod strace;

use std::process::{ChildStderr, ChildStdout};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::fence::{self, Cgroup};
use crate::limits::LimitHit;
use crate::trace::{Event, Tid};
pub use decode::BUFFER_HEAD;
pub use error::TraceError;
use shared::Shared;
pub use spec::{Backend, Placement, Spec};

/// A running trace. Dropping it kills everything it traced.
pub struct Tracer {
    /// Events as they happen, in the tracer's order.
    pub events: Receiver<Event>,
    /// The traced program's stdout and stderr, when captured.
    pub stdout: Option<ChildStdout>,
    pub stderr: Option<ChildStderr>,
    /// The pid of the program the harness started.
    pub root: Tid,
    /// The instant event times ([`Event::at`]) count from.
    pub start: Instant,
    /// The program's network namespace, when it runs sandboxed in one of
    /// its own: where clients must connect from.
    pub net: Option<std::os::fd::OwnedFd>,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<Result<(), TraceError>>>,
    own_group: bool,
    /// The run's cgroup, when it has one.
    fence: Option<Arc<Cgroup>>,
    /// Processes that outlived the trace, found and killed by the fences.
    escaped: Vec<Tid>,
    /// Of those, the ones still running after that.
    left_running: Vec<Tid>,
}

impl Tracer {
    /// Starts `spec` under the tracer. Fails if the program cannot be run.
    pub fn spawn(spec: &Spec) -> Result<Tracer, TraceError> {
        let (events_tx, events) = mpsc::channel();
        let (started_tx, started) = mpsc::sync_channel(1);
        let task_limit = spec.resources.as_ref().map_or(usize::MAX, |r| r.tasks);
        let shared = Arc::new(Shared::new(task_limit));
        let fence = match &spec.resources {
            Some(r) => {
                fence::adopt_orphans();
                Cgroup::create(r.tasks).map(Arc::new)
            }
            None => None,
        };
        if spec.sandbox {
            crate::sandbox::harden_harness();
        }
        let sandboxed = spec.sandbox;
        let spec = spec.clone();
        let own_group = spec.own_process_group;
        let thread_shared = Arc::clone(&shared);
        let thread_fence = fence.clone();
        let thread = std::thread::Builder::new()
            .name("iolab-tracer".into())
            .spawn(move || {
                let fence = thread_fence.as_deref();
                match spec.backend {
                    Backend::Native => {
                        ptrace::trace_thread(spec, fence, thread_shared, events_tx, started_tx)
                    }
                    Backend::Strace => {
                        strace::trace_thread(spec, fence, thread_shared, events_tx, started_tx)
                    }
                }
            })
            .map_err(|e| TraceError::Thread(e.to_string()))?;
        match started.recv() {
            Ok(Ok((root, stdout, stderr, start))) => Ok(Tracer {
                start,
                net: sandboxed
                    .then(|| std::fs::File::open(format!("/proc/{root}/ns/net")).ok())
                    .flatten()
                    .map(std::os::fd::OwnedFd::from),
                events,
                stdout,
                stderr,
                root,
                shared,
                thread: Some(thread),
                own_group,
                fence,
                escaped: Vec::new(),
                left_running: Vec::new(),
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => match thread.join() {
                Ok(Err(e)) => Err(e),
                _ => Err(TraceError::Thread(
                    "tracer thread ended before starting".into(),
                )),
            },
        }
    }

    /// Sends `signal` to every traced process (and, natively, the program's
    /// own process group, which catches children not yet reported; under
    /// strace the reader kills strace's group if strace does not end).
    pub fn signal_all(&self, signal: Signal) {
        if self.own_group {
            let _ = kill(Pid::from_raw(-self.root), signal);
        }
        self.shared.signal_alive(signal);
    }

    /// Kills everything traced, now and anything it spawns from here on.
    /// (The run's cgroup is emptied once the tracer is done, not here: it
    /// holds strace too, which must live to report its tracees' ends.)
    pub fn kill_all(&self) {
        self.shared.set_killing();
        self.signal_all(Signal::SIGKILL);
    }

    /// The limit the tracer enforced by killing everything, if it had to.
    pub fn limit_hit(&self) -> Option<LimitHit> {
        self.shared.hit()
    }

    /// Processes that outlived the trace (escaped the tracer, or left behind
    /// by strace) and were killed by the fences afterwards: known once the
    /// tracer thread has been joined.
    pub fn escaped(&self) -> &[Tid] {
        &self.escaped
    }

    /// How many times the native tracer stopped a task on a syscall (entry
    /// and exit count one each; repeats folded by [`Spec::collapse`] too).
    /// Zero under strace, which keeps its count to itself.
    pub fn stops(&self) -> u64 {
        self.shared.stops()
    }

    /// Thread groups still alive.
    pub fn alive(&self) -> Vec<Tid> {
        self.shared.alive()
    }

    /// Whether the events of everything the tracees did so far have been
    /// sent (always, natively; under strace, once its output is all read).
    pub fn caught_up(&self) -> bool {
        self.shared.caught_up()
    }

    /// Every process (thread group) that was traced.
    pub fn seen_processes(&self) -> Vec<Tid> {
        self.shared.seen()
    }

    /// Kills everything and waits for the tracer thread to finish.
    pub fn finish(mut self) -> Result<(), TraceError> {
        self.kill_all();
        self.join_thread()
    }

    /// Waits for the tracer thread, which ends when every tracee is gone.
    pub fn wait(mut self) -> Result<(), TraceError> {
        self.join_thread()
    }

    /// Waits for the tracer thread (it ends once everything traced is
    /// gone) and returns how it ended.
    pub fn join(&mut self) -> Result<(), TraceError> {
        self.join_thread()
    }

    fn join_thread(&mut self) -> Result<(), TraceError> {
        let Some(thread) = self.thread.take() else {
            return Ok(());
        };
        let result = thread
            .join()
            .map_err(|_| TraceError::Thread("tracer thread panicked".into()));
        self.sweep();
        result?
    }

    /// Once no tracer follows them any more: kills what is left in the
    /// run's cgroup, and every traced process whose end the trace never
    /// showed (strace's tracees outlive a killed strace), reaping those
    /// re-parented to the harness; notes what escaped and what still runs.
    fn sweep(&mut self) {
        let mut escaped = Vec::new();
        if let Some(fence) = &self.fence {
            escaped = fence.members();
            if !escaped.is_empty() {
                fence.empty(Duration::from_secs(2));
            }
        }
        // Killed by pid only while still in the run's process group (or
        // adopted here): a pid strace never reported ending may have been
        // reaped and reused since.
        let group = self.shared.group();
        for pid in self.shared.alive() {
            if group > 0 && fence::running_in_group(pid, group) {
                escaped.push(pid);
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
            fence::kill_adopted(pid, Duration::from_millis(200));
        }
        self.shared.clear();
        fence::reap_adopted();
        escaped.sort_unstable();
        escaped.dedup();
        self.left_running = fence::still_running(&escaped, Duration::from_millis(500));
        self.escaped = escaped;
    }

    /// Processes still running after the trace ended and everything was
    /// killed: none, unless something defeated every fence.
    pub fn left_running(&self) -> &[Tid] {
        &self.left_running
    }
}

impl Drop for Tracer {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.kill_all();
            let _ = self.join_thread();
        }
    }
}
