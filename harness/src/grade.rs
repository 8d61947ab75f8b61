//! Grading: a lab's rubric of checks run over its scenarios, and the report.
//!
//! A check is a function from the scenario runs to a [`Verdict`]; a failed
//! verdict carries the message a student needs and the transcript lines that
//! prove it.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use crate::filter::SyscallSet;
use crate::normalize::{Transcript, normalize};
use crate::scenario::{self, Accounting, Limits, Outcome, Scenario, ScenarioError};
use crate::tracer::{Spec, TraceError};

/// One scenario's run, with its transcript.
pub struct Run {
    pub outcome: Outcome,
    pub transcript: Transcript,
}

/// Every scenario run of a lab, by scenario name.
pub struct Runs(pub Vec<Run>);

impl Runs {
    /// The run of scenario `name`. Rubrics only ask for their own scenarios.
    pub fn get(&self, name: &str) -> &Run {
        self.0
            .iter()
            .find(|r| r.outcome.scenario == name)
            .unwrap_or_else(|| {
                panic!("rubric asked for scenario {name:?}, which the lab does not run")
            })
    }
}

/// Whether a check passed, why, and the trace lines behind it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub passed: bool,
    pub message: String,
    pub evidence: Vec<String>,
}

impl Verdict {
    pub fn pass(message: impl Into<String>) -> Verdict {
        Verdict {
            passed: true,
            message: message.into(),
            evidence: Vec::new(),
        }
    }

    pub fn fail(message: impl Into<String>, evidence: Vec<String>) -> Verdict {
        Verdict {
            passed: false,
            message: message.into(),
            evidence,
        }
    }
}

/// One item of a rubric.
pub struct Check {
    /// A short stable id, used by tests and JSON reports.
    pub id: &'static str,
    pub title: &'static str,
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
    pub points: u32,
    pub hint: &'static str,
    pub verdict: Verdict,
}

impl CheckResult {
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
    pub findings: Vec<String>,
    /// Every run's processes, by the harness's own accounting.
    pub accounting: Accounting,
    pub elapsed: Duration,
}

/// The harness itself could not grade (as opposed to a solution failing).
#[derive(Debug, thiserror::Error)]
pub enum GradeError {
    #[error(transparent)]
    Trace(#[from] TraceError),
}

impl Report {
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

    /// The terminal report.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "iolab {} — {}", self.lab, self.title);
        let _ = writeln!(out, "solution: {}", self.solution);
        if let Some(f) = &self.failure {
            let _ = writeln!(out, "error: {f}");
        }
        if !self.findings.is_empty() {
            let _ = writeln!(out, "\nnoticed:");
            for f in &self.findings {
                let _ = writeln!(out, "  - {f}");
            }
        }
        out.push('\n');
        for r in &self.results {
            let mark = if r.verdict.passed { "PASS" } else { "FAIL" };
            let _ = writeln!(
                out,
                "  [{mark}] {:>3}/{:<3} {}",
                r.score(),
                r.points,
                r.title
            );
            if !r.verdict.passed {
                for line in r.verdict.message.lines() {
                    let _ = writeln!(out, "         {line}");
                }
                if !r.verdict.evidence.is_empty() {
                    let _ = writeln!(out, "         trace:");
                    for e in &r.verdict.evidence {
                        let _ = writeln!(out, "           {e}");
                    }
                }
                let _ = writeln!(out, "         hint: {}", r.hint);
            }
        }
        if !self.facts.is_empty() {
            let _ = writeln!(out, "\nmeasured:");
            for f in &self.facts {
                let _ = writeln!(out, "  {f}");
            }
        }
        out.push('\n');
        let a = &self.accounting;
        let _ = write!(out, "processes: {} traced", a.processes.len());
        if !a.escaped.is_empty() {
            let _ = write!(
                out,
                ", {} outlived the trace and were killed by iolab",
                a.escaped.len()
            );
        }
        if a.left_running.is_empty() {
            let _ = writeln!(out, ", none left running");
        } else {
            let _ = writeln!(
                out,
                ", STILL RUNNING: {:?} (kill them: kill -9 PID)",
                a.left_running
            );
        }
        let _ = writeln!(out, "Score: {}/{}", self.score(), self.max());
        out
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
    let mut findings: Vec<String> = Vec::new();
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
                    if !findings.contains(f) {
                        findings.push(f.clone());
                    }
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
                failure = Some(e.to_string());
                break;
            }
        }
    }
    let runs = if failure.is_none() {
        Some(Runs(runs))
    } else {
        None
    };
    let results = lab
        .checks
        .iter()
        .map(|c| CheckResult {
            id: c.id,
            title: c.title,
            points: c.points,
            hint: c.hint,
            verdict: match (&runs, &failure) {
                (Some(runs), _) => (c.judge)(runs),
                (None, Some(_)) => Verdict::fail(
                    "not checked: the scenarios could not run (see the error above)",
                    Vec::new(),
                ),
                (None, None) => Verdict::fail("not checked", Vec::new()),
            },
        })
        .collect();
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
        elapsed: started.elapsed(),
    })
}
