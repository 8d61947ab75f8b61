//! Lab 7 graded end to end: the reference (a ticket lock on a raw futex) and
//! an alternative correct solution (CPython's mutex + condition variables)
//! get full marks, the reference's transcript matches its snapshot every run,
//! and every known-wrong variant in `labs/lab7/variants.rs` fails exactly the
//! checks it was written to fail, with the message a student needs. The
//! timing checks compare two requests at once with one alone in the same
//! run, so a busy machine slows both sides of the ratio alike.

#[path = "../../../harness/tests/common/mod.rs"]
mod common;

use common::{assert_fails, assert_full_marks, assert_snapshot, grade_program, stable_transcript};
use iolab::grade::Report;

const LAB: &str = "lab7";

fn variant(name: &str) -> Report {
    grade_program(
        LAB,
        env!("CARGO_BIN_EXE_lab7-variants"),
        &["--variant", name],
    )
}

#[test]
fn reference_solution_gets_full_marks() {
    let report = grade_program(LAB, env!("CARGO_BIN_EXE_lab7"), &[]);
    assert_full_marks(&report);
    assert!(
        report.facts.iter().any(|f| f.starts_with("cpu 200:")),
        "{:?}",
        report.facts
    );
}

#[test]
fn alternative_solution_gets_full_marks() {
    // Mutex + two condition variables, timed waits and forced switching.
    assert_full_marks(&variant("alt"));
}

#[test]
fn reference_transcript_matches_snapshot_every_run() {
    let text = stable_transcript(LAB, "standard", env!("CARGO_BIN_EXE_lab7"));
    assert!(text.contains("clock_nanosleep("), "{text}");
    assert_snapshot("lab7_standard", &text);
}

#[test]
fn no_lock_fails_contention_and_serialization() {
    assert_fails(
        &variant("no-lock"),
        &[
            (
                "lock-contention",
                "no thread ever waited on a futex that another thread woke",
            ),
            ("cpu-serialized", "so they ran in parallel"),
        ],
    );
}

#[test]
fn sleeping_with_the_lock_fails_only_io_overlap() {
    assert_fails(
        &variant("lock-in-io"),
        &[("io-overlap", "the lock was held while sleeping")],
    );
}

#[test]
fn no_switch_interval_fails_only_switch_interval() {
    assert_fails(
        &variant("no-switch"),
        &[(
            "switch-interval",
            "the lock was not handed over during the long computation",
        )],
    );
}

#[test]
fn holding_the_lock_in_read_names_the_reader_and_the_waiter() {
    assert_fails(
        &variant("lock-in-read"),
        &[
            (
                "unlocked-blocking",
                "T1 sat blocked in a read while T2 waited for the lock in futex",
            ),
            ("cpu-serialized", "not every request was answered"),
            ("io-overlap", "not every request was answered"),
            (
                "switch-interval",
                "client A sent cpu 500, then client B sent \"ping\"",
            ),
        ],
    );
}

/// The lock let go only after the write: B's cpu 20 waits while A's
/// thread sits in a write A does not read (issue 23).
#[test]
fn holding_the_lock_in_write_names_the_writer_and_the_waiter() {
    let report = variant("lock-in-write");
    assert_fails(
        &report,
        &[(
            "unlocked-blocking",
            "sat blocked in a write while T2 waited for the lock in futex: the lock was held across a blocking write",
        )],
    );
    let check = report
        .results
        .iter()
        .find(|c| c.id == "unlocked-blocking")
        .expect("the check ran");
    assert!(
        check
            .verdict
            .evidence
            .iter()
            .any(|l| l.contains("write(C1"))
            && check.verdict.evidence.iter().any(|l| l.contains("futex(")),
        "{:?}",
        check.verdict.evidence
    );
}

#[test]
fn one_thread_for_everything_fails_every_check() {
    assert_fails(
        &variant("single"),
        &[
            (
                "thread-per-connection",
                "main accepted C1 but created no thread",
            ),
            ("lock-contention", "no thread ever waited"),
            ("cpu-serialized", "B got \"\""),
            ("io-overlap", "B got \"\""),
            (
                "unlocked-blocking",
                "client B sent \"cpu 20\" while client A was connected and silent",
            ),
            ("switch-interval", "B got \"\""),
        ],
    );
}

/// Both backends give the snapshot scenario the same transcript, and grade
/// the reference and a known-wrong variant alike.
#[test]
fn parity() {
    common::same_transcript(
        "lab7",
        "standard",
        "lab7_standard",
        env!("CARGO_BIN_EXE_lab7"),
    );
    common::same_grade("lab7", env!("CARGO_BIN_EXE_lab7"), &[]);
    common::same_grade(
        "lab7",
        env!("CARGO_BIN_EXE_lab7-variants"),
        &["--variant", "lock-in-read"],
    );
}
