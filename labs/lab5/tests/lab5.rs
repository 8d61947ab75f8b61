//! Lab 5 graded end to end: the reference and an alternative correct
//! solution get full marks, the reference's transcript (one section per
//! thread) matches its snapshot every run, and every known-wrong variant
//! in `labs/lab5/variants.rs` fails exactly the checks it was written to fail,
//! with the message a student needs.

#[path = "../../../harness/tests/common/mod.rs"]
mod common;

use common::{assert_fails, assert_full_marks, assert_snapshot, grade_program, stable_transcript};
use iolab::grade::Report;

const LAB: &str = "lab5";

fn variant(name: &str) -> Report {
    grade_program(
        LAB,
        env!("CARGO_BIN_EXE_lab5-variants"),
        &["--variant", name],
    )
}

#[test]
fn reference_solution_gets_full_marks() {
    assert_full_marks(&grade_program(LAB, env!("CARGO_BIN_EXE_lab5"), &[]));
}

#[test]
fn alternative_solution_gets_full_marks() {
    // accept4, named threads with small stacks, recvfrom/sendto of 1000 bytes.
    assert_full_marks(&variant("alt"));
}

#[test]
fn reference_transcript_matches_snapshot_every_run() {
    let text = stable_transcript(LAB, "standard", env!("CARGO_BIN_EXE_lab5"));
    assert!(text.contains("== T1: thread of main =="), "{text}");
    assert!(text.contains("clone3(CLONE_VM|"), "{text}");
    assert_snapshot("lab5_standard", &text);
}

#[test]
fn serving_in_the_main_thread_fails_the_thread_checks() {
    assert_fails(
        &variant("serial"),
        &[
            (
                "thread-per-connection",
                "main accepted C1 but created no thread",
            ),
            ("own-thread", "C1 was read by main"),
            ("concurrent", "expected \"WORLD\", got \"\""),
            ("no-leak", "only 0 threads were created"),
        ],
    );
}

#[test]
fn a_process_per_connection_fails_the_thread_checks() {
    assert_fails(
        &variant("processes"),
        &[
            (
                "thread-per-connection",
                "created processes (no CLONE_VM|CLONE_THREAD)",
            ),
            ("no-leak", "only 0 threads were created"),
        ],
    );
}

#[test]
fn threads_that_never_exit_fail_only_no_leak() {
    assert_fails(
        &variant("leak"),
        &[(
            "no-leak",
            "20 of the 20 threads created for them were still alive",
        )],
    );
}

#[test]
fn a_shared_writer_thread_fails_only_own_thread() {
    assert_fails(
        &variant("shared-writer"),
        &[("own-thread", "C1 was written by T1 (its own thread is T2)")],
    );
}

#[test]
fn polling_non_blocking_threads_fail_only_blocking() {
    assert_fails(
        &variant("nonblocking"),
        &[("blocking", "fcntl(C1, F_SETFL, O_RDWR|O_NONBLOCK)")],
    );
}

#[test]
fn dropping_unsent_bytes_fails_only_large_reply() {
    assert_fails(
        &variant("drops-partial"),
        &[("large-reply", "read the reply slowly")],
    );
}

/// Issue 23: main closes each connection right after starting its thread
/// (a forking server's habit); the report quotes main's close and the
/// thread's call that then fails with EBADF.
#[test]
fn main_closing_a_handed_over_connection_fails_main_keeps_connections() {
    let report = variant("main-closes");
    let check = report.result("main-keeps-connections").unwrap();
    assert!(!check.verdict.passed, "{}", report.render());
    assert!(
        check
            .verdict
            .message
            .contains("main closed C1 after handing it to T1"),
        "{:?}",
        check.verdict
    );
    assert!(
        check
            .verdict
            .evidence
            .iter()
            .any(|l| l.contains("close(C1)")),
        "{:?}",
        check.verdict
    );
    assert!(
        check.verdict.evidence.iter().any(|l| l.contains("EBADF")),
        "{:?}",
        check.verdict
    );
    // The model checks that are not about it still pass.
    for id in ["thread-per-connection", "own-thread", "blocking"] {
        assert!(
            report.result(id).unwrap().verdict.passed,
            "{id}: {}",
            report.render()
        );
    }
}

/// Both backends give the snapshot scenario the same transcript, and grade
/// the reference and a known-wrong variant alike.
#[test]
fn parity() {
    common::same_transcript(
        "lab5",
        "standard",
        "lab5_standard",
        env!("CARGO_BIN_EXE_lab5"),
    );
    common::same_grade("lab5", env!("CARGO_BIN_EXE_lab5"), &[]);
    common::same_grade(
        "lab5",
        env!("CARGO_BIN_EXE_lab5-variants"),
        &["--variant", "shared-writer"],
    );
}
