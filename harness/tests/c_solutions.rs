//! Solutions in C, as most students write them: each file in `fixtures/c/`
//! compiled with the system's `cc` (with the flags its header names) and
//! graded like the Rust references. The right ones get full marks, each
//! wrong one fails the check it was written to fail, with the calls that
//! show why.

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
