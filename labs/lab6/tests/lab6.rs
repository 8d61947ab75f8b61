//! Lab 6 graded end to end: the reference and an alternative correct
//! solution get full marks, the reference's transcript (one section per
//! process, a crash and its replacement, SIGTERM) matches its snapshot every
//! run, and every known-wrong variant in `labs/lab6/variants.rs` fails exactly
//! the checks it was written to fail, with the message a student needs.
//! Every run must leave no process behind, orphans included.

#[path = "../../../harness/tests/common/mod.rs"]
mod common;

use common::{assert_fails, assert_full_marks, assert_snapshot, grade_program, stable_transcript};
use iolab::grade::Report;

const LAB: &str = "lab6";

fn variant(name: &str) -> Report {
    grade_program(
        LAB,
        env!("CARGO_BIN_EXE_lab6-variants"),
        &["--variant", name],
    )
}

#[test]
fn reference_solution_gets_full_marks() {
    assert_full_marks(&grade_program(LAB, env!("CARGO_BIN_EXE_lab6"), &[]));
}

#[test]
fn alternative_solution_gets_full_marks() {
    // accept4, recvfrom/sendto, waitid, kill(0, SIGTERM).
    assert_full_marks(&variant("alt"));
}

#[test]
fn reference_transcript_matches_snapshot_every_run() {
    let text = stable_transcript(LAB, "standard", env!("CARGO_BIN_EXE_lab6"));
    assert!(text.contains("== P2: process forked by main =="), "{text}");
    assert!(
        text.contains("main waited for P1 (wait4): killed by SIGABRT"),
        "{text}"
    );
    assert_snapshot("lab6_standard", &text);
}

#[test]
fn a_forking_server_fails_the_prefork_checks() {
    assert_fails(
        &variant("fork-per-conn"),
        &[
            ("workers-accept", "0 worker process(es) waited in accept"),
            ("master-never-accepts", "main  accept(L"),
            ("reaps-and-replaces", "stayed a zombie and was not replaced"),
        ],
    );
}

#[test]
fn thread_workers_fail_the_process_checks() {
    assert_fails(
        &variant("threads"),
        &[
            ("listen-before-fork", "the master never forked"),
            ("workers-accept", "the workers are threads"),
            ("concurrent", "one process"),
            ("crash-contained", "(the server was killed by SIGABRT)"),
            ("reaps-and-replaces", "the crash killed the master itself"),
            (
                "clean-shutdown",
                "the master was gone before SIGTERM was sent",
            ),
        ],
    );
}

#[test]
fn listening_after_the_fork_fails_only_listen_before_fork() {
    assert_fails(
        &variant("listen-after-fork"),
        &[("listen-before-fork", "listen came from P1")],
    );
}

#[test]
fn a_master_that_never_waits_fails_reaping_and_the_new_client() {
    assert_fails(
        &variant("no-reap"),
        &[
            ("reaps-and-replaces", "stayed a zombie and was not replaced"),
            (
                "crash-contained",
                "client C connected after client A's worker crashed",
            ),
        ],
    );
}

/// Issue 23: the crash was contained; what left C without a worker is the
/// master that never reaps, and crash-contained says so, quoting its pause.
#[test]
fn a_master_that_never_waits_is_named_by_crash_contained() {
    let report = variant("no-reap");
    let check = report.result("crash-contained").unwrap();
    assert!(!check.verdict.passed);
    assert!(
        check
            .verdict
            .message
            .contains("the master never called wait4 or waitid"),
        "{:?}",
        check.verdict
    );
    assert!(
        check.verdict.evidence.iter().any(|l| l.contains("pause(")),
        "{:?}",
        check.verdict
    );
}

/// Issue 23: handlers installed with glibc's signal() have SA_RESTART, so
/// SIGTERM restarts the master's wait4; the report quotes the handler's
/// flags and the restarted wait4.
#[test]
fn handlers_with_sa_restart_fail_only_clean_shutdown_quoting_the_flags() {
    let report = variant("signal-restart");
    assert_fails(&report, &[("clean-shutdown", "installed with SA_RESTART")]);
    let check = report.result("clean-shutdown").unwrap();
    let lines = &check.verdict.evidence;
    assert!(
        lines
            .iter()
            .any(|l| l.contains("rt_sigaction(SIGTERM, {handler, SA_RESTORER|SA_RESTART}")),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("rt_sigaction(SIGCHLD")),
        "{lines:?}"
    );
    assert!(
        lines.iter().filter(|l| l.contains("wait4(-1")).count() >= 2,
        "{lines:?}"
    );
}

#[test]
fn a_master_that_dies_on_sigterm_fails_only_clean_shutdown() {
    assert_fails(
        &variant("orphans"),
        &[(
            "clean-shutdown",
            "was killed by SIGTERM, but P2 kept running",
        )],
    );
}

#[test]
fn a_single_worker_fails_the_concurrency_checks() {
    assert_fails(
        &variant("one-worker"),
        &[
            ("workers-accept", "1 worker process(es) waited in accept"),
            (
                "concurrent",
                "client B sent \"world\" while client A stayed connected and silent",
            ),
            (
                "crash-contained",
                "client B, connected to another worker, sent \"again\"",
            ),
        ],
    );
}

/// Both backends give the snapshot scenario the same transcript, and grade
/// the reference and a known-wrong variant alike.
#[test]
fn parity() {
    common::same_transcript(
        "lab6",
        "standard",
        "lab6_standard",
        env!("CARGO_BIN_EXE_lab6"),
    );
    common::same_grade("lab6", env!("CARGO_BIN_EXE_lab6"), &[]);
    common::same_grade(
        "lab6",
        env!("CARGO_BIN_EXE_lab6-variants"),
        &["--variant", "no-reap"],
    );
}
