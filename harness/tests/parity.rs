//! The two backends agree. For every lab, the transcript of each snapshot
//! scenario is the same byte for byte under the native tracer and under
//! strace (and is the accepted snapshot: snapshots are shared, not kept per
//! backend), and grading gives the same verdict on every check, for the
//! reference solution and for a known-wrong one.

mod common;

use common::{assert_snapshot, lab, transcript_under};
use iolab::grade::{Report, grade};
use iolab::scenario::Limits;
use iolab::tracer::{Backend, Spec};

/// Both backends' transcripts of `scenario`, equal, and the snapshot.
fn same_transcript(id: &str, scenario: &str, snapshot: &str, program: &str) {
    let native = transcript_under(Backend::Native, id, scenario, program);
    let strace = transcript_under(Backend::Strace, id, scenario, program);
    if native != strace {
        panic!(
            "{id} {scenario}: the backends disagree\n{}",
            iolab::normalize::side_by_side(("native", &native), ("strace", &strace))
        );
    }
    assert_snapshot(snapshot, &native);
}

fn grade_under(backend: Backend, id: &str, program: &str, args: &[&str]) -> Report {
    let spec = Spec::new(program, args.iter().copied()).with_backend(backend);
    grade(&lab(id), &spec, program, &Limits::default())
        .unwrap_or_else(|e| panic!("{id} under {backend}: {e}"))
}

/// Every check's verdict (pass or fail) under both backends, equal.
fn same_grade(id: &str, program: &str, args: &[&str]) {
    let native = grade_under(Backend::Native, id, program, args);
    let strace = grade_under(Backend::Strace, id, program, args);
    let verdicts = |r: &Report| -> Vec<(String, bool)> {
        r.results
            .iter()
            .map(|c| (c.id.to_string(), c.verdict.passed))
            .collect()
    };
    assert_eq!(
        verdicts(&native),
        verdicts(&strace),
        "{id} {args:?}: the backends grade differently\n--- native ---\n{}\n--- strace ---\n{}",
        native.render(),
        strace.render()
    );
    assert_eq!(native.score(), strace.score());
}

#[test]
fn lab1() {
    same_transcript(
        "lab1",
        "standard",
        "lab1_standard",
        env!("CARGO_BIN_EXE_lab1"),
    );
    same_grade("lab1", env!("CARGO_BIN_EXE_lab1"), &[]);
    same_grade("lab1", env!("CARGO_BIN_EXE_lab1-nonblocking"), &[]);
}

#[test]
fn lab2() {
    same_transcript(
        "lab2",
        "standard",
        "lab2_standard",
        env!("CARGO_BIN_EXE_lab2"),
    );
    same_grade("lab2", env!("CARGO_BIN_EXE_lab2"), &[]);
    same_grade(
        "lab2",
        env!("CARGO_BIN_EXE_lab2-variants"),
        &["--variant", "poll"],
    );
}

#[test]
fn lab3() {
    same_transcript(
        "lab3",
        "standard",
        "lab3_standard",
        env!("CARGO_BIN_EXE_lab3"),
    );
    same_grade("lab3", env!("CARGO_BIN_EXE_lab3"), &[]);
    same_grade(
        "lab3",
        env!("CARGO_BIN_EXE_lab3-variants"),
        &["--variant", "blind-read"],
    );
}

#[test]
fn lab4() {
    same_transcript("lab4", "level", "lab4_level", env!("CARGO_BIN_EXE_lab4"));
    same_transcript("lab4", "edge", "lab4_edge", env!("CARGO_BIN_EXE_lab4"));
    same_grade("lab4", env!("CARGO_BIN_EXE_lab4"), &[]);
    same_grade(
        "lab4",
        env!("CARGO_BIN_EXE_lab4-variants"),
        &["--variant", "edge-once"],
    );
}

#[test]
fn lab5() {
    same_transcript(
        "lab5",
        "standard",
        "lab5_standard",
        env!("CARGO_BIN_EXE_lab5"),
    );
    same_grade("lab5", env!("CARGO_BIN_EXE_lab5"), &[]);
    same_grade(
        "lab5",
        env!("CARGO_BIN_EXE_lab5-variants"),
        &["--variant", "shared-writer"],
    );
}

#[test]
fn lab6() {
    same_transcript(
        "lab6",
        "standard",
        "lab6_standard",
        env!("CARGO_BIN_EXE_lab6"),
    );
    same_grade("lab6", env!("CARGO_BIN_EXE_lab6"), &[]);
    same_grade(
        "lab6",
        env!("CARGO_BIN_EXE_lab6-variants"),
        &["--variant", "no-reap"],
    );
}

#[test]
fn lab7() {
    same_transcript(
        "lab7",
        "standard",
        "lab7_standard",
        env!("CARGO_BIN_EXE_lab7"),
    );
    same_grade("lab7", env!("CARGO_BIN_EXE_lab7"), &[]);
    same_grade(
        "lab7",
        env!("CARGO_BIN_EXE_lab7-variants"),
        &["--variant", "lock-in-read"],
    );
}
