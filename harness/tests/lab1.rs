//! Lab 1 graded end to end: the reference solution gets full marks and its
//! transcript matches the accepted snapshot; every known-wrong solution under
//! `fixtures/lab1/` fails exactly the checks it was written to fail, with the
//! message a student needs.

use iolab::grade::{Report, grade};
use iolab::normalize::normalize;
use iolab::scenario::{self, Limits};
use iolab::tracer::Spec;

fn lab1() -> iolab::grade::Lab {
    iolab::labs::find("lab1").expect("lab1 exists")
}

/// Grades a binary and checks that the run left no process behind.
fn grade_binary(path: &str) -> Report {
    let spec = Spec::new(path, Vec::<String>::new());
    let report = grade(&lab1(), &spec, path, &Limits::default()).expect("the harness runs");
    let runs = report.runs.as_ref().expect("the scenarios ran");
    for run in &runs.0 {
        assert!(
            run.outcome.left_alive.is_empty(),
            "{path}: processes left alive: {:?}",
            run.outcome.left_alive
        );
        for pid in &run.outcome.processes {
            assert!(
                !running(*pid),
                "{path}: traced process {pid} still runs after the run"
            );
        }
    }
    report
}

/// Asserts that exactly `failing` checks fail, each message containing its text.
fn assert_fails(report: &Report, failing: &[(&str, &str)]) {
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

#[test]
fn reference_solution_gets_full_marks() {
    let report = grade_binary(env!("CARGO_BIN_EXE_lab1"));
    assert_eq!(report.score(), 100, "{}", report.render());
    assert_eq!(report.max(), 100);
}

#[test]
fn reference_transcript_matches_snapshot() {
    let lab = lab1();
    let standard = lab
        .scenarios
        .iter()
        .find(|s| s.name == lab.standard)
        .unwrap();
    let spec = Spec::new(env!("CARGO_BIN_EXE_lab1"), Vec::<String>::new());
    let outcome = scenario::run(&spec, standard, &Limits::default()).expect("scenario runs");
    let transcript = normalize(&outcome.trace).render();
    insta::with_settings!({snapshot_path => "../../snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("lab1_standard", transcript);
    });
}

#[test]
fn transcript_is_the_same_every_run() {
    let lab = lab1();
    let standard = lab
        .scenarios
        .iter()
        .find(|s| s.name == lab.standard)
        .unwrap();
    let spec = Spec::new(env!("CARGO_BIN_EXE_lab1"), Vec::<String>::new());
    let runs: Vec<String> = (0..3)
        .map(|_| {
            let outcome =
                scenario::run(&spec, standard, &Limits::default()).expect("scenario runs");
            normalize(&outcome.trace).render()
        })
        .collect();
    assert_eq!(runs[0], runs[1]);
    assert_eq!(runs[1], runs[2]);
}

#[test]
fn thread_per_connection_fails_head_of_line_and_single_task() {
    let report = grade_binary(env!("CARGO_BIN_EXE_lab1-threaded"));
    assert_fails(
        &report,
        &[
            (
                "head-of-line",
                "client B got \"WORLD\" back while client A was still connected",
            ),
            ("single-task", "CLONE_THREAD"),
        ],
    );
    // The evidence names the thread that read B's bytes.
    let hol = report.result("head-of-line").unwrap();
    assert!(
        hol.verdict
            .evidence
            .iter()
            .any(|l| l.contains("read(C2, \"world\""))
    );
}

#[test]
fn truncating_echo_fails_only_the_echo_check() {
    let report = grade_binary(env!("CARGO_BIN_EXE_lab1-truncating"));
    assert_fails(&report, &[("echo", "first difference at byte 1024")]);
}

#[test]
fn nonblocking_polling_fails_the_blocking_checks() {
    let report = grade_binary(env!("CARGO_BIN_EXE_lab1-nonblocking"));
    assert_fails(
        &report,
        &[
            ("blocking-sockets", "O_NONBLOCK"),
            ("accept-blocks", "it never blocked"),
            ("read-blocks", "EAGAIN"),
        ],
    );
}

#[test]
fn waiting_in_poll_before_accept_fails_only_accept_blocks() {
    let report = grade_binary(env!("CARGO_BIN_EXE_lab1-poll-accept"));
    assert_fails(&report, &[("accept-blocks", "poll([{fd=L, events=POLLIN")]);
}

#[test]
fn waiting_in_poll_before_read_fails_only_read_blocks() {
    let report = grade_binary(env!("CARGO_BIN_EXE_lab1-poll-read"));
    assert_fails(&report, &[("read-blocks", "poll([{fd=C1, events=POLLIN")]);
}

#[test]
fn a_background_thread_fails_only_single_task() {
    let report = grade_binary(env!("CARGO_BIN_EXE_lab1-logger-thread"));
    assert_fails(&report, &[("single-task", "= T1")]);
}

#[test]
fn a_crash_mid_scenario_is_reported_with_its_signal() {
    let report = grade_binary(env!("CARGO_BIN_EXE_bad-crash-on-data"));
    assert!(report.score() < 100);
    let echo = report.result("echo").unwrap();
    assert!(!echo.verdict.passed);
    assert!(
        echo.verdict.message.contains("killed by SIGSEGV"),
        "{}",
        echo.verdict.message
    );
}

/// Whether `pid` is a live process (a zombie waiting for its parent to reap
/// it no longer runs).
fn running(pid: i32) -> bool {
    !matches!(
        iolab::scenario::task_state(pid, pid),
        None | Some('Z' | 'X')
    )
}
