//! Lab 1 graded end to end: the reference solution gets full marks and its
//! transcript matches the accepted snapshot; every known-wrong solution under
//! `labs/lab1/variants/` fails exactly the checks it was written to fail, with the
//! message a student needs.

#[path = "../../../harness/tests/common/mod.rs"]
mod common;

use common::{assert_fails, assert_full_marks, assert_snapshot, stable_transcript};
use iolab::grade::Report;

fn grade_binary(path: &str) -> Report {
    common::grade_program("lab1", path, &[])
}

#[test]
fn reference_solution_gets_full_marks() {
    assert_full_marks(&grade_binary(env!("CARGO_BIN_EXE_lab1")));
}

#[test]
fn reference_transcript_matches_snapshot_every_run() {
    let text = stable_transcript("lab1", "standard", env!("CARGO_BIN_EXE_lab1"));
    assert_snapshot("lab1_standard", &text);
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

/// Issue 23: a server that takes `read() == 0` for data spins on the
/// closed client; the report quotes the repeated end-of-stream read.
#[test]
fn reading_a_closed_client_again_fails_head_of_line_quoting_the_eof_read() {
    let report = grade_binary(env!("CARGO_BIN_EXE_lab1-eof-as-data"));
    assert_fails(
        &report,
        &[("head-of-line", "read on C1 returned 0 (end of stream")],
    );
    let hol = report.result("head-of-line").unwrap();
    assert!(
        hol.verdict
            .evidence
            .iter()
            .any(|l| l.contains("read(C1, \"\", 4096) = 0")),
        "{:?}",
        hol.verdict
    );
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

/// A rule change (issue 22): a thread that never touches the listening
/// socket or a connection is a runtime's business, named under `noticed:`.
#[test]
fn a_background_thread_is_noticed_not_counted() {
    let report = grade_binary(env!("CARGO_BIN_EXE_lab1-logger-thread"));
    assert_full_marks(&report);
    assert!(
        report
            .findings
            .contains(&iolab::findings::Finding::HelperThreads {
                tasks: vec!["T1".to_string()]
            }),
        "{}",
        report.render()
    );
}

#[test]
fn a_crash_mid_scenario_is_reported_with_its_signal() {
    let report = grade_binary(&common::bin("bad-crash-on-data"));
    assert!(report.score() < 100);
    let echo = report.result("echo").unwrap();
    assert!(!echo.verdict.passed);
    assert!(
        echo.verdict.message.contains("killed by SIGSEGV"),
        "{}",
        echo.verdict.message
    );
}

/// Both backends give the snapshot scenario the same transcript, and grade
/// the reference and a known-wrong variant alike.
#[test]
fn parity() {
    common::same_transcript(
        "lab1",
        "standard",
        "lab1_standard",
        env!("CARGO_BIN_EXE_lab1"),
    );
    common::same_grade("lab1", env!("CARGO_BIN_EXE_lab1"), &[]);
    common::same_grade("lab1", env!("CARGO_BIN_EXE_lab1-nonblocking"), &[]);
}
