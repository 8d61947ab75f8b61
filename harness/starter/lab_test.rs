//! Grades your labN solution, exactly as `make labN` does: `cargo test labN`
//! runs this test alone, `cargo test` every lab's.
//!
//! It grades the program built from `server.rs`, or the command line in
//! the file `solution` of this folder, when there is one (`./server`,
//! `python3 server.py`: it runs in this folder). The test passes once the
//! solution gets full marks; until then it fails with the whole report:
//! the score, the checks that lost points, the trace lines that show why,
//! and a hint for each. A transcript that differs from the reference is
//! shown in the report, and is never a failure by itself.
//!
//! (`iolab starter` wrote this file from `harness/starter/lab_test.rs`.)

#[test]
fn labN_full_marks() {
    let report = iolab::solution::grade_lab(
        "labN",
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")),
        std::path::Path::new(env!("CARGO_BIN_EXE_labN")),
    )
    .unwrap_or_else(|e| panic!("labN could not be graded: {e}"));
    assert!(
        report.full_marks(),
        "labN has {}/{} points, not full marks yet:\n\n{}",
        report.score(),
        report.max(),
        report.render()
    );
}
