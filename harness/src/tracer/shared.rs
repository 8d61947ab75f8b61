//! What the harness shares with a running tracer thread, whichever the
//! backend: the processes alive and seen, the kill switch, the task limit
//! and whether it was hit, and what the thread reports once the program
//! runs ([`Started`]). The facade reads it; both backends keep it current.

use std::collections::HashSet;
use std::process::{ChildStderr, ChildStdout};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::time::Instant;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::error::TraceError;
use crate::fence;
use crate::limits::LimitHit;
use crate::trace::Tid;

/// What the harness shares with the tracer thread.
#[derive(Debug)]
pub(crate) struct Shared {
    /// Set once everything traced must die.
    kill: AtomicBool,
    /// Thread groups (pids) still alive, for killing them from outside.
    alive: Mutex<HashSet<Tid>>,
    /// Every pid ever traced, for the caller's accounting.
    seen: Mutex<Vec<Tid>>,
    /// Output a tracer thread has read and not sent yet (strace backend).
    unsent: AtomicBool,
    /// The strace backend's output pipe, to see whether unread output waits.
    output: Mutex<Option<std::fs::File>>,
    /// How many threads and processes may be alive at once.
    task_limit: usize,
    /// The limit the tracer enforced by killing everything, if it had to.
    hit: Mutex<Option<LimitHit>>,
    /// The process group of the program the harness started (0: unknown).
    group: AtomicI32,
    /// Syscall stops so far (native backend): what a filter saves.
    stops: AtomicU64,
}

impl Shared {
    pub(crate) fn new(task_limit: usize) -> Shared {
        Shared {
            kill: AtomicBool::new(false),
            alive: Mutex::default(),
            seen: Mutex::default(),
            unsent: AtomicBool::new(false),
            output: Mutex::default(),
            task_limit,
            hit: Mutex::default(),
            group: AtomicI32::new(0),
            stops: AtomicU64::new(0),
        }
    }

    /// The program the harness started is `root`: its process group is
    /// the run's (its own natively, strace's under strace).
    pub(crate) fn set_root(&self, root: Tid) {
        if let Some(group) = fence::group_of(root) {
            self.group.store(group, Ordering::SeqCst);
        }
    }

    /// `tasks` threads and processes are alive: past the limit, everything
    /// must die. Returns whether the limit was hit just now (the first time).
    pub(crate) fn count_tasks(&self, tasks: usize) -> bool {
        if tasks <= self.task_limit {
            return false;
        }
        let mut hit = self.hit.lock().unwrap_or_else(|e| e.into_inner());
        if hit.is_some() {
            return false;
        }
        *hit = Some(LimitHit::Tasks {
            limit: self.task_limit,
        });
        self.set_killing();
        true
    }

    /// Whether everything traced must die.
    pub(crate) fn killing(&self) -> bool {
        self.kill.load(Ordering::SeqCst)
    }

    pub(crate) fn set_killing(&self) {
        self.kill.store(true, Ordering::SeqCst);
    }

    /// A new process (thread group) is traced.
    pub(crate) fn add_process(&self, pid: Tid) {
        self.alive
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(pid);
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(pid);
    }

    /// A traced process ended.
    pub(crate) fn remove_process(&self, pid: Tid) {
        self.alive
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&pid);
    }

    /// Nothing traced is alive any more.
    pub(crate) fn clear(&self) {
        self.alive.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// The strace backend's reader: `output` to watch, and whether it holds
    /// output not yet sent as events.
    pub(crate) fn set_output(&self, output: std::fs::File) {
        *self.output.lock().unwrap_or_else(|e| e.into_inner()) = Some(output);
    }

    pub(crate) fn set_unsent(&self, unsent: bool) {
        self.unsent.store(unsent, Ordering::SeqCst);
    }

    /// Whether every event of what the tracees did so far has been sent.
    pub(crate) fn caught_up(&self) -> bool {
        if self.unsent.load(Ordering::SeqCst) {
            return false;
        }
        let output = self.output.lock().unwrap_or_else(|e| e.into_inner());
        let Some(file) = output.as_ref() else {
            // The native tracer sends each event before resuming the task.
            return true;
        };
        crate::sys::pipe::unread(file).is_ok_and(|waiting| waiting == 0)
            && !self.unsent.load(Ordering::SeqCst)
    }

    /// Sends `signal` to every traced process still alive.
    pub(crate) fn signal_alive(&self, signal: Signal) {
        for pid in self.alive() {
            let _ = kill(Pid::from_raw(pid), signal);
        }
    }

    pub(crate) fn alive(&self) -> Vec<Tid> {
        let alive = self.alive.lock().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<Tid> = alive.iter().copied().collect();
        v.sort_unstable();
        v
    }

    /// Every process (thread group) ever traced.
    pub(crate) fn seen(&self) -> Vec<Tid> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The limit the tracer enforced by killing everything, if it had to.
    pub(crate) fn hit(&self) -> Option<LimitHit> {
        *self.hit.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The run's process group (0: unknown).
    pub(crate) fn group(&self) -> i32 {
        self.group.load(Ordering::SeqCst)
    }

    /// One more syscall stop (native backend).
    pub(crate) fn add_stop(&self) {
        self.stops.fetch_add(1, Ordering::Relaxed);
    }

    /// Syscall stops so far.
    pub(crate) fn stops(&self) -> u64 {
        self.stops.load(Ordering::Relaxed)
    }
}

/// What the tracer thread reports once the program runs: its pid, its
/// output pipes, and the instant event times count from.
pub(crate) type Started =
    Result<(Tid, Option<ChildStdout>, Option<ChildStderr>, Instant), TraceError>;
