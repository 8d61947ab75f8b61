//! Grading: a lab's rubric of checks run over its scenarios, and the report.
//!
//! A check is a function from the scenario runs to a [`Verdict`]; a failed
//! verdict carries the message a student needs and the transcript lines that
//! prove it.

use std::cell::RefCell;
use std::time::{Duration, Instant};

use crate::filter::SyscallSet;
use crate::findings::{self, Finding};
use crate::normalize::normalize;
use crate::scenario::{self, Accounting, Limits, Scenario, ScenarioError};
use crate::tracer::{Spec, TraceError};

pub use crate::analysis::Run;

/// Every scenario run of a lab, by scenario name.
///
/// It notes which scenarios a check reads, so that a failed check's report
/// can point at the saved traces of exactly those scenarios.
pub struct Runs {
    runs: Vec<Run>,
    read: RefCell<Vec<&'static str>>,
}

impl Runs {
    pub fn new(runs: Vec<Run>) -> Runs {
        Runs {
            runs,
            read: RefCell::new(Vec::new()),
        }
    }

    /// The run of scenario `name`. Rubrics only ask for their own scenarios.
    pub fn get(&self, name: &str) -> &Run {
        let run = self
            .runs
            .iter()
            .find(|r| r.outcome.scenario == name)
            .unwrap_or_else(|| {
                panic!("rubric asked for scenario {name:?}, which the lab does not run")
            });
        self.note(run.outcome.scenario);
        run
    }

    /// Every run, in the lab's order (a check reading them all).
    pub fn iter(&self) -> impl Iterator<Item = &Run> {
        for run in &self.runs {
            self.note(run.outcome.scenario);
        }
        self.runs.iter()
    }

    /// Every run, without noting it as read (for reports and artifacts).
    pub fn all(&self) -> &[Run] {
        &self.runs
    }

    fn note(&self, name: &'static str) {
        let mut read = self.read.borrow_mut();
        if !read.contains(&name) {
            read.push(name);
        }
    }

    /// The scenarios read since the last call, in the lab's order.
    fn take_read(&self) -> Vec<&'static str> {
        let read = std::mem::take(&mut *self.read.borrow_mut());
        self.runs
            .iter()
            .map(|r| r.outcome.scenario)
            .filter(|s| read.contains(s))
            .collect()
    }
}

/// Whether a check passed, why, and the trace lines behind it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub passed: bool,
    pub message: String,
    pub evidence: Vec<String>,
    /// What the check saw and let pass, for the report's `noticed:` (a
    /// runtime's helper thread, say).
    pub noticed: Vec<Finding>,
}

impl Verdict {
    pub fn pass(message: impl Into<String>) -> Verdict {
        Verdict {
            passed: true,
            message: message.into(),
            evidence: Vec::new(),
            noticed: Vec::new(),
        }
    }

    pub fn fail(message: impl Into<String>, evidence: Vec<String>) -> Verdict {
        Verdict {
            passed: false,
            message: message.into(),
            evidence,
            noticed: Vec::new(),
        }
    }

    /// The verdict, with what it noticed.
    pub fn noticing(mut self, noticed: Vec<Finding>) -> Verdict {
        self.noticed = noticed;
        self
    }
}

/// What a check judges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The I/O model, from the trace alone: which calls the server made,
    /// where it waited, who served a connection. A server speaking another
    /// protocol is still judged on these.
    Model,
    /// What the clients got back: the lab's upper-case echo and commands.
    Protocol,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Model => "model",
            Kind::Protocol => "protocol",
        }
    }
}

/// Who sees a check's result on Gradescope (its `visibility`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Visibility {
    /// Shown as soon as the submission is graded.
    Visible,
    /// Hidden from students until the due date (a hidden test).
    AfterDueDate,
}

impl Visibility {
    /// Gradescope's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Visible => "visible",
            Visibility::AfterDueDate => "after_due_date",
        }
    }
}

/// One item of a rubric.
pub struct Check {
    /// A short stable id, used by tests and JSON reports.
    pub id: &'static str,
    pub title: &'static str,
    pub kind: Kind,
    pub visibility: Visibility,
    pub points: u32,
    /// What to change when the check fails.
    pub hint: &'static str,
    pub judge: fn(&Runs) -> Verdict,
}

/// A lab: its scenarios, its rubric, and its reference solution's binary.
pub struct Lab {
    pub id: &'static str,
    pub title: &'static str,
    pub binary: &'static str,
    pub scenarios: Vec<Scenario>,
    /// The scenario whose transcript is snapshotted.
    pub standard: &'static str,
    pub checks: Vec<Check>,
    /// Figures measured from the runs that the report states without
    /// judging them (say, how fast an idle server spins).
    pub facts: Option<fn(&Runs) -> Vec<String>>,
    /// The lab's time bounds and resource limits (the defaults, unless a
    /// lab needs more; the command line can override each).
    pub limits: Limits,
    /// The syscalls its scenarios stop on (see `labs::SERVER_SYSCALLS`).
    pub syscalls: SyscallSet,
}

impl Lab {
    /// `spec` as the lab runs it: stopping only on the lab's syscalls.
    pub fn traced(&self, spec: &Spec) -> Spec {
        spec.clone().with_filter(self.syscalls.clone())
    }
}

/// A check's result in a report.
pub struct CheckResult {
    pub id: &'static str,
    pub title: &'static str,
    pub kind: Kind,
    pub visibility: Visibility,
    pub points: u32,
    pub hint: &'static str,
    pub verdict: Verdict,
    /// The scenarios the check read (whose traces back a failure).
    pub scenarios: Vec<&'static str>,
}

impl CheckResult {
    /// Check `c`'s result: its verdict, from the scenarios it read.
    fn new(c: &Check, verdict: Verdict, scenarios: Vec<&'static str>) -> CheckResult {
        CheckResult {
            id: c.id,
            title: c.title,
            kind: c.kind,
            visibility: c.visibility,
            points: c.points,
            hint: c.hint,
            verdict,
            scenarios,
        }
    }

    pub fn score(&self) -> u32 {
        if self.verdict.passed { self.points } else { 0 }
    }
}

/// A graded solution.
pub struct Report {
    pub lab: &'static str,
    pub title: &'static str,
    pub solution: String,
    pub results: Vec<CheckResult>,
    /// Set when the solution could not be run through the scenarios at all.
    pub failure: Option<String>,
    pub runs: Option<Runs>,
    /// The lab's measured figures, when the scenarios ran.
    pub facts: Vec<String>,
    /// What the runs showed beyond the checks: limits hit, rules broken.
    pub findings: Vec<Finding>,
    /// Every run's processes, by the harness's own accounting.
    pub accounting: Accounting,
    /// Each snapshotted scenario's transcript against the instructor's
    /// snapshot built into iolab (never the files of the tree graded).
    pub reference: Vec<crate::reference::Comparison>,
    /// Where each scenario's traces were saved, once they were.
    pub artifacts: Option<std::path::PathBuf>,
    pub elapsed: Duration,
    /// Whether and how the runs were sandboxed.
    pub sandbox: crate::sandbox::Status,
}

/// The harness itself could not grade (as opposed to a solution failing).
#[derive(Debug, thiserror::Error)]
pub enum GradeError {
    #[error(transparent)]
    Trace(#[from] TraceError),
}

impl Report {
    /// The launcher that started the server, in the first run that had one.
    pub fn launched_by(&self) -> Option<&str> {
        self.runs
            .as_ref()?
            .all()
            .iter()
            .find_map(|r| r.outcome.launched_by.as_deref())
    }

    pub fn score(&self) -> u32 {
        self.results.iter().map(CheckResult::score).sum()
    }

    pub fn max(&self) -> u32 {
        self.results.iter().map(|r| r.points).sum()
    }

    /// The result of check `id`.
    pub fn result(&self, id: &str) -> Option<&CheckResult> {
        self.results.iter().find(|r| r.id == id)
    }

    /// Ids of the checks that failed.
    pub fn failed(&self) -> Vec<&'static str> {
        self.results
            .iter()
            .filter(|r| !r.verdict.passed)
            .map(|r| r.id)
            .collect()
    }

    /// The points of checks of one kind: (scored, possible).
    pub fn score_of(&self, kind: Kind) -> (u32, u32) {
        self.results
            .iter()
            .filter(|r| r.kind == kind)
            .fold((0, 0), |(s, m), r| (s + r.score(), m + r.points))
    }

    /// The report of a lab the harness could not run at all: every check
    /// failed, with the reason.
    pub fn not_run(lab: &Lab, solution: &str, error: &str) -> Report {
        Report {
            lab: lab.id,
            title: lab.title,
            solution: solution.to_string(),
            results: lab
                .checks
                .iter()
                .map(|c| {
                    let verdict =
                        Verdict::fail("not checked: the harness could not run", Vec::new());
                    CheckResult::new(c, verdict, Vec::new())
                })
                .collect(),
            failure: Some(format!("the harness could not run: {error}")),
            sandbox: crate::sandbox::Status::Off("nothing was run".into()),
            runs: None,
            facts: Vec::new(),
            findings: Vec::new(),
            accounting: Accounting::default(),
            reference: Vec::new(),
            artifacts: None,
            elapsed: Duration::ZERO,
        }
    }

    /// Whether the solution got every point.
    pub fn full_marks(&self) -> bool {
        self.failure.is_none() && self.score() == self.max()
    }
}

/// Runs every scenario of `lab` against `spec` and judges the rubric.
///
/// A solution that cannot be brought to listen fails every check with the
/// reason; only a harness problem (the program cannot be started at all)
/// is an error.
pub fn grade(
    lab: &Lab,
    spec: &Spec,
    solution: &str,
    limits: &Limits,
) -> Result<Report, GradeError> {
    let started = Instant::now();
    let mut runs = Vec::new();
    let mut failure = None;
    // The placeholder's message, when a starter's todo!() stopped it.
    let mut unimplemented: Option<String> = None;
    let mut findings: Vec<Finding> = Vec::new();
    let mut accounting = Accounting::default();
    let mut account = |a: &Accounting| {
        accounting.processes.extend(&a.processes);
        accounting.escaped.extend(&a.escaped);
        accounting.left_running.extend(&a.left_running);
    };
    let spec = &lab.traced(spec);
    for s in &lab.scenarios {
        match scenario::run(spec, s, limits) {
            Ok(outcome) => {
                account(&outcome.accounting);
                for f in &outcome.findings {
                    findings::add(&mut findings, f.clone());
                }
                let transcript = normalize(&outcome.trace);
                runs.push(Run {
                    outcome,
                    transcript,
                });
            }
            Err(ScenarioError::Trace(e)) => return Err(GradeError::Trace(e)),
            Err(e) => {
                if let Some(a) = e.accounting() {
                    account(a);
                }
                unimplemented = e
                    .stderr()
                    .and_then(|err| err.lines().find(|l| not_implemented(l)))
                    .map(|l| l.trim().to_string());
                failure = Some(e.to_string());
                break;
            }
        }
    }
    let runs = if failure.is_none() {
        Some(Runs::new(runs))
    } else {
        None
    };
    // A process the tracer does not follow may do the serving while the
    // traced ones only look right: nothing the trace shows is then proof.
    let untraced = findings.iter().any(|f| matches!(f, Finding::Untraced));
    let results = lab
        .checks
        .iter()
        .map(|c| {
            let verdict = match (&runs, &failure) {
                _ if untraced => Verdict::fail(
                    "not vouched for: it made a process with clone3(CLONE_UNTRACED), whose calls the trace cannot see",
                    Vec::new(),
                ),
                (Some(runs), _) => (c.judge)(runs),
                (None, Some(_)) if unimplemented.is_some() => {
                    Verdict::fail("not implemented yet", Vec::new())
                }
                (None, Some(_)) => Verdict::fail(
                    "not checked: the scenarios could not run (see the error above)",
                    Vec::new(),
                ),
                (None, None) => Verdict::fail("not checked", Vec::new()),
            };
            let read = runs.as_ref().map(Runs::take_read).unwrap_or_default();
            for f in &verdict.noticed {
                findings::add(&mut findings, f.clone());
            }
            CheckResult::new(c, verdict, read)
        })
        .collect();
    let failure = match (failure, unimplemented) {
        (Some(_), Some(todo)) => Some(format!(
            "not implemented yet: the solution stopped at its placeholder before it listened ({todo})"
        )),
        (failure, _) => failure,
    };
    let reference = match &runs {
        Some(runs) => crate::reference::compare(
            lab.id,
            runs.all()
                .iter()
                .map(|r| (r.outcome.scenario, r.transcript.render())),
        ),
        None => Vec::new(),
    };
    let facts = match (&runs, lab.facts) {
        (Some(runs), Some(facts)) => facts(runs),
        _ => Vec::new(),
    };
    Ok(Report {
        facts,
        lab: lab.id,
        title: lab.title,
        solution: solution.to_string(),
        results,
        failure,
        runs,
        findings,
        accounting,
        reference,
        artifacts: None,
        elapsed: started.elapsed(),
        sandbox: crate::sandbox::status(limits.sandbox),
    })
}

/// Whether a run's error shows a starter tree's placeholder: Rust's
/// `todo!()` ("not yet implemented") or Python's `NotImplementedError`.
fn not_implemented(stderr: &str) -> bool {
    stderr.contains("not yet implemented") || stderr.contains("NotImplementedError")
}
