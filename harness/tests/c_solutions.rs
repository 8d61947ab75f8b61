//! Solutions in C, as most students write them from the handouts: each
//! file in `fixtures/c/` compiled with the system's `cc` and graded like the
//! Rust references. Each gets full marks; built with one of the `-D` flags
//! its header lists, it makes a mistake students make, and fails the checks
//! that mistake breaks, with an explanation that quotes the call behind it.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{assert_fails, assert_full_marks, grade_program, root};

/// `fixtures/c/NAME.c` compiled with `flags` into a fresh directory: the
/// binary's path (and the directory, kept alive while it is graded).
fn compile(name: &str, flags: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let out = dir.path().join(name);
    let source = root().join(format!("fixtures/c/{name}.c"));
    let status = Command::new("cc")
        .args(["-O2", "-Wall", "-Werror", "-pthread", "-o"])
        .arg(&out)
        .arg(&source)
        .args(flags)
        .status()
        .unwrap_or_else(|e| panic!("these tests compile C fixtures and need cc on PATH: {e}"));
    assert!(status.success(), "cc {} failed: {status}", source.display());
    (dir, out)
}

#[test]
fn lab7_in_c_gets_full_marks() {
    let (_dir, bin) = compile("lab7_gil", &[]);
    assert_full_marks(&grade_program("lab7", bin.to_str().expect("utf-8"), &[]));
}

#[test]
fn lab7_in_c_holding_the_lock_across_write_fails_unlocked_blocking() {
    let (_dir, bin) = compile("lab7_gil", &["-DLOCK_IN_WRITE"]);
    let report = grade_program("lab7", bin.to_str().expect("utf-8"), &[]);
    assert_fails(
        &report,
        &[(
            "unlocked-blocking",
            "sat blocked in a write while T2 waited for the lock in futex: the lock was held across a blocking write",
        )],
    );
}

/// `fixtures/c/NAME.c`, built with `flags`, graded as lab `lab`.
fn graded(lab: &str, name: &str, flags: &[&str]) -> iolab::grade::Report {
    let (_dir, bin) = compile(name, flags);
    grade_program(lab, bin.to_str().expect("utf-8"), &[])
}

#[test]
fn labs_1_to_5_in_c_get_full_marks() {
    for (lab, name) in [
        ("lab1", "lab1_blocking"),
        ("lab2", "lab2_polling"),
        ("lab3", "lab3_select"),
        ("lab4", "lab4_epoll"),
        ("lab5", "lab5_threads"),
    ] {
        let report = graded(lab, name, &[]);
        assert_full_marks(&report);
    }
}

#[test]
fn lab1_in_c_reading_on_after_eof_fails_head_of_line_quoting_the_reads() {
    assert_fails(
        &graded("lab1", "lab1_blocking", &["-DEOF_AS_DATA"]),
        &[(
            "head-of-line",
            "read on C1 returned 0 (end of stream: the client closed)",
        )],
    );
}

#[test]
fn lab1_in_c_forking_per_client_fails_single_task() {
    assert_fails(
        &graded("lab1", "lab1_blocking", &["-DFORK"]),
        &[
            ("head-of-line", "B was served concurrently"),
            ("single-task", "P1 is a process"),
        ],
    );
}

#[test]
fn lab1_in_c_with_a_nonblocking_listener_fails_the_blocking_checks() {
    assert_fails(
        &graded("lab1", "lab1_blocking", &["-DNONBLOCK"]),
        &[
            ("blocking-sockets", "O_NONBLOCK"),
            ("accept-blocks", "it kept polling"),
        ],
    );
}

#[test]
fn lab2_in_c_with_blocking_connections_fails_nonblocking_sockets() {
    assert_fails(
        &graded("lab2", "lab2_polling", &["-DBLOCKING_CONNECTIONS"]),
        &[
            ("nonblocking-sockets", "used while still blocking"),
            ("eagain-seen", "a read never returned EAGAIN"),
            ("never-blocks", "read(C1"),
            ("concurrent", "expected \"WORLD\""),
        ],
    );
}

#[test]
fn lab2_in_c_dropping_the_rest_of_a_partial_write_fails_large_reply_quoting_it() {
    assert_fails(
        &graded("lab2", "lab2_polling", &["-DDROP_PARTIAL"]),
        &[(
            "large-reply",
            "and the server's next call on C1 was read, not a write of the rest",
        )],
    );
}

#[test]
fn lab3_in_c_with_a_zero_timeout_fails_idle_sleeps() {
    assert_fails(
        &graded("lab3", "lab3_select", &["-DZERO_TIMEOUT"]),
        &[(
            "idle-sleeps",
            "a wait with a zero or tiny timeout in a loop is polling",
        )],
    );
}

#[test]
fn lab3_in_c_keeping_a_closed_fd_in_the_set_fails_sets_shrink() {
    assert_fails(
        &graded("lab3", "lab3_select", &["-DKEEP_CLOSED"]),
        &[("sets-shrink", "EBADF")],
    );
}

#[test]
fn lab4_in_c_accepting_once_per_edge_fails_edge_drains() {
    assert_fails(
        &graded("lab4", "lab4_epoll", &["-DACCEPT_ONCE"]),
        &[(
            "edge-drains",
            "the server accepted once and went back to epoll_wait",
        )],
    );
}

#[test]
fn lab4_in_c_reading_once_per_edge_fails_edge_drains_and_large_reply() {
    assert_fails(
        &graded("lab4", "lab4_epoll", &["-DREAD_ONCE"]),
        &[
            (
                "edge-drains",
                "the server read C1 once and went back to epoll_wait",
            ),
            ("epollout", "no connection was registered for EPOLLOUT"),
            (
                "large-reply",
                "the bytes were never read, not lost in a write",
            ),
        ],
    );
}

#[test]
fn lab5_in_c_with_main_closing_each_connection_fails_main_keeps_connections() {
    let report = graded("lab5", "lab5_threads", &["-DMAIN_CLOSES"]);
    let verdict = &report
        .result("main-keeps-connections")
        .expect("the check")
        .verdict;
    assert!(!verdict.passed, "{}", report.render());
    assert!(
        verdict
            .message
            .contains("main closed C1 after handing it to T1")
            && verdict.message.contains("EBADF"),
        "{}",
        report.render()
    );
}

#[test]
fn lab5_in_c_with_threads_outliving_their_clients_fails_no_leak() {
    assert_fails(
        &graded("lab5", "lab5_threads", &["-DNO_EXIT"]),
        &[(
            "no-leak",
            "20 of the 20 threads created for them were still alive",
        )],
    );
}
