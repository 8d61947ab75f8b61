//! Hostile and broken programs (`fixtures/hostile/`): whatever a solution
//! does, grading ends in bounded time, leaves no process behind (by the
//! harness's own accounting and by the process table), and the report says
//! what happened in words a student understands.

mod common;

use std::time::{Duration, Instant};

use iolab::grade::{Report, grade};
use iolab::limits::Limit;
use iolab::scenario::OUTPUT_CAP;

/// A graded hostile run: the report, and how long grading took.
struct Run {
    report: Report,
    text: String,
    elapsed: Duration,
}

/// Grades `program args` as a lab 1 solution under `limits` (lab 1's own,
/// with these `NAME=VALUE` changes), then checks that nothing it started
/// still runs: every traced process is gone, the harness counted none left,
/// and no process in the table carries this run's mark in its environment
/// (which also finds processes the tracer never saw).
fn grade_hostile(program: &str, args: &[&str], limits: &[&str]) -> Run {
    grade_hostile_in(program, args, limits, iolab::sandbox::Mode::Auto)
}

/// As [`grade_hostile`], sandboxed as `sandbox` says.
fn grade_hostile_in(
    program: &str,
    args: &[&str],
    limits: &[&str],
    sandbox: iolab::sandbox::Mode,
) -> Run {
    let lab = common::lab("lab1");
    let mut bounds = lab.limits.clone();
    for l in limits {
        bounds.set(l.parse::<Limit>().expect("a valid limit"));
    }
    bounds.sandbox = sandbox;
    let mark = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let spec = common::spec(program, args).with_env("IOLAB_TEST_MARK", &mark);
    let shown = format!("{program} {}", args.join(" "));
    let started = Instant::now();
    let report = grade(&lab, &spec, &shown, &bounds).expect("the harness runs");
    let elapsed = started.elapsed();
    eprintln!("graded {shown} in {elapsed:.2?}");
    let text = report.render();
    common::assert_nothing_left(&report, &shown);
    common::record_grade(&report);
    let needle = format!("IOLAB_TEST_MARK={mark}");
    let marked = common::processes_with("environ", |env| env.contains(&needle.as_bytes()));
    assert!(
        marked.is_empty(),
        "{shown}: processes carrying the run's mark still exist: {marked:?}\n{text}"
    );
    Run {
        report,
        text,
        elapsed,
    }
}

fn assert_within(run: &Run, bound: Duration) {
    assert!(
        run.elapsed <= bound,
        "grading took {:?}, more than {bound:?}:\n{}",
        run.elapsed,
        run.text
    );
}

fn assert_says(run: &Run, needle: &str) {
    assert!(
        run.text.contains(needle),
        "expected {needle:?} in the report:\n{}",
        run.text
    );
}

fn assert_score(run: &Run, score: u32) {
    assert_eq!(run.report.score(), score, "{}", run.text);
}

/// How much longer than its limit a bounded run may take: stopping the
/// server (the SIGTERM grace), killing and reaping everything.
const MARGIN: Duration = Duration::from_secs(5);

#[test]
fn an_endless_loop_before_listening_times_out_with_the_cpu_named() {
    let run = grade_hostile(
        env!("CARGO_BIN_EXE_hostile-spin-before-listen"),
        &[],
        &["listen=2s"],
    );
    assert_says(&run, "did not listen on a socket within 2 s");
    assert_says(&run, "it was computing, outside any system call");
    assert_says(&run, "a loop that never reaches listen()");
    assert_score(&run, 0);
    assert_within(&run, Duration::from_secs(2) + MARGIN);
}

#[test]
fn the_cpu_limit_kills_an_endless_loop_and_is_named() {
    let run = grade_hostile(
        env!("CARGO_BIN_EXE_hostile-spin-before-listen"),
        &[],
        &["cpu=1s", "listen=20s"],
    );
    assert_says(&run, "killed by SIGXCPU before it listened");
    assert_says(&run, "used up its 1 s of CPU time (the cpu limit)");
    assert_within(&run, Duration::from_secs(2) + MARGIN);
}

#[test]
fn a_server_that_never_reads_fails_the_replies_in_bounded_time() {
    let run = grade_hostile(env!("CARGO_BIN_EXE_hostile-never-read"), &[], &["time=10s"]);
    assert_says(&run, "expected 5 bytes, got 0");
    assert!(run.report.score() < 100, "{}", run.text);
    // Two scenarios, each bounded by its time limit.
    assert_within(&run, 2 * Duration::from_secs(10) + MARGIN);
}

#[test]
fn a_fork_bomb_is_stopped_at_the_task_limit() {
    let run = grade_hostile(env!("CARGO_BIN_EXE_hostile-fork-bomb"), &[], &["tasks=64"]);
    assert_says(
        &run,
        "more than 64 threads and processes at once (the tasks limit)",
    );
    assert_says(&run, "a fork or thread bomb?");
    assert_score(&run, 0);
    assert!(
        run.report.accounting.processes.len() > 64,
        "the harness counted {} processes:\n{}",
        run.report.accounting.processes.len(),
        run.text
    );
    assert_within(&run, Duration::from_secs(10) + MARGIN);
}

#[test]
fn a_thread_bomb_mid_scenario_is_stopped_at_the_task_limit() {
    let run = grade_hostile(
        env!("CARGO_BIN_EXE_hostile-thread-bomb"),
        &[],
        &["tasks=64"],
    );
    assert_says(
        &run,
        "more than 64 threads and processes at once (the tasks limit)",
    );
    assert!(run.report.score() < 100, "{}", run.text);
    assert_within(&run, 2 * Duration::from_secs(10) + MARGIN);
}

#[test]
fn a_memory_bomb_runs_out_at_the_memory_limit() {
    let run = grade_hostile(
        env!("CARGO_BIN_EXE_hostile-memory-bomb"),
        &[],
        &["memory=512M"],
    );
    assert_says(&run, "it ran out of memory");
    assert_says(&run, "at the 512 MiB memory limit");
    assert!(run.report.score() < 100, "{}", run.text);
    assert_within(&run, 2 * Duration::from_secs(10) + MARGIN);
}

#[test]
fn gigabytes_of_output_are_read_and_dropped_past_the_cap() {
    // Writing 4 GiB through pipes before listening takes seconds, and
    // more on a loaded machine: what is tested is that they are read and
    // dropped, so the listen limit is not what ends the run.
    let run = grade_hostile(
        env!("CARGO_BIN_EXE_hostile-flood-output"),
        &["--gib", "2"],
        &["listen=60s"],
    );
    assert_says(&run, "it wrote 2 GiB to stdout and 2 GiB to stderr");
    assert_says(&run, "iolab kept the first 64 KiB of each");
    // The flood is before it listens; after that it is the reference.
    assert_score(&run, 100);
    for r in run.report.runs.as_ref().expect("the scenarios ran").all() {
        assert!(r.outcome.stdout.len() <= OUTPUT_CAP);
        assert!(r.outcome.stderr.len() <= OUTPUT_CAP);
    }
}

#[test]
fn a_server_that_ignores_sigterm_is_killed() {
    let run = grade_hostile(env!("CARGO_BIN_EXE_hostile-ignore-sigterm"), &[], &[]);
    assert_score(&run, 100);
    let transcripts: Vec<String> = run
        .report
        .runs
        .as_ref()
        .expect("the scenarios ran")
        .all()
        .iter()
        .map(|r| r.transcript.render())
        .collect();
    assert!(
        transcripts.iter().all(|t| t.contains("killed by SIGKILL")),
        "SIGTERM was ignored, so SIGKILL must end it:\n{}",
        transcripts.join("\n")
    );
}

#[test]
fn a_daemon_that_escapes_with_setsid_and_double_fork_is_reported_and_killed() {
    let run = grade_hostile(env!("CARGO_BIN_EXE_hostile-daemon"), &[], &[]);
    assert_says(&run, "exited with 0 before it listened");
    assert_says(&run, "running in the background");
    assert_says(&run, "must stay in the foreground and not daemonize");
    assert_score(&run, 0);
}

#[test]
fn a_server_that_closes_its_stdout_is_still_found_and_graded() {
    let run = grade_hostile(
        env!("CARGO_BIN_EXE_hostile-close-stdout"),
        &["--mode", "close"],
        &[],
    );
    assert_score(&run, 100);
}

#[test]
fn a_server_that_redirects_its_output_is_still_found_and_graded() {
    let run = grade_hostile(
        env!("CARGO_BIN_EXE_hostile-close-stdout"),
        &["--mode", "redirect"],
        &[],
    );
    assert_score(&run, 100);
}

#[test]
fn ptrace_traceme_fails_and_the_report_says_why() {
    let run = grade_hostile(env!("CARGO_BIN_EXE_hostile-traceme"), &[], &[]);
    assert_says(&run, "exited with 1 before it listened");
    assert_says(&run, "a debugger is attached, refusing to run");
    assert_says(
        &run,
        "it called ptrace(PTRACE_TRACEME), which failed with EPERM",
    );
    assert_says(&run, "solutions must not use ptrace");
}

#[test]
fn a_child_that_attaches_to_its_parent_fails_and_is_killed() {
    let run = grade_hostile(env!("CARGO_BIN_EXE_hostile-attach-parent"), &[], &[]);
    assert_says(
        &run,
        "it called ptrace(PTRACE_ATTACH), which failed with EPERM",
    );
    // Lab 1 is one process: the child alone costs that check.
    assert_eq!(run.report.failed(), vec!["single-task"], "{}", run.text);
}

#[test]
fn exec_into_a_program_that_never_listens_is_named() {
    let run = grade_hostile(env!("CARGO_BIN_EXE_hostile-exec"), &[], &["listen=2s"]);
    assert_says(&run, "did not listen on a socket within 2 s");
    assert_says(&run, "it replaced itself with another program: execve(");
    assert_says(&run, "sleep");
    assert_within(&run, Duration::from_secs(2) + MARGIN);
}

#[test]
fn exec_into_a_working_server_is_followed_and_graded() {
    let run = grade_hostile(
        env!("CARGO_BIN_EXE_hostile-exec"),
        &[&common::bin("lab1")],
        &[],
    );
    assert_score(&run, 100);
}

#[test]
fn a_segfault_mid_scenario_is_reported_as_a_crash() {
    let run = grade_hostile(env!("CARGO_BIN_EXE_hostile-segv"), &[], &[]);
    assert_says(&run, "killed by SIGSEGV");
    assert_says(&run, "it crashed with SIGSEGV (a segmentation fault");
    assert!(run.report.score() < 100, "{}", run.text);
}

#[test]
fn a_server_on_every_interface_is_reached_on_loopback() {
    let run = grade_hostile(
        env!("CARGO_BIN_EXE_hostile-listen-addr"),
        &["--bind", "0.0.0.0"],
        &[],
    );
    assert_score(&run, 100);
    assert_says(&run, "it listens on every interface (0.0.0.0:");
}

#[test]
fn an_ipv6_only_server_is_reached_over_ipv6() {
    for addr in ["::1", "::"] {
        let run = grade_hostile(
            env!("CARGO_BIN_EXE_hostile-listen-addr"),
            &["--bind", addr],
            &[],
        );
        assert_score(&run, 100);
        assert_says(&run, "it listens on an IPv6 address ([");
    }
}

#[test]
fn a_port_already_in_use_is_named() {
    // Unsandboxed: a sandboxed server listens in a network namespace of
    // its own, where no other program holds a port (tests/sandbox.rs).
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = taken.local_addr().unwrap().port().to_string();
    let run = grade_hostile_in(
        &common::bin("lab1"),
        &["--port", &port],
        &[],
        iolab::sandbox::Mode::Off,
    );
    assert_says(&run, "exited with 1 before it listened");
    assert_says(
        &run,
        &format!(
            "bind(127.0.0.1:{port}) failed with EADDRINUSE: another program already listens on that port"
        ),
    );
}

#[test]
fn exiting_at_once_with_status_0_is_named() {
    let run = grade_hostile(env!("CARGO_BIN_EXE_hostile-exit-zero"), &[], &[]);
    assert_says(
        &run,
        "the server exited with 0 before it listened on a socket",
    );
    assert_score(&run, 0);
    assert_within(&run, MARGIN);
}
