//! A solution graded as students start it: through a pyenv-like shim that
//! forks subshells before it execs, `sh -c` with and without `exec`, a
//! launcher with threads that runs the server as its child (like `cargo
//! run`, `go run`), and `cargo run` itself. A correct solution scores full
//! marks however it was started, with the same transcript; a wrong one
//! fails the same checks; a launcher that takes part in serving is graded
//! with the server, and the report says why.

mod common;

use common::{assert_fails, assert_full_marks, bin, grade_program, python, python_fixture, root};
use iolab::grade::Report;

/// The pyenv-like shim.
fn shim() -> String {
    root()
        .join("fixtures/launchers/shim.sh")
        .to_string_lossy()
        .into_owned()
}

/// Full marks, the launcher named, and every transcript the reference's.
fn assert_graded_alike(report: &Report, launcher: &str) {
    assert_full_marks(report);
    let by = report
        .launched_by()
        .unwrap_or_else(|| panic!("no launcher named; report:\n{}", report.render()));
    assert!(
        by.contains(launcher),
        "launched by {by:?}, not {launcher:?}"
    );
    assert!(
        report.render().contains(&format!("launched by: {by}")),
        "{}",
        report.render()
    );
    for c in &report.reference {
        assert_eq!(c.difference, None, "{}: {}", c.scenario, c.describe());
    }
}

#[test]
fn a_shim_that_forks_before_it_execs_is_left_out() {
    let report = grade_program("lab1", &shim(), &[&bin("lab1")]);
    assert_graded_alike(&report, "shim.sh");
    assert!(
        report.render().contains("other processes it ran"),
        "the shim's subshells are counted: {}",
        report.render()
    );
}

#[test]
fn a_launcher_with_threads_that_runs_the_server_as_a_child_is_left_out() {
    let report = grade_program("lab1", &bin("launcher-runner"), &[&bin("lab1")]);
    assert_graded_alike(&report, "launcher-runner");
}

#[test]
fn a_launcher_with_a_socket_of_its_own_is_still_a_launcher() {
    let report = grade_program(
        "lab1",
        &bin("launcher-runner"),
        &["--own-socket", &bin("lab1")],
    );
    assert_graded_alike(&report, "launcher-runner");
}

#[test]
fn sh_c_with_and_without_exec_grade_alike() {
    for command in [format!("exec {}", bin("lab1")), bin("lab1")] {
        let report = grade_program("lab1", "/bin/sh", &["-c", &command]);
        assert_graded_alike(&report, "sh");
    }
}

#[test]
fn a_python_server_through_a_shim_gets_full_marks() {
    let report = grade_program(
        "lab1",
        &shim(),
        &[python(), &python_fixture("lab1_blocking")],
    );
    assert_full_marks(&report);
    assert!(report.launched_by().is_some_and(|l| l.contains("shim.sh")));
}

#[test]
fn a_wrong_server_through_a_launcher_fails_as_it_does_alone() {
    let report = grade_program("lab1", &bin("launcher-runner"), &[&bin("lab1-threaded")]);
    assert_fails(
        &report,
        &[
            ("head-of-line", "B was served concurrently"),
            ("single-task", "CLONE_THREAD"),
        ],
    );
}

#[test]
fn processes_and_sigterm_reach_the_server_through_a_launcher() {
    // Lab 6: a pre-forking server, stopped by SIGTERM to its first process,
    // which here is the launcher's child, not the launcher.
    for (program, args) in [
        (bin("launcher-runner"), vec![bin("lab6")]),
        ("/bin/sh".to_string(), vec!["-c".to_string(), bin("lab6")]),
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let report = grade_program("lab6", &program, &args);
        assert_full_marks(&report);
        assert!(report.launched_by().is_some(), "{}", report.render());
    }
}

#[test]
fn a_thread_per_connection_server_through_a_launcher_gets_full_marks() {
    let report = grade_program("lab5", &bin("launcher-runner"), &[&bin("lab5")]);
    assert_graded_alike(&report, "launcher-runner");
}

#[test]
fn a_launcher_that_binds_a_socket_is_graded_with_the_server() {
    let report = grade_program(
        "lab1",
        &bin("launcher-runner"),
        &["--binds-too", &bin("lab1")],
    );
    let text = report.render();
    assert_eq!(report.launched_by(), None, "{text}");
    assert!(
        text.contains("called bind() itself: a launcher only forks, execs and waits, so iolab graded it with the server"),
        "{text}"
    );
    // Its process and threads are the server's now: one task no more.
    assert_eq!(report.failed(), vec!["single-task"], "{text}");
}

#[test]
fn cargo_run_grades_like_the_binary() {
    // `cargo run` of the lab's own package: cargo finds it built already.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let manifest = root().join("Cargo.toml");
    let manifest = manifest.to_string_lossy();
    let report = grade_program(
        "lab1",
        &cargo,
        &[
            "run",
            "-q",
            "--offline",
            "--manifest-path",
            &manifest,
            "-p",
            "lab1",
            "--",
        ],
    );
    assert_graded_alike(&report, "cargo");
}

/// The Java fixtures, compiled once into this test run's own directory.
fn java_classes() -> String {
    static CLASSES: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    CLASSES
        .get_or_init(|| {
            let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("java-fixtures");
            std::fs::create_dir_all(&out).expect("a directory for the classes");
            let sources: Vec<std::path::PathBuf> = std::fs::read_dir(root().join("fixtures/java"))
                .expect("fixtures/java")
                .map(|e| e.expect("an entry").path())
                .filter(|p| p.extension().is_some_and(|e| e == "java"))
                .collect();
            let status = std::process::Command::new("javac")
                .arg("-d")
                .arg(&out)
                .args(&sources)
                .status()
                .unwrap_or_else(|e| {
                    panic!(
                        "these tests grade Java fixtures and need javac on PATH (apt install openjdk-17-jdk-headless; `make test` installs it): {e}"
                    )
                });
            assert!(status.success(), "javac failed on fixtures/java");
            out.to_string_lossy().into_owned()
        })
        .clone()
}

/// Grades a Java fixture class with room for the JVM's address space.
fn grade_java(id: &str, class: &str) -> Report {
    let mut lab = common::lab(id);
    lab.limits.resources.address_space = 16 << 30;
    let classes = java_classes();
    let spec = common::spec("java", &["-cp", &classes, class]);
    let report = iolab::grade::grade(&lab, &spec, class, &lab.limits).expect("the harness runs");
    common::assert_nothing_left(&report, class);
    report
}

#[test]
fn a_jvms_own_threads_are_noticed_not_counted() {
    // Lab 1 in Java: one thread serves; the JVM starts a dozen more (GC,
    // JIT compilers, the reference handler) and runs `main` on a thread of
    // its own, not the process's first.
    let report = grade_java("lab1", "Lab1Blocking");
    assert_full_marks(&report);
    assert!(
        report.findings.iter().any(
            |f| matches!(f, iolab::findings::Finding::HelperThreads { tasks } if tasks.len() >= 5)
        ),
        "{}",
        report.render()
    );
}

#[test]
fn a_java_thread_per_connection_server_gets_full_marks() {
    assert_full_marks(&grade_java("lab5", "Lab5Threads"));
}
