//! The `iolab` command line: grading, tracing, and clear errors with the
//! documented exit codes (0 full score, 1 points lost, 2 usage or harness
//! error) for bad input, leaving no process behind.

use assert_cmd::Command;

fn iolab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_iolab"))
}

/// Fails if any process still runs the given executable.
fn assert_no_process_runs(exe: &str) {
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let argv0 = cmdline.split(|&b| b == 0).next().unwrap_or_default();
        assert_ne!(
            argv0,
            exe.as_bytes(),
            "a process of {exe} is still running: {:?}",
            entry.path()
        );
    }
}

fn stdout_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn grade_lab1_prints_every_check_and_full_score() {
    let out = iolab().args(["grade", "lab1"]).output().unwrap();
    let text = stdout_of(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert_eq!(text.matches("[PASS]").count(), 6, "{text}");
    assert!(text.trim_end().ends_with("Score: 100/100"), "{text}");
}

#[test]
fn grade_a_wrong_solution_exits_1_with_explanations() {
    let exe = env!("CARGO_BIN_EXE_lab1-threaded");
    let out = iolab()
        .args(["grade", "lab1", "--solution", exe])
        .output()
        .unwrap();
    let text = stdout_of(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("[FAIL]"), "{text}");
    assert!(text.contains("trace:"), "{text}");
    assert!(text.contains("hint:"), "{text}");
    assert!(text.trim_end().ends_with("Score: 65/100"), "{text}");
    assert_no_process_runs(exe);
}

#[test]
fn unknown_lab_is_a_usage_error() {
    let out = iolab().args(["grade", "lab9"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no lab \"lab9\""), "{err}");
    assert!(err.contains("lab1"), "{err}");
}

#[test]
fn missing_binary_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-server");
    let out = iolab()
        .args(["grade", "lab1", "--solution", missing.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot run") && err.contains("No such file"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one-line error expected: {err}");
}

#[test]
fn a_program_that_exits_before_listening_scores_zero() {
    let exe = env!("CARGO_BIN_EXE_bad-exit-early");
    let out = iolab()
        .args(["grade", "lab1", "--solution", exe])
        .output()
        .unwrap();
    let text = stdout_of(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("exited with 3 before it listened"), "{text}");
    assert!(
        text.contains("config error: cannot read server.toml"),
        "{text}"
    );
    assert!(text.trim_end().ends_with("Score: 0/100"), "{text}");
    assert_no_process_runs(exe);
}

#[test]
fn a_program_that_never_listens_times_out_and_is_killed() {
    let exe = env!("CARGO_BIN_EXE_bad-never-listen");
    let started = std::time::Instant::now();
    let out = iolab()
        .args(["grade", "lab1", "--listen-timeout", "1", "--solution", exe])
        .timeout(std::time::Duration::from_secs(30))
        .output()
        .unwrap();
    let text = stdout_of(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("did not listen on a socket within 1 s"),
        "{text}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
    assert_no_process_runs(exe);
}

#[test]
fn solution_arguments_are_passed() {
    let exe = env!("CARGO_BIN_EXE_lab1");
    let out = iolab()
        .args(["grade", "lab1", "--solution", &format!("'{exe}' --port 0")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stdout_of(&out));
}

#[test]
fn trace_prints_a_normalized_transcript() {
    let out = iolab()
        .args(["trace", "--", env!("CARGO_BIN_EXE_tracee-sockets")])
        .output()
        .unwrap();
    let text = stdout_of(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.starts_with("sockets ok\n"),
        "the program's own output comes first: {text}"
    );
    for line in [
        "socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP) = L",
        "listen(L, 16) = 0",
        "connect(S1, {AF_INET, 127.0.0.1:PORT}, 16) = 0",
        "accept4(L, NULL, NULL, SOCK_CLOEXEC) = C1",
        "write(S1, \"ping\", 4) = 4",
        "read(C1, \"ping\", 16) = 4",
        "sendto(C1, \"pong\", 4, MSG_NOSIGNAL, NULL, 0) = 4",
        "bind(S2, {AF_INET6, [::1]:0}, 28) = 0",
        "shutdown(S1, SHUT_WR) = 0",
        "ioctl(C1, FIONBIO, [1]) = 0",
        "+++ exited with 0 +++",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
}

#[test]
fn trace_raw_prints_every_event() {
    let out = iolab()
        .args(["trace", "--raw", "--", "/bin/true"])
        .output()
        .unwrap();
    let text = stdout_of(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("enter execve") || text.contains("exec /"),
        "{text}"
    );
    assert!(text.contains("enter exit_group(0)"), "{text}");
    assert!(text.contains("gone: exited with 0"), "{text}");
}

#[test]
fn trace_of_a_missing_program_is_a_clear_error() {
    let out = iolab()
        .args(["trace", "--", "/no/such/program"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot run `/no/such/program`"));
}

#[test]
fn trace_exit_status_follows_the_program() {
    let out = iolab()
        .args(["trace", "--", "/bin/false"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout_of(&out).contains("+++ exited with 1 +++"));
}
