//! Solutions in another language: Python fixtures graded like the Rust
//! ones. The right ones get full marks (their model and protocol checks
//! pass), each wrong one fails the check it was written to fail, and a
//! server speaking another protocol is still judged on its I/O model.

mod common;

use common::{assert_fails, assert_full_marks, grade_program, python, python_fixture};
use iolab::grade::{Kind, Report};

/// Grades `fixtures/python/NAME.py` as a solution of `lab`.
fn grade_python(lab: &str, name: &str) -> Report {
    let script = python_fixture(name);
    grade_program(lab, python(), &["-B", &script])
}

#[test]
fn lab1_blocking_in_python_gets_full_marks() {
    assert_full_marks(&grade_python("lab1", "lab1_blocking"));
}

#[test]
fn lab1_threaded_in_python_fails_head_of_line_and_single_task() {
    let report = grade_python("lab1", "lab1_threaded");
    assert_fails(
        &report,
        &[
            ("head-of-line", "B was served concurrently"),
            ("single-task", "created threads or processes"),
        ],
    );
}

#[test]
fn another_protocol_is_judged_on_its_model_alone() {
    let report = grade_python("lab1", "lab1_plain_echo");
    let (model, model_max) = report.score_of(Kind::Model);
    assert_eq!(model, model_max, "{}", report.render());
    let (protocol, _) = report.score_of(Kind::Protocol);
    assert_eq!(protocol, 0, "{}", report.render());
    assert_fails(&report, &[("echo", "first difference at byte 0")]);
    let text = report.render();
    assert!(
        text.contains("model checks: 80/80, protocol checks: 0/20"),
        "{text}"
    );
}

#[test]
fn lab3_select_in_python_gets_full_marks() {
    assert_full_marks(&grade_python("lab3", "lab3_select"));
}

#[test]
fn lab3_with_a_zero_timeout_in_python_fails_idle_sleeps() {
    let report = grade_python("lab3", "lab3_busy");
    assert_fails(&report, &[("idle-sleeps", "polling, not sleeping")]);
}

#[test]
fn lab5_threads_in_python_gets_full_marks() {
    assert_full_marks(&grade_python("lab5", "lab5_threads"));
}

#[test]
fn lab5_thread_pool_in_python_fails_thread_per_connection() {
    let report = grade_python("lab5", "lab5_pool");
    assert_fails(
        &report,
        &[
            ("thread-per-connection", "created no thread for it"),
            ("no-leak", ""),
        ],
    );
}
