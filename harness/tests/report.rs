//! Reports: the terminal table, Gradescope's results.json (checked against
//! its schema), hidden checks, and the traces kept for every failed check.

mod common;

use common::{grade_program, gradescope_schema, schema_violations};
use iolab::grade::Visibility;
use iolab::report::{RAW_FILE, REFERENCE_FILE, Style, TRANSCRIPT_FILE};
use serde_json::{Value, json};

fn threaded_lab1() -> iolab::grade::Report {
    grade_program("lab1", &common::bin("lab1-threaded"), &[])
}

#[test]
fn results_json_follows_gradescope_schema() {
    let report = threaded_lab1();
    let json = report.gradescope();
    let violations = schema_violations(&gradescope_schema(), &json);
    assert!(violations.is_empty(), "{violations:#?}\n{json:#}");
    assert_eq!(json["score"], json!(report.score()));
    let tests = json["tests"].as_array().expect("tests");
    assert_eq!(tests.len(), report.results.len());
    let max: u64 = tests.iter().map(|t| t["max_score"].as_u64().unwrap()).sum();
    assert_eq!(max, 100);
    for (t, r) in tests.iter().zip(&report.results) {
        let status = if r.verdict.passed { "passed" } else { "failed" };
        assert_eq!(t["status"], json!(status), "{t:#}");
        assert!(t["name"].as_str().unwrap().starts_with(r.id));
        assert_eq!(t["tags"], json!([r.kind.as_str()]));
        if !r.verdict.passed {
            let output = t["output"].as_str().unwrap();
            assert!(output.contains(&r.verdict.message), "{output}");
            assert!(output.contains("hint: "), "{output}");
        }
    }
    assert!(
        json["output"]
            .as_str()
            .unwrap()
            .ends_with("Score: 65/100\n")
    );
}

#[test]
fn the_schema_check_rejects_what_gradescope_would() {
    let schema = gradescope_schema();
    let good = json!({"score": 1, "execution_time": 0.5, "output": "", "tests": [
        {"name": "a", "score": 1, "max_score": 1, "status": "passed", "output": "", "visibility": "visible"}
    ]});
    assert!(schema_violations(&schema, &good).is_empty());
    for (bad, why) in [
        (
            json!({"score": 1, "execution_time": 0.5, "output": ""}),
            "missing tests",
        ),
        (
            json!({"score": 1, "execution_time": 0.5, "output": "", "tests": [
                {"name": "a", "score": 1, "max_score": 1, "status": "ok", "output": "", "visibility": "visible"}
            ]}),
            "is not one of",
        ),
        (
            json!({"score": "1", "execution_time": 0.5, "output": "", "tests": []}),
            "expected number",
        ),
        (
            json!({"score": 1, "execution_time": 0.5, "output": "", "tests": [], "grade": 1}),
            "unexpected property grade",
        ),
    ] {
        let v = schema_violations(&schema, &bad);
        assert!(v.iter().any(|m| m.contains(why)), "{why}: {v:?}");
    }
}

#[test]
fn hidden_checks_are_after_due_date_in_results_json() {
    let lab4 = iolab::labs::find("lab4").unwrap();
    let hidden: Vec<&str> = lab4
        .checks
        .iter()
        .filter(|c| c.visibility == Visibility::AfterDueDate)
        .map(|c| c.id)
        .collect();
    assert_eq!(hidden, ["epollout"]);
    let report = grade_program("lab4", &common::bin("lab4"), &[]);
    let json = report.gradescope();
    assert!(schema_violations(&gradescope_schema(), &json).is_empty());
    for t in json["tests"].as_array().unwrap() {
        let name = t["name"].as_str().unwrap();
        let expected = if name.starts_with("epollout:") {
            "after_due_date"
        } else {
            "visible"
        };
        assert_eq!(t["visibility"], json!(expected), "{name}");
    }
    assert!(
        report.render().contains("epollout: ") && report.render().contains("hidden on Gradescope")
    );
    // What students see before the due date leaves the hidden check out.
    let output = json["output"].as_str().unwrap();
    assert!(!output.contains("epollout"), "{output}");
    assert!(
        output
            .ends_with("Score: 90/90 (and 10 points of hidden checks, shown after the due date)\n"),
        "{output}"
    );
}

#[test]
fn a_failed_hidden_check_stays_out_of_what_students_see_first() {
    let report = grade_program(
        "lab4",
        &common::bin("lab4-variants"),
        &["--variant", "no-epollout"],
    );
    assert_eq!(report.failed(), ["epollout"], "{}", report.render());
    let json = report.gradescope();
    let output = json["output"].as_str().unwrap();
    // (The solution's own command line names the variant.)
    assert!(
        output
            .lines()
            .filter(|l| !l.starts_with("solution: "))
            .all(|l| !l.contains("epollout") && !l.contains("EPOLLOUT")),
        "{output}"
    );
    assert!(
        output
            .ends_with("Score: 90/90 (and 10 points of hidden checks, shown after the due date)\n"),
        "{output}"
    );
    let hidden = json["tests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"].as_str().unwrap().starts_with("epollout:"))
        .unwrap();
    assert_eq!(hidden["status"], json!("failed"));
    assert_eq!(hidden["visibility"], json!("after_due_date"));
    // The instructor's terminal report shows it.
    assert!(report.render().contains("FAIL epollout:"));
}

#[test]
fn results_json_shows_no_path_that_exists_only_where_grading_ran() {
    let mut report = threaded_lab1();
    let dir = tempfile::tempdir().unwrap();
    report.save_artifacts(dir.path()).unwrap();
    assert!(report.render().contains("saved: "));
    let json = report.gradescope();
    let all = json.to_string();
    assert!(
        !all.contains("saved: ") && !all.contains("traces: "),
        "{json:#}"
    );
}

#[test]
fn traces_never_replace_a_directory_iolab_did_not_make() {
    let dir = tempfile::tempdir().unwrap();
    let theirs = dir.path().join("lab1");
    std::fs::create_dir_all(&theirs).unwrap();
    std::fs::write(theirs.join("server.rs"), "fn main() {}").unwrap();
    let mut report = threaded_lab1();
    let err = report.save_artifacts(dir.path()).unwrap_err();
    assert!(err.to_string().contains("not made by iolab"), "{err}");
    assert!(theirs.join("server.rs").is_file());
    assert!(report.artifacts.is_none());
    // A second grade replaces the first one's traces.
    let other = tempfile::tempdir().unwrap();
    let first = report.save_artifacts(other.path()).unwrap().unwrap();
    std::fs::write(first.join("stale"), "").unwrap();
    let again = report.save_artifacts(other.path()).unwrap().unwrap();
    assert_eq!(first, again);
    assert!(!again.join("stale").exists());
    // An earlier iolab's traces (no mark, its own file names) are replaced too.
    let old = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(old.path().join("lab1")).unwrap();
    std::fs::write(old.path().join("lab1/standard.raw.txt"), "").unwrap();
    let replaced = report.save_artifacts(old.path()).unwrap().unwrap();
    assert!(!replaced.join("standard.raw.txt").exists());
    assert!(replaced.join("standard").join(TRANSCRIPT_FILE).is_file());
}

#[test]
fn every_failed_check_keeps_its_scenarios_traces_and_prints_where() {
    let mut report = threaded_lab1();
    let dir = tempfile::tempdir().unwrap();
    let saved = report
        .save_artifacts(dir.path())
        .expect("saved")
        .expect("the scenarios ran");
    assert_eq!(saved, dir.path().join("lab1"));
    assert!(saved.join(iolab::report::MARK_FILE).is_file());
    let text = report.render();
    for r in report.results.iter().filter(|r| !r.verdict.passed) {
        let dirs = report.saved(r);
        assert!(!dirs.is_empty(), "{}: no saved traces", r.id);
        for d in dirs {
            let scenario = d.file_name().unwrap().to_str().unwrap().to_string();
            let run = report
                .runs
                .as_ref()
                .unwrap()
                .all()
                .iter()
                .find(|run| run.outcome.scenario == scenario)
                .expect("a scenario of the lab");
            let transcript = std::fs::read_to_string(d.join(TRANSCRIPT_FILE)).unwrap();
            assert_eq!(transcript, run.transcript.render_with_counts());
            let raw = std::fs::read_to_string(d.join(RAW_FILE)).unwrap();
            assert!(raw.contains("clone"), "{raw:.300}");
            assert!(text.contains(&format!("saved: {}/", d.display())), "{text}");
        }
    }
    // head-of-line reads only the standard scenario; single-task reads both.
    let scenarios = |id: &str| report.result(id).unwrap().scenarios.clone();
    assert_eq!(scenarios("head-of-line"), ["standard"]);
    assert_eq!(scenarios("single-task"), ["standard", "burst"]);
    let reference = std::fs::read_to_string(saved.join("standard").join(REFERENCE_FILE)).unwrap();
    assert_eq!(
        Some(reference.as_str()),
        iolab::reference::transcript("lab1", "standard")
    );
}

#[test]
fn the_table_lists_every_check_and_colour_is_opt_in() {
    let report = threaded_lab1();
    let plain = report.render();
    assert!(!plain.contains('\x1b'), "{plain}");
    for r in &report.results {
        let row = format!("{}: {}", r.id, r.title);
        let line = plain
            .lines()
            .find(|l| l.ends_with(&row))
            .unwrap_or_else(|| panic!("{row}\n{plain}"));
        let mark = if r.verdict.passed { "PASS" } else { "FAIL" };
        assert!(line.trim_start().starts_with(mark), "{line}");
        assert!(
            line.contains(&format!("{}/{}", r.score(), r.points)),
            "{line}"
        );
        assert!(line.contains(r.kind.as_str()), "{line}");
    }
    assert!(plain.contains("why points were lost:"));
    assert!(plain.ends_with("Score: 65/100\n"));
    let coloured = report.render_styled(Style {
        colour: true,
        public: false,
    });
    assert!(coloured.contains("\x1b[32mPASS\x1b[0m"));
    assert!(coloured.contains("\x1b[1;31mFAIL\x1b[0m"));
    assert!(coloured.trim_end().ends_with("Score: 65/100\x1b[0m"));
}

#[test]
fn the_summary_table_has_a_row_per_lab_and_the_total() {
    let reports = vec![
        grade_program("lab1", &common::bin("lab1"), &[]),
        threaded_lab1(),
    ];
    let table = iolab::report::summary(
        &reports,
        Style {
            colour: false,
            public: false,
        },
    );
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("lab "), "{table}");
    assert!(
        lines[1].contains("100/100") && lines[1].ends_with("  -"),
        "{table}"
    );
    assert!(
        lines[2].contains("65/100") && lines[2].ends_with("head-of-line, single-task"),
        "{table}"
    );
    assert!(
        lines[3].starts_with("all ") && lines[3].contains("165/200"),
        "{table}"
    );
}

#[test]
fn a_value_is_json() {
    // serde_json round-trips what gradescope() builds (no NaN times).
    let report = threaded_lab1();
    let text = serde_json::to_string(&report.gradescope()).unwrap();
    let back: Value = serde_json::from_str(&text).unwrap();
    assert!(back["execution_time"].as_f64().unwrap() > 0.0);
}
