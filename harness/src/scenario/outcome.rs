//! What a scenario run is bounded by (its limits) and what it gives: the
//! outcome, or the error that kept it from running.

use std::time::{Duration, Instant};

use crate::limits::{self, Resources, seconds};
use crate::trace::{Termination, Tid, Trace};
use crate::tracer::TraceError;

use super::steps::{Observed, Settled, Step};
use crate::findings::Finding;

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
    /// How long a whole grading may take, every scenario and the
    /// harness's own work, before its watchdog kills it
    /// ([`crate::watchdog`]); `None`: as [`Limits::whole`] counts it.
    pub grade: Option<Duration>,
    /// What the server may use (CPU, memory, tasks, files).
    pub resources: Resources,
    /// Whether the server runs sandboxed ([`crate::sandbox`]).
    pub sandbox: crate::sandbox::Mode,
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
            grade: None,
            resources: Resources::default(),
            sandbox: crate::sandbox::Mode::Auto,
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
            Limit::Grade(d) => self.grade = Some(d),
            Limit::Cpu(d) => self.resources.cpu = d,
            Limit::Memory(n) => self.resources.address_space = n,
            Limit::Tasks(n) => self.resources.tasks = n,
            Limit::FileSize(n) => self.resources.file_size = n,
            Limit::OpenFiles(n) => self.resources.open_files = n,
        }
    }

    /// The bound on a grading of `scenarios` scenarios: `--limit grade=`,
    /// or else what the scenarios may take by their own limits (each its
    /// time, the grace after SIGTERM and the fences' waits) and a margin
    /// for the harness's own start and report. Only a harness that hangs
    /// or is stopped ever reaches it.
    pub fn whole(&self, scenarios: usize) -> Duration {
        /// The fences' waits after a scenario (the cgroup's, the sweeps').
        const TEARDOWN: Duration = Duration::from_secs(5);
        /// The harness's start (the sandbox's probe, strace's copy) and end.
        const MARGIN: Duration = Duration::from_secs(30);
        self.grade.unwrap_or_else(|| {
            (self.time + self.term_grace + TEARDOWN)
                .saturating_mul(scenarios.try_into().unwrap_or(u32::MAX))
                .saturating_add(MARGIN)
        })
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
        findings: Vec<Finding>,
        accounting: Box<Accounting>,
    },
    #[error("the server did not listen on a socket within {}{}{}", seconds(*.timeout), stderr_tail(.stderr), bullets(.findings))]
    NeverListened {
        timeout: Duration,
        stderr: String,
        findings: Vec<Finding>,
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
pub(super) fn far(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(365 * 24 * 3600))
}

/// Findings as indented bullet lines.
fn bullets(findings: &[Finding]) -> String {
    findings.iter().map(|f| format!("\n  - {f}")).collect()
}

/// The most of a program's stderr a report echoes: students see reports at
/// once (on Gradescope too), so a hostile program must not carry a file
/// out through them.
const STDERR_SHOWN: usize = 240;

/// The last three lines of `stderr`, and of those at most the last
/// [`STDERR_SHOWN`] bytes (cut at a character boundary).
fn stderr_tail(stderr: &str) -> String {
    let tail: Vec<&str> = stderr.lines().rev().take(3).collect();
    if tail.is_empty() {
        return String::new();
    }
    let lines: Vec<&str> = tail.into_iter().rev().collect();
    let text = lines.join(" / ");
    let text = if text.len() > STDERR_SHOWN {
        let mut cut = text.len() - STDERR_SHOWN;
        while !text.is_char_boundary(cut) {
            cut += 1;
        }
        format!("...{}", &text[cut..])
    } else {
        text
    };
    format!("; its stderr ends with: {text}")
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
    pub findings: Vec<Finding>,
    pub accounting: Accounting,
    /// The launcher that started the server (a shim, a shell, `cargo
    /// run`), left out of the trace, if there was one.
    pub launched_by: Option<String>,
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
                | Step::Stall(l, ..)
                | Step::Unstall(l, ..)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grading_is_bounded_by_its_scenarios_unless_told() {
        let mut limits = Limits {
            time: Duration::from_secs(10),
            term_grace: Duration::from_secs(1),
            ..Limits::default()
        };
        // Three scenarios of 10 s, 1 s of grace and 5 s of teardown each,
        // and 30 s for the harness itself.
        assert_eq!(limits.whole(3), Duration::from_secs(3 * 16 + 30));
        assert!(limits.whole(4) > limits.whole(3));
        limits.set(limits::Limit::Grade(Duration::from_secs(7)));
        assert_eq!(limits.whole(3), Duration::from_secs(7));
    }

    #[test]
    fn stderr_tail_keeps_the_last_lines() {
        assert_eq!(stderr_tail(""), "");
        assert_eq!(
            stderr_tail("a\nb\nc\nd\n"),
            "; its stderr ends with: b / c / d"
        );
    }

    #[test]
    fn stderr_tail_is_capped() {
        let long = format!("{}\n", "é".repeat(10_000));
        let tail = stderr_tail(&long);
        assert!(tail.len() <= STDERR_SHOWN + 40, "{} bytes", tail.len());
        assert!(tail.ends_with("éé"), "{tail}");
    }
}
