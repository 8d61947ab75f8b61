//! A graded solution's report, in the three forms its readers need: a
//! terminal table for the student at 2 a.m., Gradescope's `results.json`
//! for the instructor's class, and the traces behind each failure saved
//! under `target/iolab/<lab>/<scenario>/`.

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::grade::{CheckResult, Kind, Report, Visibility};
use crate::normalize::raw_lines;

/// The files a scenario's directory holds.
pub const TRANSCRIPT_FILE: &str = "transcript.txt";
pub const RAW_FILE: &str = "trace.raw.txt";
pub const REFERENCE_FILE: &str = "reference.txt";
/// Marks a lab's traces directory as iolab's own, safe to replace.
pub const MARK_FILE: &str = ".iolab-traces";

/// How a report is printed: with ANSI colours or none (not a terminal, or
/// `NO_COLOR` set), and for whom.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Style {
    pub colour: bool,
    /// For students before the due date (Gradescope's top-level output):
    /// hidden checks and their points left out, and no paths that exist
    /// only where grading ran.
    pub public: bool,
}

impl Style {
    /// Colour when `stdout` is a terminal and `NO_COLOR` is not set.
    pub fn for_stdout() -> Style {
        use std::io::IsTerminal;
        Style {
            colour: io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
            public: false,
        }
    }

    fn paint(self, code: &str, text: &str) -> String {
        if self.colour {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn mark(self, passed: bool) -> String {
        if passed {
            self.paint("32", "PASS")
        } else {
            self.paint("1;31", "FAIL")
        }
    }
}

impl Report {
    /// The terminal report, without colour.
    pub fn render(&self) -> String {
        self.render_styled(Style {
            colour: false,
            public: false,
        })
    }

    /// Whether a check is shown in this style.
    fn shows(r: &CheckResult, style: Style) -> bool {
        !style.public || r.visibility == Visibility::Visible
    }

    /// The terminal report: what went wrong, a table of checks, each
    /// failure's explanation, trace excerpt and hint, and `Score: X/Y` last.
    pub fn render_styled(&self, style: Style) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "iolab {} — {}", self.lab, self.title);
        let _ = writeln!(out, "solution: {}", self.solution);
        if let Some(launcher) = self.launched_by() {
            let _ = writeln!(
                out,
                "launched by: {launcher} (left out of the checks and the transcripts)"
            );
        }
        if let Some(f) = &self.failure {
            let _ = writeln!(out, "{} {f}", style.paint("1;31", "error:"));
        }
        if !self.findings.is_empty() {
            let _ = writeln!(out, "\nnoticed:");
            for f in &self.findings {
                let _ = writeln!(out, "  - {f}");
            }
        }
        out.push('\n');
        let _ = writeln!(out, "  result  points  kind      check");
        for r in self.results.iter().filter(|r| Self::shows(r, style)) {
            let hidden = if r.visibility == Visibility::AfterDueDate {
                "  (hidden on Gradescope until the due date)"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "  {}    {:>6}  {:<8}  {}: {}{hidden}",
                style.mark(r.verdict.passed),
                format!("{}/{}", r.score(), r.points),
                r.kind.as_str(),
                r.id,
                r.title
            );
        }
        let failed: Vec<&CheckResult> = self
            .results
            .iter()
            .filter(|r| !r.verdict.passed && Self::shows(r, style))
            .collect();
        if !failed.is_empty() && self.failure.is_none() {
            let _ = writeln!(out, "\nwhy points were lost:");
            for r in failed {
                out.push('\n');
                out.push_str(&self.explain(r, style));
            }
        }
        if !self.reference.is_empty() {
            let _ = writeln!(
                out,
                "\ncompared with the reference transcripts (not scored):"
            );
            for c in &self.reference {
                let _ = writeln!(out, "  {}", c.describe());
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
        let _ = writeln!(out, "sandbox: {}", self.sandbox);
        if let Some(dir) = self.artifacts.as_ref().filter(|_| !style.public) {
            let _ = writeln!(out, "traces: {}", shown(dir).display());
        }
        let points = |kind: Option<Kind>| {
            self.results
                .iter()
                .filter(|r| Self::shows(r, style) && kind.is_none_or(|k| r.kind == k))
                .fold((0, 0), |(s, m), r| (s + r.score(), m + r.points))
        };
        let (model, model_max) = points(Some(Kind::Model));
        let (protocol, protocol_max) = points(Some(Kind::Protocol));
        let _ = writeln!(
            out,
            "model checks: {model}/{model_max}, protocol checks: {protocol}/{protocol_max}"
        );
        let (score, max) = points(None);
        let hidden = self.max() - max;
        let score = if hidden > 0 {
            format!(
                "Score: {score}/{max} (and {hidden} points of hidden checks, shown after the due date)"
            )
        } else {
            format!("Score: {score}/{max}")
        };
        let painted = style.paint(if self.full_marks() { "1;32" } else { "1" }, &score);
        let _ = writeln!(out, "{painted}");
        out
    }

    /// A failed check: the message, the trace lines that prove it, the
    /// hint, and where its scenarios' traces were saved.
    fn explain(&self, r: &CheckResult, style: Style) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "  {} {}: {}",
            style.mark(false),
            style.paint("1", r.id),
            r.title
        );
        for line in r.verdict.message.lines() {
            let _ = writeln!(out, "    {line}");
        }
        if !r.verdict.evidence.is_empty() {
            let _ = writeln!(out, "    trace:");
            for e in &r.verdict.evidence {
                let _ = writeln!(out, "      {e}");
            }
        }
        let _ = writeln!(out, "    hint: {}", r.hint);
        for dir in self.saved(r).into_iter().filter(|_| !style.public) {
            let _ = writeln!(
                out,
                "    saved: {}/ ({TRANSCRIPT_FILE}, {RAW_FILE})",
                shown(&dir).display()
            );
        }
        out
    }

    /// The directories holding the traces of a check's scenarios.
    pub fn saved(&self, r: &CheckResult) -> Vec<PathBuf> {
        match &self.artifacts {
            Some(dir) => r.scenarios.iter().map(|s| dir.join(s)).collect(),
            None => Vec::new(),
        }
    }

    /// Saves each scenario's normalized transcript and raw trace (and the
    /// reference transcript, where the scenario has one) under
    /// `root/<lab>/<scenario>/`, replacing what an earlier grade left there.
    /// Written into a fresh directory first, then renamed into place; an
    /// existing `root/<lab>` is replaced only if iolab made it (it holds
    /// [`MARK_FILE`]), so a mistaken `--traces` never deletes anything
    /// else. Nothing is saved (and nothing replaced) when no scenario ran.
    pub fn save_artifacts(&mut self, root: &Path) -> io::Result<Option<PathBuf>> {
        let Some(runs) = &self.runs else {
            return Ok(None);
        };
        let dir = root.join(self.lab);
        if dir.exists() && !made_by_iolab(&dir) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "{} exists and was not made by iolab; choose another --traces directory",
                    dir.display()
                ),
            ));
        }
        std::fs::create_dir_all(root)?;
        let fresh = tempfile::Builder::new()
            .prefix(&format!(".{}-", self.lab))
            .tempdir_in(root)?;
        std::fs::write(
            fresh.path().join(MARK_FILE),
            "traces written by iolab grade\n",
        )?;
        for run in runs.all() {
            let name = run.outcome.scenario;
            let at = fresh.path().join(name);
            std::fs::create_dir_all(&at)?;
            std::fs::write(
                at.join(TRANSCRIPT_FILE),
                run.transcript.render_with_counts(),
            )?;
            std::fs::write(
                at.join(RAW_FILE),
                raw_lines(&run.outcome.trace).join("\n") + "\n",
            )?;
            if let Some(text) = crate::reference::transcript(self.lab, name) {
                std::fs::write(at.join(REFERENCE_FILE), text)?;
            }
        }
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::rename(fresh.path(), &dir)?;
        // Renamed away: nothing is left for the guard to remove.
        let _ = fresh.keep();
        self.artifacts = Some(dir.clone());
        Ok(Some(dir))
    }

    /// Gradescope's `results.json`: the score, one test per check (with its
    /// points, status, explanation and visibility), the whole report as
    /// the top-level output, and the time grading took.
    pub fn gradescope(&self) -> Value {
        let tests: Vec<Value> = self
            .results
            .iter()
            .map(|r| {
                let mut output = String::new();
                if r.verdict.passed {
                    output.push_str(&r.verdict.message);
                } else {
                    let text = self.explain(
                        r,
                        Style {
                            colour: false,
                            public: true,
                        },
                    );
                    // The first line repeats the name.
                    output.extend(
                        text.lines()
                            .skip(1)
                            .map(|l| format!("{}\n", l.trim_start())),
                    );
                }
                json!({
                    "name": format!("{}: {}", r.id, r.title),
                    "score": r.score(),
                    "max_score": r.points,
                    "status": if r.verdict.passed { "passed" } else { "failed" },
                    "output": output.trim_end(),
                    "visibility": r.visibility.as_str(),
                    "tags": [r.kind.as_str()],
                })
            })
            .collect();
        json!({
            "score": self.score(),
            "execution_time": self.elapsed.as_secs_f64(),
            "output": self.render_styled(Style {
                colour: false,
                public: true,
            }),
            "visibility": "visible",
            "stdout_visibility": "hidden",
            "tests": tests,
        })
    }
}

/// Whether `dir` holds iolab's traces: it has the mark, or it is in an
/// earlier iolab's layout (only `<scenario>.txt`/`.raw.txt` files, or only
/// scenario directories of the files iolab writes).
fn made_by_iolab(dir: &Path) -> bool {
    if dir.join(MARK_FILE).is_file() {
        return true;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().all(|e| {
        let path = e.path();
        if path.is_dir() {
            std::fs::read_dir(&path).is_ok_and(|inner| {
                inner.flatten().all(|f| {
                    [TRANSCRIPT_FILE, RAW_FILE, REFERENCE_FILE]
                        .iter()
                        .any(|n| f.file_name() == *n)
                })
            })
        } else {
            e.file_name().to_string_lossy().ends_with(".txt")
        }
    })
}

/// A path relative to the current directory when it is under it.
fn shown(path: &Path) -> PathBuf {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| path.to_path_buf())
}

/// One table of several graded labs (`make grade`): each lab's model and
/// protocol points, score, time and failed checks, and the total.
pub fn summary(reports: &[Report], style: Style) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<5}  {:<36}  {:>8}  {:>8}  {:>8}  {:>6}  failed checks",
        "lab", "title", "model", "protocol", "score", "time"
    );
    let (mut score, mut max) = (0, 0);
    let mut elapsed = 0.0;
    for r in reports {
        let (m, mm) = r.score_of(Kind::Model);
        let (p, pm) = r.score_of(Kind::Protocol);
        score += r.score();
        max += r.max();
        elapsed += r.elapsed.as_secs_f64();
        let failed = if r.failure.is_some() {
            "could not run (see `iolab grade`)".to_string()
        } else {
            let f = r.failed();
            if f.is_empty() {
                "-".to_string()
            } else {
                f.join(", ")
            }
        };
        let total = format!("{}/{}", r.score(), r.max());
        let total = if r.full_marks() {
            format!("{total:>8}")
        } else {
            style.paint("1;31", &format!("{total:>8}"))
        };
        let _ = writeln!(
            out,
            "{:<5}  {:<36}  {:>8}  {:>8}  {total}  {:>5.1}s  {failed}",
            r.lab,
            r.title,
            format!("{m}/{mm}"),
            format!("{p}/{pm}"),
            r.elapsed.as_secs_f64(),
        );
    }
    let _ = writeln!(
        out,
        "{:<5}  {:<36}  {:>8}  {:>8}  {:>8}  {elapsed:>5.1}s",
        "all",
        "",
        "",
        "",
        format!("{score}/{max}")
    );
    if let Some(dir) = reports.iter().find_map(|r| r.artifacts.as_ref()) {
        if let Some(parent) = dir.parent() {
            let _ = writeln!(out, "traces: {}/<lab>/<scenario>/", shown(parent).display());
        }
    }
    out
}
