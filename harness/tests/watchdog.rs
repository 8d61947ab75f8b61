//! The watchdog (`iolab::watchdog`): `iolab grade` is two processes, the
//! watchdog and, its child, the harness. A harness that is stopped (here by
//! the test, as anything outside the sandbox could) is killed at the
//! grading's bound (`--limit grade=`), with everything it ran, and the
//! grading ends with a clear error and a zero `results.json`; signals sent
//! to `iolab` reach the harness, and leave nothing behind either; nor does
//! a killed harness without a sandbox or cgroups. Each runs under both
//! backends at once.

mod common;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// A lab 1 "solution" that never listens, marked so it can be found.
fn sleeper(mark: &str) -> String {
    format!(
        "{} -c 'import time; time.sleep(120)' {mark}",
        common::python()
    )
}

/// The program under test, once it runs: waits for a process whose argv
/// holds `mark`, as long as `iolab` is running. Fails the test if `iolab`
/// ended first.
fn wait_for_program(iolab: &mut Child, mark: &str, dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while common::processes_with("cmdline", |argv| argv.contains(&mark.as_bytes())).is_empty() {
        if let Some(status) = iolab.try_wait().unwrap() {
            panic!(
                "iolab ended ({status}) before the program ran:\n{}\n{}",
                std::fs::read_to_string(dir.join("stdout")).unwrap_or_default(),
                std::fs::read_to_string(dir.join("stderr")).unwrap_or_default()
            );
        }
        assert!(Instant::now() < deadline, "the program never ran");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The harness: the watchdog's one child.
fn harness_of(watchdog: &Child) -> i32 {
    let pid = watchdog.id();
    let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .expect("the watchdog's children");
    let pids: Vec<i32> = children
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(pids.len(), 1, "the watchdog has one child, the harness");
    pids[0]
}

/// Waits for `iolab` to end by itself, at most `bound`; kills it and
/// fails the test if it does not. Its output is in `dir` (files, so that a
/// survivor holding them open cannot hang the test).
fn ended_within(iolab: &mut Child, bound: Duration, dir: &Path) -> Output {
    let deadline = Instant::now() + bound;
    while iolab.try_wait().unwrap().is_none() {
        if Instant::now() >= deadline {
            let _ = iolab.kill();
            panic!("iolab did not end within {bound:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Output {
        status: iolab.wait().unwrap(),
        stdout: std::fs::read(dir.join("stdout")).unwrap(),
        stderr: std::fs::read(dir.join("stderr")).unwrap(),
    }
}

/// Nothing of the run is left: no process with `mark` in its argv (they
/// die as their tracer does, within a moment), no cgroup of the harness.
fn assert_nothing_left(mark: &str, harness: i32, shown: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = common::processes_with("cmdline", |argv| argv.contains(&mark.as_bytes()));
        if left.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "left running: {left:?}\n{shown}");
        std::thread::sleep(Duration::from_millis(10));
    }
    let groups = cgroups_named(&format!("-{harness}-"));
    assert!(groups.is_empty(), "cgroups left: {groups:?}\n{shown}");
}

/// The cgroups beside this test's own whose name holds `part`.
fn cgroups_named(part: &str) -> Vec<String> {
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let Some(path) = own.lines().find_map(|l| l.strip_prefix("0::")) else {
        return Vec::new();
    };
    let dir = std::path::Path::new("/sys/fs/cgroup").join(path.trim_start_matches('/'));
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| name.starts_with("iolab-") && name.contains(part))
                .collect()
        })
        .unwrap_or_default()
}

fn start(backend: &str, solution: &str, extra: &[&str], dir: &Path) -> Child {
    let file = |name| std::fs::File::create(dir.join(name)).expect("an output file");
    Command::new(env!("CARGO_BIN_EXE_iolab"))
        .args(["grade", "1", "--backend", backend, "--solution", solution])
        .args(extra)
        .arg("--traces")
        .arg(dir.join("traces"))
        .current_dir(common::root())
        .env_remove("IOLAB_SANDBOX")
        .stdin(Stdio::null())
        .stdout(file("stdout"))
        .stderr(file("stderr"))
        .spawn()
        .expect("iolab starts")
}

/// Runs `test` under each backend at once, and fails if either failed.
fn under_both(test: fn(&str)) {
    let runs: Vec<_> = ["native", "strace"]
        .into_iter()
        .map(|backend| (backend, std::thread::spawn(move || test(backend))))
        .collect();
    for (backend, run) in runs {
        assert!(run.join().is_ok(), "under {backend}: see the panic above");
    }
}

#[test]
fn a_stopped_harness_is_killed_at_the_gradings_bound() {
    under_both(stopped);
}

fn stopped(backend: &str) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("results.json");
    let mark = format!("iolab-watchdog-stopped-{backend}-{}", std::process::id());
    let mut iolab = start(
        backend,
        &sleeper(&mark),
        &["--limit", "grade=15s", "--json", json.to_str().unwrap()],
        dir.path(),
    );
    wait_for_program(&mut iolab, &mark, dir.path());
    let harness = harness_of(&iolab);
    kill(Pid::from_raw(harness), Signal::SIGSTOP).unwrap();
    // Stopped, the harness would hold the grading forever; the program
    // sleeps two minutes.
    let out = ended_within(&mut iolab, Duration::from_secs(90), dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let shown = format!(
        "{backend}:\n{}\n{stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(out.status.code(), Some(2), "{shown}");
    assert!(
        stderr.contains("did not end within its bound of 15 s")
            && stderr.contains("watchdog killed the harness"),
        "{shown}"
    );
    let result = std::fs::read_to_string(&json).expect("the watchdog wrote results.json");
    let parsed: serde_json::Value = serde_json::from_str(&result).expect("valid JSON");
    assert_eq!(parsed["score"].as_f64(), Some(0.0), "{result}");
    assert!(
        parsed["output"]
            .as_str()
            .is_some_and(|o| o.contains("watchdog killed the harness")),
        "{result}"
    );
    let violations = common::schema_violations(&common::gradescope_schema(), &parsed);
    assert!(violations.is_empty(), "{violations:?}\n{result}");
    assert!(!common::running(harness), "the harness still runs");
    assert_nothing_left(&mark, harness, &shown);
}

#[test]
fn a_signal_sent_to_iolab_ends_the_harness_and_everything_it_ran() {
    under_both(terminated);
}

fn terminated(backend: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mark = format!("iolab-watchdog-term-{backend}-{}", std::process::id());
    let mut iolab = start(backend, &sleeper(&mark), &[], dir.path());
    wait_for_program(&mut iolab, &mark, dir.path());
    let harness = harness_of(&iolab);
    kill(Pid::from_raw(iolab.id() as i32), Signal::SIGTERM).unwrap();
    let out = ended_within(&mut iolab, Duration::from_secs(60), dir.path());
    let shown = format!(
        "{backend}:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The harness died of the SIGTERM forwarded to it: 128 + 15.
    assert_eq!(out.status.code(), Some(143), "{shown}");
    assert_nothing_left(&mark, harness, &shown);
}

#[test]
fn unsandboxed_and_without_cgroups_a_killed_harness_leaves_nothing() {
    // The fences that are left: PTRACE_O_EXITKILL, and the watchdog as the
    // subreaper of what a killed harness (strace) leaves.
    under_both(|backend| {
        let dir = tempfile::tempdir().unwrap();
        let mark = format!("iolab-watchdog-bare-{backend}-{}", std::process::id());
        let mut iolab = Command::new(env!("CARGO_BIN_EXE_iolab"))
            .args(["grade", "1", "--backend", backend, "--sandbox", "off"])
            .args(["--limit", "grade=15s", "--solution", &sleeper(&mark)])
            .arg("--traces")
            .arg(dir.path().join("traces"))
            .current_dir(common::root())
            .env("IOLAB_CGROUP", "0")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.path().join("stdout")).unwrap())
            .stderr(std::fs::File::create(dir.path().join("stderr")).unwrap())
            .spawn()
            .expect("iolab starts");
        wait_for_program(&mut iolab, &mark, dir.path());
        let harness = harness_of(&iolab);
        kill(Pid::from_raw(harness), Signal::SIGSTOP).unwrap();
        let out = ended_within(&mut iolab, Duration::from_secs(90), dir.path());
        let shown = format!("{backend}:\n{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(2), "{shown}");
        assert_nothing_left(&mark, harness, &shown);
    });
}
