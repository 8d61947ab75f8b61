//! Lab 2 graded end to end: the reference and an alternative correct
//! solution get full marks, the reference's transcript (EAGAIN storms folded
//! to one line) matches its snapshot every run, and every known-wrong
//! variant in `labs/lab2/variants.rs` fails exactly the checks it was written to
//! fail, with the message a student needs.

#[path = "../../../harness/tests/common/mod.rs"]
mod common;

use common::{assert_fails, assert_full_marks, assert_snapshot, grade_program, stable_transcript};
use iolab::grade::Report;

const LAB: &str = "lab2";

fn variant(name: &str) -> Report {
    grade_program(
        LAB,
        env!("CARGO_BIN_EXE_lab2-variants"),
        &["--variant", name],
    )
}

#[test]
fn reference_solution_gets_full_marks() {
    let report = grade_program(LAB, env!("CARGO_BIN_EXE_lab2"), &[]);
    assert_full_marks(&report);
    // The spinning is measured and stated, not judged.
    let idle = &report.facts[0];
    assert!(idle.contains("EAGAIN/s") && idle.contains("CPU"), "{idle}");
}

#[test]
fn alternative_solution_gets_full_marks() {
    // SOCK_NONBLOCK, accept4, recvfrom/sendto, 1000-byte reads, a 1 ms sleep.
    assert_full_marks(&variant("alt"));
}

#[test]
fn reference_transcript_matches_snapshot_every_run() {
    let text = stable_transcript(LAB, "standard", env!("CARGO_BIN_EXE_lab2"));
    assert!(text.contains("accept(L, NULL, NULL) = -1 EAGAIN  (storm)"));
    assert_snapshot("lab2_standard", &text);
}

#[test]
fn blocking_connections_fail_the_nonblocking_checks() {
    assert_fails(
        &variant("blocking-conns"),
        &[
            ("nonblocking-sockets", "read(C1, \"hello\""),
            ("eagain-seen", "a read never returned EAGAIN"),
            ("never-blocks", "found waiting inside"),
            ("concurrent", "expected \"WORLD\", got \"\""),
        ],
    );
}

#[test]
fn asking_fionread_first_fails_only_eagain_seen() {
    assert_fails(
        &variant("fionread"),
        &[("eagain-seen", "a read never returned EAGAIN")],
    );
}

#[test]
fn waiting_in_poll_fails_no_readiness_api_and_never_blocks() {
    assert_fails(
        &variant("poll"),
        &[
            ("no-readiness-api", "poll([{fd=L, events=POLLIN}"),
            ("never-blocks", "poll("),
        ],
    );
}

#[test]
fn a_thread_per_connection_fails_only_single_task() {
    assert_fails(&variant("threads"), &[("single-task", "CLONE_THREAD")]);
}

#[test]
fn dropping_the_rest_of_a_partial_write_fails_only_large_reply() {
    assert_fails(
        &variant("drops-partial"),
        &[("large-reply", "read the reply slowly")],
    );
}

#[test]
fn serving_one_client_at_a_time_fails_only_concurrent() {
    assert_fails(
        &variant("serial"),
        &[(
            "concurrent",
            "client B sent \"world\" while client A stayed connected and silent",
        )],
    );
}

/// Both backends give the snapshot scenario the same transcript, and grade
/// the reference and a known-wrong variant alike.
#[test]
fn parity() {
    common::same_transcript(
        "lab2",
        "standard",
        "lab2_standard",
        env!("CARGO_BIN_EXE_lab2"),
    );
    common::same_grade("lab2", env!("CARGO_BIN_EXE_lab2"), &[]);
    common::same_grade(
        "lab2",
        env!("CARGO_BIN_EXE_lab2-variants"),
        &["--variant", "poll"],
    );
}
