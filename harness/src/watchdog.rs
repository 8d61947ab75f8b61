//! The watchdog: a process outside the harness that bounds a whole grading.
//!
//! The harness bounds everything the program under test does, but nothing
//! inside the harness can bound the harness itself: one that a bug hangs,
//! or that something stops (`SIGSTOP`, from outside the sandbox), would
//! hold a class's autograder until Gradescope's own timeout, and could be
//! left to run on. So `iolab grade` is two processes: the watchdog, which
//! starts the harness as its child ([`supervise`]) and waits for it, and
//! the harness. Past the bound the watchdog kills the harness with
//! `SIGKILL` (through a pidfd: never a process that reused its pid), which
//! takes its runs with it (`PTRACE_O_EXITKILL` kills its tracees, a
//! sandbox's init sees its keepalive pipe close), then empties and removes the cgroups the
//! harness made, and says so.
//!
//! Signals sent to the watchdog are forwarded (`SIGTERM`, `SIGHUP`,
//! `SIGQUIT`, and a `SIGINT` another process sent: a terminal's Ctrl-C
//! reaches the harness itself, in the same process group), and however the
//! harness ended, the watchdog ends with its status. The watchdog is a
//! child subreaper: what a killed harness leaves (strace, whose tracees then
//! die with it; a program run unsandboxed) is re-parented to it, and killed.
//! The harness dies with the watchdog (`PR_SET_PDEATHSIG`). Where the
//! watchdog is pid 1 of a pid namespace (a container's entrypoint), its end
//! ends everything left in the namespace.

use std::os::fd::{AsFd, OwnedFd};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill, pthread_sigmask};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::unistd::Pid;

use crate::fence::CgroupsOf;
use crate::sys::pidfd;

/// How a supervised harness ended.
#[derive(Debug)]
pub enum Ending {
    /// By itself (or by a signal), with this status.
    Exited(ExitStatus),
    /// Still running at the bound: killed.
    Overran,
}

/// Why the watchdog could not watch.
#[derive(Debug, thiserror::Error)]
pub enum WatchdogError {
    #[error("cannot start the harness: {0}")]
    Spawn(std::io::Error),
    #[error("cannot take the signals it forwards: {0}")]
    Signals(Errno),
    #[error("cannot wait for the harness: {0}")]
    Wait(std::io::Error),
}

/// The signals the watchdog takes instead of dying of them.
const FORWARDED: [Signal; 4] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
];

/// `si_code` of a signal the kernel sent (a terminal's Ctrl-C).
const SI_KERNEL: i32 = 0x80;

/// How long the watchdog waits for a killed harness to be gone.
const KILL_WAIT: Duration = Duration::from_secs(10);

/// Starts `command` (the harness) and waits for it, at most `bound`.
///
/// The signals it forwards stay blocked when it returns (one that came
/// after the last forward must not end the caller before it reports): the
/// caller is about to exit.
pub fn supervise(command: &mut Command, bound: Duration) -> Result<Ending, WatchdogError> {
    let mut mask = SigSet::empty();
    for s in FORWARDED {
        mask.add(s);
    }
    let mut old = SigSet::empty();
    pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&mask), Some(&mut old))
        .map_err(WatchdogError::Signals)?;
    // Whatever the harness leaves when it is killed (strace, a program run
    // unsandboxed) is re-parented here, and killed.
    let _ = nix::sys::prctl::set_child_subreaper(true);
    // The harness takes these signals as ever, and dies with the watchdog.
    crate::sys::process::exec_as_watched(command, old);
    let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .map_err(WatchdogError::Signals)?;
    let mut harness = Harness::start(command)?;
    let ending = watch(&mut harness, &signals, bound);
    if ending.is_err() {
        harness.kill();
    }
    drop(harness);
    crate::fence::kill_all_children(KILL_WAIT);
    ending
}

fn watch(
    harness: &mut Harness,
    signals: &SignalFd,
    bound: Duration,
) -> Result<Ending, WatchdogError> {
    let deadline = Instant::now().checked_add(bound);
    loop {
        if let Some(status) = harness.ended()? {
            if status.code().is_none() {
                // Killed by a signal: its cgroups are left to us.
                harness.cgroups.remove();
            }
            return Ok(Ending::Exited(status));
        }
        let left = match deadline {
            Some(d) => d.saturating_duration_since(Instant::now()),
            None => Duration::MAX,
        };
        if left.is_zero() {
            harness.kill();
            return Ok(Ending::Overran);
        }
        // Without a pidfd (before Linux 5.3), look again every 50 ms.
        let nap = if harness.pidfd.is_some() {
            Duration::from_secs(60)
        } else {
            Duration::from_millis(50)
        };
        harness.wait_or_signal(signals, left.min(nap))?;
        while let Ok(Some(info)) = signals.read_signal() {
            let Ok(signal) = Signal::try_from(info.ssi_signo as i32) else {
                continue;
            };
            if signal == Signal::SIGINT && info.ssi_code == SI_KERNEL {
                continue;
            }
            harness.signal(signal);
        }
    }
}

/// The harness, started and watched.
struct Harness {
    child: Child,
    pidfd: Option<OwnedFd>,
    cgroups: CgroupsOf,
}

impl Harness {
    fn start(command: &mut Command) -> Result<Harness, WatchdogError> {
        let child = command.spawn().map_err(WatchdogError::Spawn)?;
        let pid = child.id() as crate::trace::Tid;
        Ok(Harness {
            pidfd: pidfd::open(pid).ok(),
            cgroups: CgroupsOf::process(pid),
            child,
        })
    }

    fn ended(&mut self) -> Result<Option<ExitStatus>, WatchdogError> {
        self.child.try_wait().map_err(WatchdogError::Wait)
    }

    /// Sleeps until the harness ends, a signal comes, or `wait` passes.
    fn wait_or_signal(&self, signals: &SignalFd, wait: Duration) -> Result<(), WatchdogError> {
        let timeout =
            PollTimeout::try_from(wait.as_millis().min(60_000) as i32).unwrap_or(PollTimeout::MAX);
        let mut fds = vec![PollFd::new(signals.as_fd(), PollFlags::POLLIN)];
        if let Some(fd) = &self.pidfd {
            fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
        }
        match poll(&mut fds, timeout) {
            Ok(_) | Err(Errno::EINTR) => Ok(()),
            Err(e) => Err(WatchdogError::Wait(e.into())),
        }
    }

    fn signal(&self, signal: Signal) {
        match &self.pidfd {
            Some(fd) => {
                let _ = pidfd::send_signal(fd, signal);
            }
            // Still our unreaped child: its pid cannot have been reused.
            None => {
                let _ = kill(Pid::from_raw(self.child.id() as i32), signal);
            }
        }
    }

    /// Kills the harness and what it left, and reaps it (waiting at most
    /// [`KILL_WAIT`]).
    fn kill(&mut self) {
        self.signal(Signal::SIGKILL);
        let deadline = Instant::now() + KILL_WAIT;
        while matches!(self.ended(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        self.cgroups.remove();
    }
}
