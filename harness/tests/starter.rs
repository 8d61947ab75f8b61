//! Trees built from this one. Starter trees: `iolab starter` writes the
//! project without the lab solutions; the tree builds, every lab scores 0
//! with "not implemented yet", and nothing a student tree holds (an edited
//! snapshot, insta's force-pass settings and environment) changes a grade.
//! And a lab is a folder: a copy of `labs/lab1` renamed inside is a new lab.
//! In a starter tree `cargo test` grades the student's labs: `cargo test
//! lab1` fails with lab 1's report until lab 1 has full marks, whether from
//! `server.rs` or from the command in `labs/lab1/solution`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// A target directory of its own for each tree built here, kept between
/// runs so that later runs rebuild only what changed. Two trees must never
/// share one: cargo gives a workspace's own packages the same artifact
/// names wherever the workspace is, so one tree's build would overwrite the
/// other's (and its build script's output).
fn target_for(tree: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{tree}-target"))
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

/// Copies the tree at `from` to `to`, without build output and version
/// control, replacing `from_name` by `to_name` in names and contents when
/// given.
fn copy_tree(from: &Path, to: &Path, rename: Option<(&str, &str)>) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let mut name = entry.file_name().to_string_lossy().into_owned();
        if ["target", ".git"].contains(&name.as_str()) {
            continue;
        }
        if let Some((a, b)) = rename {
            name = name.replace(a, b);
        }
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&path, &to.join(&name), rename);
        } else {
            let bytes = std::fs::read(&path).unwrap();
            let bytes = match (rename, String::from_utf8(bytes)) {
                (Some((a, b)), Ok(text)) => text.replace(a, b).into_bytes(),
                (_, Ok(text)) => text.into_bytes(),
                (_, Err(e)) => e.into_bytes(),
            };
            std::fs::write(to.join(&name), bytes).unwrap();
        }
    }
}

#[test]
fn a_copied_lab_folder_is_a_new_lab() {
    // The acceptance test of "a lab is a folder": `labs/lab1` copied to
    // `labs/lab99`, with `lab1` renamed to `lab99` inside the copy only, is
    // listed and graded; nothing outside the folder changes.
    let tree = Path::new(env!("CARGO_TARGET_TMPDIR")).join("lab-copy-tree");
    if tree.exists() {
        std::fs::remove_dir_all(&tree).unwrap();
    }
    copy_tree(Path::new(ROOT), &tree, None);
    copy_tree(
        &tree.join("labs/lab1"),
        &tree.join("labs/lab99"),
        Some(("lab1", "lab99")),
    );
    let target = target_for("lab-copy");
    // The harness, and the new lab's solution and variants.
    for build in [
        &["-p", "iolab", "--bin", "iolab"][..],
        &["-p", "lab99", "--bins"],
    ] {
        let out = cargo()
            .current_dir(&tree)
            .env("CARGO_TARGET_DIR", &target)
            .args(["build", "--quiet"])
            .args(build)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "the tree with lab 99 does not build ({build:?}):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let iolab = target.join("debug/iolab");
    let out = Command::new(&iolab).arg("labs").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert!(out.status.success(), "{out:?}");
    assert!(
        lines.first().is_some_and(|l| l.starts_with("lab1 "))
            && lines.last().is_some_and(|l| l.starts_with("lab99 ")),
        "lab 99 is listed after the others:\n{text}"
    );
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(&iolab)
        .env("IOLAB_TRACES", dir.path())
        .args(["grade", "lab99"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.trim_end().ends_with("Score: 100/100"), "{text}");
    assert!(text.contains("lab99"), "the report names lab 99:\n{text}");
}

fn iolab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_iolab"))
}

fn write_starter(dest: &Path) {
    let out = iolab()
        .args(["starter", "--from", ROOT, "--dest"])
        .arg(dest)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let labs = iolab::labs::all().len();
    assert!(
        text.contains(&format!("{labs} labs replaced by todo!()")),
        "{text}"
    );
}

#[test]
fn the_starter_tree_builds_and_every_lab_is_not_implemented_yet() {
    let dir = tempfile::tempdir().unwrap();
    // Always the same place, rewritten each run with the files' own dates,
    // so that cargo rebuilds only what changed since the last run.
    let tree = Path::new(env!("CARGO_TARGET_TMPDIR")).join("starter-tree");
    if tree.exists() {
        std::fs::remove_dir_all(&tree).unwrap();
    }
    write_starter(&tree);
    // Same layout, same harness and snapshots; the solutions cut out.
    for same in [
        "harness/src/grade.rs",
        "snapshots/lab1_standard.snap",
        "Makefile",
        "labs/lab3/README.md",
    ] {
        assert_eq!(
            std::fs::read(tree.join(same)).unwrap(),
            std::fs::read(Path::new(ROOT).join(same)).unwrap(),
            "{same}"
        );
    }
    assert!(!tree.join("target").exists() && !tree.join(".git").exists());
    // Lab 1's server.rs is newer than any build of it: the last run ended
    // with the reference solution built from it (student_tests_grade_lab1),
    // and the starter's copy keeps the older date of the instructor's.
    std::fs::File::options()
        .write(true)
        .open(tree.join("labs/lab1/server.rs"))
        .and_then(|f| f.set_modified(std::time::SystemTime::now()))
        .unwrap();
    // The variants, solutions in disguise, are left out, with their targets
    // and the tests that run them.
    // Each lab's test is the student's: one test, named after the lab,
    // that grades the lab's solution.
    let labs = iolab::labs::all();
    let template = std::fs::read_to_string(Path::new(ROOT).join(iolab::starter::LAB_TEST)).unwrap();
    for lab in &labs {
        for variants in ["variants.rs", "variants"] {
            let path = format!("labs/{}/{variants}", lab.id);
            assert!(!tree.join(&path).exists(), "{path}");
        }
        let manifest =
            std::fs::read_to_string(tree.join(format!("labs/{}/Cargo.toml", lab.id))).unwrap();
        assert!(!manifest.contains("variants"), "{manifest}");
        assert!(manifest.contains("server.rs"), "{manifest}");
        let block = format!(
            "[[test]]\nname = \"{0}\"\npath = \"tests/{0}.rs\"\n",
            lab.id
        );
        assert_eq!(manifest.matches("[[test]]").count(), 1, "{manifest}");
        assert!(manifest.contains(&block), "{manifest}");
        let tests: Vec<_> = std::fs::read_dir(tree.join(format!("labs/{}/tests", lab.id)))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(tests, [format!("{}.rs", lab.id).as_str()], "{}", lab.id);
        let test =
            std::fs::read_to_string(tree.join(format!("labs/{0}/tests/{0}.rs", lab.id))).unwrap();
        assert_eq!(test, template.replace("labN", lab.id), "{}", lab.id);
        assert!(
            test.contains(&format!("fn {}_full_marks()", lab.id)),
            "{test}"
        );
    }
    assert!(tree.join("labs/lab1/rubric.rs").exists());
    assert!(!tree.join("fixtures/python/lab3_select.py").exists());
    assert!(tree.join("fixtures/python/selectors_echo.py").exists());
    let manifest = std::fs::read_to_string(tree.join("Cargo.toml")).unwrap();
    assert!(!manifest.contains("harness/tests/cli.rs"), "{manifest}");
    assert!(manifest.contains("harness/tests/tracer.rs"), "{manifest}");
    for lab in &labs {
        let n = &lab.id[3..];
        let server = std::fs::read_to_string(tree.join(format!("labs/lab{n}/server.rs"))).unwrap();
        assert!(
            server.contains(&format!("todo!(\"{{}}\", \"lab {n}: ")),
            "lab{n}:\n{server}"
        );
        assert!(!server.contains("SOLUTION"), "lab{n} kept a marker");
        assert!(!server.contains("fn write_all("), "lab{n} kept a helper");
    }
    // Build it, in a target directory of its own that later runs reuse.
    let target = target_for("starter");
    let mut build = cargo();
    // Every binary, as `make lab1` builds them.
    build
        .current_dir(&tree)
        .env("CARGO_TARGET_DIR", &target)
        .args(["build", "--quiet", "--workspace", "--bins"]);
    let out = build.output().unwrap();
    assert!(
        out.status.success(),
        "the starter tree does not build:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Its tests: the harness's own, which pass, and one per lab, which
    // fails with the lab's report until the lab has full marks.
    let out = cargo()
        .current_dir(&tree)
        .env("CARGO_TARGET_DIR", &target)
        .args(["test", "--no-fail-fast"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let results = test_results(&text);
    let failed: Vec<&str> = results
        .iter()
        .filter(|(_, r)| r != "ok")
        .map(|(t, _)| t.as_str())
        .collect();
    let expected: Vec<String> = labs
        .iter()
        .map(|l| format!("{}_full_marks", l.id))
        .collect();
    assert_eq!(
        failed,
        expected,
        "in the starter tree, the labs' tests and only they fail:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        results.len() > 2 * labs.len(),
        "the harness's own tests ran:\n{text}"
    );
    assert!(!out.status.success());
    for lab in &labs {
        assert!(text.contains(&format!("iolab {} — ", lab.id)), "{text}");
    }
    assert_eq!(
        text.matches("error: not implemented yet").count(),
        labs.len(),
        "{text}"
    );
    for lab in &labs {
        let n = &lab.id[3..];
        let out = Command::new(target.join("debug/iolab"))
            .current_dir(&tree)
            .env("IOLAB_TRACES", dir.path().join("traces"))
            .args(["grade", &format!("lab{n}")])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "lab{n}:\n{text}");
        assert!(
            text.contains("error: not implemented yet"),
            "lab{n}:\n{text}"
        );
        assert!(
            text.contains(&format!("lab {n}: ")),
            "lab{n}: the handout's instruction:\n{text}"
        );
        assert!(text.trim_end().ends_with("Score: 0/100"), "lab{n}:\n{text}");
        assert!(text.contains("none left running"), "lab{n}:\n{text}");
        let rows = text
            .lines()
            .filter(|l| l.trim_start().starts_with("FAIL "))
            .count();
        assert!(rows >= 5, "lab{n}: every check fails:\n{text}");
    }
    student_tests_grade_lab1(&tree, &target);
}

/// Each `test NAME ... RESULT` line of libtest's output, in order.
fn test_results(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("test ")?.split_once(" ... "))
        .map(|(name, result)| (name.to_string(), result.trim().to_string()))
        .collect()
}

/// `cargo test lab1` in the starter `tree`: its exit status and output.
fn cargo_test_lab1(tree: &Path, target: &Path) -> (bool, String) {
    let out = cargo()
        .current_dir(tree)
        .env("CARGO_TARGET_DIR", target)
        .args(["test", "lab1"])
        .output()
        .unwrap();
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // One test ran, and it was lab 1's: no other lab's, none of the harness's.
    let ran: Vec<String> = test_results(&text).into_iter().map(|(t, _)| t).collect();
    assert_eq!(ran, ["lab1_full_marks"], "{text}");
    (out.status.success(), text)
}

/// In the starter tree: `cargo test lab1` fails with lab 1's report;
/// passes with a Python solution named in `labs/lab1/solution`, which
/// `make lab1` grades too (its transcript differs from the reference's,
/// which is shown and not scored); and passes with the reference
/// `server.rs` copied in.
fn student_tests_grade_lab1(tree: &Path, target: &Path) {
    let (passed, text) = cargo_test_lab1(tree, target);
    assert!(!passed, "{text}");
    for needed in [
        "lab1 has 0/100 points, not full marks yet",
        "iolab lab1 — ",
        "error: not implemented yet",
        "Score: 0/100",
    ] {
        assert!(text.contains(needed), "{needed}:\n{text}");
    }
    // A solution in Python, named in labs/lab1/solution and run there.
    let lab1 = tree.join("labs/lab1");
    let python = Path::new(ROOT).join("fixtures/python");
    std::fs::copy(python.join("lab1_blocking.py"), lab1.join("server.py")).unwrap();
    std::fs::copy(python.join("common.py"), lab1.join("common.py")).unwrap();
    let file = lab1.join(iolab::solution::FILE);
    std::fs::write(
        &file,
        format!("# my lab 1, in Python\n{} server.py\n", common::python()),
    )
    .unwrap();
    let (passed, text) = cargo_test_lab1(tree, target);
    assert!(passed, "{text}");
    let out = Command::new("make")
        .current_dir(tree)
        .env("CARGO_TARGET_DIR", target)
        .arg(format!("IOLAB={}", target.join("debug/iolab").display()))
        .arg("lab1")
        .output()
        .unwrap_or_else(|e| panic!("this test runs `make lab1` and needs make on PATH: {e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for needed in [
        "server.py (the command in labs/lab1/solution, run in labs/lab1/)",
        "standard: differs from the reference",
        "Score: 100/100",
    ] {
        assert!(text.contains(needed), "{needed}:\n{text}");
    }
    for f in [&file, &lab1.join("server.py"), &lab1.join("common.py")] {
        std::fs::remove_file(f).unwrap();
    }
    // The reference solution in server.rs.
    let server = lab1.join("server.rs");
    std::fs::write(
        &server,
        std::fs::read(Path::new(ROOT).join("labs/lab1/server.rs")).unwrap(),
    )
    .unwrap();
    let (passed, text) = cargo_test_lab1(tree, target);
    assert!(passed, "{text}");
}

#[test]
fn the_starter_tree_carries_the_student_docs_only() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("student");
    write_starter(&tree);
    // The docs for instructors and harness developers are left out.
    for gone in ["docs/instructors", "docs/harness", "BENCHMARKS.md"] {
        assert!(!tree.join(gone).exists(), "{gone} is in the starter tree");
    }
    assert_eq!(
        iolab::starter::NOT_FOR_STUDENTS,
        ["docs/instructors", "docs/harness", "BENCHMARKS.md"]
    );
    // The student docs are there, as they are.
    let students = Path::new(ROOT).join("docs/students");
    let mut docs = 0;
    for entry in std::fs::read_dir(&students).unwrap() {
        let name = entry.unwrap().file_name();
        let rel = Path::new("docs/students").join(&name);
        assert_eq!(
            std::fs::read(tree.join(&rel)).ok(),
            std::fs::read(students.join(&name)).ok(),
            "{}",
            rel.display()
        );
        docs += 1;
    }
    assert!(docs >= 4, "{docs} student docs");
    // The README keeps its set-up and labs, and loses every mention of the
    // docs left out, with the markers of the region that held them.
    let readme = std::fs::read_to_string(tree.join("README.md")).unwrap();
    for kept in [
        "make lab1",
        "cargo test",
        "| 1 | blocking I/O",
        "docs/students/reading-a-report.md",
    ] {
        assert!(readme.contains(kept), "{kept}:\n{readme}");
    }
    for gone in [
        "docs/instructors",
        "docs/harness",
        "(BENCHMARKS.md)",
        "NOT IN STARTER",
    ] {
        assert!(!readme.contains(gone), "{gone}:\n{readme}");
    }
    // No Markdown file of the tree links to a file it does not hold:
    // checked here, on what was written, and not only by the starter.
    let mut markdown = Vec::new();
    let mut dirs = vec![tree.clone()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                markdown.push(path);
            }
        }
    }
    assert!(markdown.len() >= 12, "{markdown:?}");
    let root = tree.canonicalize().unwrap();
    for file in &markdown {
        let text = std::fs::read_to_string(file).unwrap();
        assert!(!text.contains("NOT IN STARTER"), "{}", file.display());
        for (line, target) in iolab::starter::relative_links(&text) {
            let to = file.parent().unwrap().join(&target);
            assert!(
                to.exists() && to.canonicalize().unwrap().starts_with(&root),
                "{}:{line}: {target} is not in the starter tree",
                file.display()
            );
        }
    }
    assert_eq!(iolab::starter::dangling_links(&tree).unwrap(), []);
}

#[test]
fn starter_refuses_a_used_destination_and_a_tree_that_is_not_iolab() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("x"), "").unwrap();
    let out = iolab()
        .args(["starter", "--from", ROOT, "--dest"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists and is not empty"));
    let empty = tempfile::tempdir().unwrap();
    let out = iolab()
        .args(["starter", "--from"])
        .arg(empty.path())
        .arg("--dest")
        .arg(dir.path().join("new"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not the iolab tree"));
}

#[test]
fn starter_refuses_a_destination_inside_the_tree_and_creates_nothing() {
    let inside = Path::new(ROOT).join(format!("student-{}", std::process::id()));
    let out = iolab()
        .args(["starter", "--from", ROOT, "--dest"])
        .arg(&inside)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("choose a directory elsewhere"));
    assert!(!inside.exists(), "{} was created", inside.display());
}

/// Grades `solution` for lab 1 with the instructor's iolab from `cwd` with
/// extra environment; returns the report text and results.json.
fn grade_from(
    cwd: &Path,
    env: &[(&str, &str)],
    solution: &str,
    traces: &Path,
) -> (String, serde_json::Value) {
    let json = traces.join(format!("results-{}.json", env.len()));
    let out = iolab()
        .current_dir(cwd)
        .envs(env.iter().copied())
        .env("IOLAB_TRACES", traces)
        .args(["grade", "lab1", "--solution", solution, "--json"])
        .arg(&json)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let results =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("results.json")).unwrap();
    (text, results)
}

/// The parts of a report that are the grade (not times, pids or paths).
fn grade_of(
    text: &str,
    json: &serde_json::Value,
) -> (Vec<String>, serde_json::Value, Vec<serde_json::Value>) {
    let lines = text
        .lines()
        .filter(|l| {
            l.contains("PASS")
                || l.contains("FAIL")
                || l.contains("reference")
                || l.starts_with("Score:")
        })
        .map(str::to_string)
        .collect();
    let tests = json["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| serde_json::json!([t["name"], t["score"], t["status"], t["visibility"]]))
        .collect();
    (lines, json["score"].clone(), tests)
}

#[test]
fn a_student_tree_cannot_change_a_grade() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("student");
    write_starter(&tree);
    let traces = dir.path().join("traces");
    std::fs::create_dir_all(&traces).unwrap();
    // What a student might try: force insta to pass, accept anything, and
    // make the reference snapshot say what their server does.
    let force = "behavior:\n  force_pass: true\n  update: always\n";
    std::fs::write(tree.join(".insta.yaml"), force).unwrap();
    std::fs::write(tree.join("insta.yaml"), force).unwrap();
    let snap = tree.join("snapshots/lab1_standard.snap");
    std::fs::write(&snap, "---\nsource: harness/tests/common/mod.rs\nexpression: transcript\n---\n== main ==\nwhatever my server does\n").unwrap();
    let cheats = [
        ("INSTA_FORCE_PASS", "1"),
        ("INSTA_UPDATE", "always"),
        ("INSTA_WORKSPACE_ROOT", tree.to_str().unwrap()),
    ];
    for solution in [&common::bin("lab1"), &common::bin("lab1-threaded")] {
        let (honest, honest_json) = grade_from(Path::new(ROOT), &[], solution, &traces);
        let (cheating, cheating_json) = grade_from(&tree, &cheats, solution, &traces);
        assert_eq!(
            grade_of(&honest, &honest_json),
            grade_of(&cheating, &cheating_json),
            "{honest}\n---\n{cheating}"
        );
        assert!(
            cheating.contains("reference (snapshots/lab1_standard.snap)"),
            "{cheating}"
        );
    }
    let (reference, _) = grade_from(&tree, &cheats, &common::bin("lab1"), &traces);
    assert!(
        reference.contains("standard: the same as the reference"),
        "{reference}"
    );
    assert!(
        reference.trim_end().ends_with("Score: 100/100"),
        "{reference}"
    );
    // The edited snapshot is still there: grading did not rewrite it either.
    assert!(
        std::fs::read_to_string(&snap)
            .unwrap()
            .contains("whatever my server does")
    );
    let _ = common::backend();
}
