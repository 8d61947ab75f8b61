//! What the lab tests share: grading a binary with a process-table check,
//! asserting which checks fail and why, and the snapshot of a scenario.

#![allow(dead_code)] // each test crate uses its own subset

use iolab::grade::{Lab, Report, grade};
use iolab::normalize::normalize;
use iolab::scenario::{self, Limits};
use iolab::tracer::{Backend, Spec};

/// The backend the suite runs under: `IOLAB_BACKEND` (native by default).
pub fn backend() -> Backend {
    Backend::from_env().unwrap_or_else(|e| panic!("IOLAB_BACKEND: {e}"))
}

/// A spec for `program args` under the suite's backend.
pub fn spec(program: &str, args: &[&str]) -> Spec {
    Spec::new(program, args.iter().copied()).with_backend(backend())
}

pub fn lab(id: &str) -> Lab {
    iolab::labs::find(id).unwrap_or_else(|| panic!("{id} exists"))
}

/// Grades `program args` as a solution of lab `id` and checks that the run
/// left no process behind, by the harness's accounting and by `/proc`.
pub fn grade_program(id: &str, program: &str, args: &[&str]) -> Report {
    let spec = spec(program, args);
    let shown = std::iter::once(program)
        .chain(args.iter().copied())
        .collect::<Vec<_>>()
        .join(" ");
    let report = grade(&lab(id), &spec, &shown, &Limits::default()).expect("the harness runs");
    let runs = report.runs.as_ref().expect("the scenarios ran");
    for run in &runs.0 {
        assert!(
            run.outcome.left_alive.is_empty(),
            "{shown}: processes left alive: {:?}",
            run.outcome.left_alive
        );
        for pid in &run.outcome.processes {
            assert!(
                !running(*pid),
                "{shown}: traced process {pid} still runs after the run"
            );
        }
    }
    report
}

/// Asserts that exactly `failing` checks fail, each message (or its trace
/// evidence) containing its text.
pub fn assert_fails(report: &Report, failing: &[(&str, &str)]) {
    let text = report.render();
    let mut expected: Vec<&str> = failing.iter().map(|(id, _)| *id).collect();
    expected.sort_unstable();
    let mut failed = report.failed();
    failed.sort_unstable();
    assert_eq!(failed, expected, "wrong checks failed; report:\n{text}");
    for (id, needle) in failing {
        let result = report.result(id).expect("check exists");
        let all = format!(
            "{}\n{}",
            result.verdict.message,
            result.verdict.evidence.join("\n")
        );
        assert!(
            all.contains(needle),
            "check {id}: expected {needle:?} in:\n{all}"
        );
    }
    assert!(text.ends_with(&format!("Score: {}/100\n", report.score())));
}

/// Full marks, on a rubric worth 100.
pub fn assert_full_marks(report: &Report) {
    assert_eq!(report.max(), 100);
    assert_eq!(report.score(), 100, "{}", report.render());
}

/// The snapshot form of scenario `name` of lab `id` run against `program`
/// (with the scenario's own extra arguments).
pub fn transcript(id: &str, name: &str, program: &str) -> String {
    transcript_under(backend(), id, name, program)
}

/// The same, under a given backend.
pub fn transcript_under(backend: Backend, id: &str, name: &str, program: &str) -> String {
    let lab = lab(id);
    let scenario = lab
        .scenarios
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("{id} has a scenario {name}"));
    let spec = Spec::new(program, Vec::<String>::new()).with_backend(backend);
    let outcome = scenario::run(&spec, scenario, &Limits::default())
        .unwrap_or_else(|e| panic!("{id} {name} under {backend}: {e}"));
    normalize(&outcome.trace).render()
}

/// The transcript of scenario `name` of lab `id` against `program`, after
/// checking it is the same in three runs.
pub fn stable_transcript(id: &str, name: &str, program: &str) -> String {
    let runs: Vec<String> = (0..3).map(|_| transcript(id, name, program)).collect();
    assert_eq!(runs[0], runs[1], "{id} {name}: runs 1 and 2 differ");
    assert_eq!(runs[1], runs[2], "{id} {name}: runs 2 and 3 differ");
    runs.into_iter().next().expect("three runs")
}

/// Asserts the transcript matches the accepted snapshot `snapshots/<name>.snap`.
pub fn assert_snapshot(name: &str, transcript: &str) {
    insta::with_settings!({snapshot_path => "../../../snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!(name, transcript);
    });
}

/// Whether `pid` is a live process (a zombie waiting for its parent to reap
/// it no longer runs).
pub fn running(pid: i32) -> bool {
    !matches!(
        iolab::scenario::task_state(pid, pid),
        None | Some('Z' | 'X')
    )
}
