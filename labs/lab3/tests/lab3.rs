//! Lab 3 graded end to end: the reference and an alternative correct
//! solution (`pselect6`, `accept4`, draining reads) get full marks, the
//! reference's transcript matches its snapshot every run, and every
//! known-wrong variant in `labs/lab3/variants.rs` fails exactly the checks it was
//! written to fail, with the message a student needs.

#[path = "../../../harness/tests/common/mod.rs"]
mod common;

use common::{assert_fails, assert_full_marks, assert_snapshot, grade_program, stable_transcript};
use iolab::grade::Report;

const LAB: &str = "lab3";

fn variant(name: &str) -> Report {
    grade_program(
        LAB,
        env!("CARGO_BIN_EXE_lab3-variants"),
        &["--variant", name],
    )
}

#[test]
fn reference_solution_gets_full_marks() {
    let report = grade_program(LAB, env!("CARGO_BIN_EXE_lab3"), &[]);
    assert_full_marks(&report);
    assert!(
        report.facts[0].contains(" 0 syscalls/s"),
        "{:?}",
        report.facts
    );
}

#[test]
fn alternative_solution_gets_full_marks() {
    assert_full_marks(&variant("alt"));
}

#[test]
fn reference_transcript_matches_snapshot_every_run() {
    let text = stable_transcript(LAB, "standard", env!("CARGO_BIN_EXE_lab3"));
    assert!(text.contains("select(5, {L, C1}, {}, NULL, NULL, <blocked ...>"));
    assert_snapshot("lab3_standard", &text);
}

#[test]
fn a_zero_timeout_fails_only_idle_sleeps() {
    assert_fails(
        &variant("zero-timeout"),
        &[(
            "idle-sleeps",
            "select(4, {L}, {}, NULL, {tv_sec=0, tv_usec=0}) = 0",
        )],
    );
}

/// A rule change (issue 22): a housekeeping thread that never touches a
/// socket is named under `noticed:`, not counted against one thread.
#[test]
fn a_housekeeping_thread_is_noticed_not_counted() {
    let report = variant("thread");
    assert_full_marks(&report);
    assert!(
        report
            .render()
            .contains("never touched the listening socket or a connection (T1)"),
        "{}",
        report.render()
    );
}

#[test]
fn reading_a_client_select_did_not_report_blocks_the_server() {
    assert_fails(
        &variant("blind-read"),
        &[
            (
                "ready-only",
                "read(C1, ...) came after a select that did not report C1 readable",
            ),
            ("waits-in-select", "found waiting outside select"),
            ("write-set", "blocked in write"),
        ],
    );
}

#[test]
fn forgetting_a_closed_fd_fails_only_sets_shrink() {
    assert_fails(&variant("forgets-closed"), &[("sets-shrink", "= -1 EBADF")]);
}

#[test]
fn blocking_writes_fail_write_set_and_waits_in_select() {
    assert_fails(
        &variant("blocking-write"),
        &[
            ("write-set", "blocked in write"),
            ("waits-in-select", "write(C1"),
        ],
    );
}

#[test]
fn watching_only_the_latest_client_fails_read_set() {
    assert_fails(
        &variant("latest-only"),
        &[
            ("read-set", "select was called without C1 in its sets"),
            ("large-reply", "client A sent 12288 bytes"),
        ],
    );
}

/// Both backends give the snapshot scenario the same transcript, and grade
/// the reference and a known-wrong variant alike.
#[test]
fn parity() {
    common::same_transcript(
        "lab3",
        "standard",
        "lab3_standard",
        env!("CARGO_BIN_EXE_lab3"),
    );
    common::same_grade("lab3", env!("CARGO_BIN_EXE_lab3"), &[]);
    common::same_grade(
        "lab3",
        env!("CARGO_BIN_EXE_lab3-variants"),
        &["--variant", "blind-read"],
    );
}
