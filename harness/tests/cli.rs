//! The `iolab` command line: grading, tracing, and clear errors with the
//! documented exit codes (0 full score, 1 points lost, 2 usage or harness
//! error) for bad input, leaving no process behind.

mod common;

use assert_cmd::Command;

/// `iolab`, keeping its traces in a directory of this test's own (tests
/// run in parallel; `target/iolab` is for people).
fn iolab() -> Command {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let traces = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("cli-traces-{}-{n}", std::process::id()));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_iolab"));
    cmd.env("IOLAB_TRACES", traces);
    cmd
}

/// The rows of a report's table that are marked `mark` (PASS or FAIL).
fn rows(text: &str, mark: &str) -> usize {
    text.lines()
        .filter(|l| {
            let mut words = l.split_whitespace();
            words.next() == Some(mark) && words.next().is_some_and(|w| w.contains('/'))
        })
        .count()
}

/// Fails if any process still runs the given executable.
fn assert_no_process_runs(exe: &str) {
    let left = common::processes_with("cmdline", |argv| argv.first() == Some(&exe.as_bytes()));
    assert!(left.is_empty(), "processes of {exe} still run: {left:?}");
}

fn stdout_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn grade_lab1_prints_every_check_and_full_score() {
    let out = iolab().args(["grade", "lab1"]).output().unwrap();
    let text = stdout_of(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert_eq!(rows(&text, "PASS"), 6, "{text}");
    assert!(!text.contains('\x1b'), "no colour into a pipe: {text}");
    assert!(text.trim_end().ends_with("Score: 100/100"), "{text}");
}

#[test]
fn grade_a_wrong_solution_exits_1_with_explanations() {
    let exe = &common::bin("lab1-threaded");
    let out = iolab()
        .args(["grade", "lab1", "--solution", exe])
        .output()
        .unwrap();
    let text = stdout_of(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert_eq!(rows(&text, "FAIL"), 2, "{text}");
    assert!(text.contains("trace:"), "{text}");
    assert!(text.contains("hint:"), "{text}");
    assert!(text.contains("saved: "), "{text}");
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
    let exe = &common::bin("lab1");
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

/// Runs `iolab ARGS` to the end and returns its output and peak RSS in KiB
/// (its own and its waited-for descendants', from wait4).
fn run_measured(args: &[&str], env: &[(&str, &str)]) -> (String, i32, i64) {
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("out.txt");
    let out = std::fs::File::create(&out_path).unwrap();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_iolab"));
    command
        .args(args)
        .env("IOLAB_TRACES", dir.path().join("traces"))
        .stdout(out)
        .stderr(std::process::Stdio::null());
    for (k, v) in env {
        command.env(k, v);
    }
    // Waited for below with wait4, which also gives its resource usage.
    #[allow(clippy::zombie_processes)]
    let child = command.spawn().unwrap();
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value (plain integers).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: wait4 writes the status and the rusage through pointers to
    // live locals; the pid is our own child, not yet waited for.
    let r = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(r, child.id() as i32, "wait4 failed");
    let code = std::process::ExitStatus::from_raw(status)
        .code()
        .unwrap_or(-1);
    let text = std::fs::read_to_string(&out_path).unwrap();
    (text, code, usage.ru_maxrss)
}

#[test]
fn gigabytes_of_output_do_not_grow_iolab() {
    let exe = env!("CARGO_BIN_EXE_hostile-flood-output");
    let solution = format!("{exe} --gib 2");
    // The listen limit is raised so that a loaded machine, slower to push
    // 4 GiB through the pipes, still gets to the part this tests.
    let (text, code, max_rss_kib) = run_measured(
        &[
            "grade",
            "lab1",
            "--solution",
            &solution,
            "--limit",
            "listen=60s",
        ],
        &[],
    );
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains(
            "it wrote 2 GiB to stdout and 2 GiB to stderr; iolab kept the first 64 KiB of each"
        ),
        "{text}"
    );
    assert!(
        max_rss_kib < 64 * 1024,
        "iolab's peak memory was {max_rss_kib} KiB while 4 GiB of output went through it"
    );
    assert_no_process_runs(exe);
}

#[test]
fn a_daemon_is_killed_without_a_cgroup_too() {
    let exe = env!("CARGO_BIN_EXE_hostile-daemon");
    let (text, code, _) = run_measured(
        &["grade", "lab1", "--solution", exe],
        &[("IOLAB_CGROUP", "0")],
    );
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("exited with 0 before it listened"), "{text}");
    assert!(
        text.contains("must stay in the foreground and not daemonize"),
        "{text}"
    );
    assert!(text.contains("none left running"), "{text}");
    assert_no_process_runs(exe);
}

#[test]
fn a_fork_bomb_is_stopped_without_a_cgroup_too() {
    let exe = env!("CARGO_BIN_EXE_hostile-fork-bomb");
    let started = std::time::Instant::now();
    let (text, code, _) = run_measured(
        &["grade", "lab1", "--limit", "tasks=32", "--solution", exe],
        &[("IOLAB_CGROUP", "0")],
    );
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("more than 32 threads and processes at once (the tasks limit)"),
        "{text}"
    );
    assert!(text.contains("none left running"), "{text}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "{text}"
    );
    assert_no_process_runs(exe);
}

#[test]
fn a_bad_limit_is_a_usage_error() {
    let out = iolab()
        .args(["grade", "lab1", "--limit", "memory=lots"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot read \"lots\" as a size"), "{err}");
}

#[test]
fn grade_json_writes_gradescope_results() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.json");
    let exe = &common::bin("lab1-threaded");
    let out = iolab()
        .args(["grade", "lab1", "--solution", exe, "--json"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stdout_of(&out));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let violations = common::schema_violations(&common::gradescope_schema(), &json);
    assert!(violations.is_empty(), "{violations:?}");
    assert_eq!(json["score"], serde_json::json!(65));
}

#[test]
fn grade_all_prints_one_summary_table() {
    let out = iolab().args(["grade", "all"]).output().unwrap();
    let text = stdout_of(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("lab ") && lines[0].contains("protocol"),
        "{text}"
    );
    let labs = iolab::labs::all();
    for lab in &labs {
        let row = lines
            .iter()
            .find(|l| l.starts_with(&format!("{} ", lab.id)))
            .unwrap_or_else(|| panic!("no row for {}:\n{text}", lab.id));
        assert!(row.contains("100/100") && row.ends_with("  -"), "{row}");
    }
    let total = format!("{0}/{0}", 100 * labs.len());
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("all ") && l.contains(&total)),
        "{text}"
    );
    assert!(
        !text.contains("Score:"),
        "one table, not one report per lab: {text}"
    );
}

#[test]
fn grade_all_takes_no_solution() {
    let out = iolab()
        .args(["grade", "all", "--solution", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("every lab's own solution"));
}

#[test]
fn explain_prints_the_three_axes_first_then_evidence() {
    let lab3 = &common::bin("lab3");
    let out = iolab().args(["explain", "--", lab3]).output().unwrap();
    let text = stdout_of(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.starts_with(
            "io: select\nconcurrency: single\nlock: none\n\nevidence for io: select\n"
        ),
        "{text}"
    );
    assert!(text.contains("select("), "{text}");
    assert_no_process_runs(lab3);
}

#[test]
fn explain_reports_a_server_that_never_listens() {
    let exe = env!("CARGO_BIN_EXE_bad-exit-early");
    let out = iolab().args(["explain", "--", exe]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("exited with 3 before it listened"), "{err}");
    let missing = iolab()
        .args(["explain", "--", "/no/such/server"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot run"));
}
