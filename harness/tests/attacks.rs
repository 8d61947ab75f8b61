//! The attacks of `fixtures/attacks/`, each a lab 1 "solution" that turns
//! on the harness from inside, graded by the `iolab` binary under both
//! backends in the sandbox, as an autograder runs it (root, `--json`).
//!
//! Each grading runs in a throwaway pid namespace of the test's own
//! (`unshare --pid --fork --kill-child`), so an attack that got out could
//! not reach the test runner. Each must fail: the harness ends by itself
//! within its limits with the program's score (0: none of them serves),
//! `results.json` is the harness's own, no secret of the harness's
//! environment appears in any output, the harness's binary is unchanged,
//! nothing of the program is left running or allocated on the machine, and
//! an attack that can tell what it got (its last line, `escaped: ...`) got
//! nothing.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::root;

/// What an autograder keeps in its environment, which no program may see.
const SECRET: &str = "s3cret-of-the-autograder";

/// The marks of everything the attack may have changed on the machine.
#[derive(Debug, PartialEq)]
struct Machine {
    /// The `iolab` binary's inode, size and modification time.
    iolab: (u64, u64, std::time::SystemTime),
    tcp_wmem: String,
    /// SysV shared memory segments, by key.
    shm_keys: Vec<String>,
}

fn machine() -> Machine {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(env!("CARGO_BIN_EXE_iolab")).expect("the iolab binary");
    let shm = std::fs::read_to_string("/proc/sysvipc/shm").unwrap_or_default();
    Machine {
        iolab: (meta.ino(), meta.len(), meta.modified().unwrap()),
        tcp_wmem: std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem").unwrap(),
        shm_keys: shm
            .lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().next().map(str::to_string))
            .collect(),
    }
}

/// Grades `fixtures/attacks/<attack>.py` under each backend and checks
/// that it got nothing.
fn attack(attack: &str) {
    assert!(
        Command::new("unshare").arg("--help").output().is_ok(),
        "these tests need util-linux's unshare (apt-get install util-linux)"
    );
    let script = root().join("fixtures/attacks").join(format!("{attack}.py"));
    assert!(script.is_file(), "no {}", script.display());
    // Another submission, left where a class's gradings might leave one.
    let other = tempfile::Builder::new()
        .prefix("iolab-other-submission-")
        .tempdir_in("/tmp")
        .expect("a directory in /tmp");
    std::fs::write(other.path().join("work.txt"), "another student's work\n").unwrap();
    for backend in ["native", "strace"] {
        let before = machine();
        let dir = tempfile::tempdir().expect("a temporary directory");
        let json = dir.path().join("results.json");
        let mark = format!("iolab-attack-{attack}-{backend}-{}", std::process::id());
        let solution = format!("python3 {} {mark}", script.display());
        let out = assert_cmd::Command::new("unshare")
            .args(["--pid", "--fork", "--kill-child", "--mount-proc", "--"])
            .arg(env!("CARGO_BIN_EXE_iolab"))
            .args(["grade", "1", "--backend", backend, "--solution", &solution])
            .arg("--json")
            .arg(&json)
            .arg("--traces")
            .arg(dir.path().join("traces"))
            .current_dir(root())
            .env("AUTOGRADER_SECRET", SECRET)
            .env_remove("IOLAB_SANDBOX")
            .timeout(Duration::from_secs(180))
            .output()
            .expect("unshare runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let shown = format!("{attack} under {backend}:\n{stdout}\n{stderr}");
        assert_eq!(out.status.code(), Some(1), "{shown}");
        assert!(stdout.contains("\nsandbox: pid, mount"), "{shown}");
        let scores: Vec<&str> = stdout
            .lines()
            .filter(|l| l.starts_with("Score: "))
            .collect();
        assert_eq!(scores, ["Score: 0/100"], "{shown}");
        let result = std::fs::read_to_string(&json).expect("the harness wrote results.json");
        let parsed: serde_json::Value = serde_json::from_str(&result).expect("valid JSON");
        assert_eq!(parsed["score"].as_f64(), Some(0.0), "{shown}\n{result}");
        assert!(
            parsed["tests"].as_array().is_some_and(|t| !t.is_empty()),
            "{shown}\n{result}"
        );
        for text in [&stdout[..], &stderr[..], &result[..]] {
            assert!(!text.contains(SECRET), "the secret got out: {shown}");
        }
        let left = common::processes_with("cmdline", |argv| argv.contains(&mark.as_bytes()));
        assert!(left.is_empty(), "left running: {left:?}\n{shown}");
        assert!(
            !Path::new(&format!("/tmp/iolab-poison-{mark}")).exists(),
            "files left in /tmp: {shown}"
        );
        assert_eq!(machine(), before, "the machine changed: {shown}");
        // An attack that can tell says, last, what it got.
        let says = std::fs::read_to_string(&script)
            .unwrap()
            .contains("\"escaped:\"");
        assert!(
            !says || stdout.contains("escaped: none"),
            "it got something: {shown}"
        );
    }
}

#[test]
fn signalling_the_harness_reaches_nothing() {
    attack("signal_harness");
}

#[test]
fn tracing_the_harness_or_writing_into_its_output_fails() {
    attack("trace_harness");
}

#[test]
fn an_untraced_survivor_dies_with_the_grading() {
    attack("survivor");
}

#[test]
fn lines_written_for_strace_never_reach_the_trace() {
    attack("strace_output");
}

#[test]
fn io_the_trace_cannot_see_is_refused() {
    attack("io_uring");
}

#[test]
fn a_process_hidden_from_the_trace_voids_the_grade() {
    attack("untraced_helper");
}

#[test]
fn what_a_program_must_not_read_is_not_there() {
    attack("read_secrets");
}

#[test]
fn poisoning_the_machine_or_locking_a_forgery_fails() {
    attack("poison");
}

#[test]
fn the_program_has_no_privilege_of_roots() {
    attack("privileges");
}
