//! `iolab explain` names the I/O model of every lab's solution and of
//! servers that were not written as lab solutions (Python's socketserver
//! and selectors), each answer backed by transcript lines.

mod common;

use common::{backend, python, python_fixture};
use iolab::explain::{Explanation, explain};
use iolab::scenario::Limits;
use iolab::tracer::Spec;

fn probe(program: &str, args: &[&str]) -> Explanation {
    let spec = Spec::new(program, args.iter().copied()).with_backend(backend());
    let (explanation, run) =
        explain(&spec, &Limits::default()).unwrap_or_else(|e| panic!("{program} {args:?}: {e}"));
    common::assert_nothing_left_by(&run.outcome.accounting, program);
    explanation
}

/// The answers, as `iolab explain` prints its first three lines.
fn answers(e: &Explanation) -> String {
    e.render().lines().take(3).collect::<Vec<_>>().join("\n")
}

fn assert_model(e: &Explanation, io: &str, concurrency: &str, lock: &str) {
    let expected = format!("io: {io}\nconcurrency: {concurrency}\nlock: {lock}");
    assert_eq!(answers(e), expected, "{}", e.render());
    // Every settled answer shows the trace lines behind it.
    for a in [&e.io, &e.concurrency] {
        assert!(!a.evidence.is_empty(), "no evidence:\n{}", e.render());
    }
}

fn lab(name: &str) -> String {
    format!(
        "{}/{name}",
        env!("CARGO_BIN_EXE_iolab").rsplit_once('/').unwrap().0
    )
}

#[test]
fn lab1_is_blocking_and_single() {
    assert_model(&probe(&lab("lab1"), &[]), "blocking", "single", "none");
}

#[test]
fn lab2_is_nonblocking_polling() {
    let e = probe(&lab("lab2"), &[]);
    assert_model(&e, "nonblocking-polling", "single", "none");
    assert!(
        e.io.evidence.iter().any(|l| l.contains("EAGAIN")),
        "{}",
        e.render()
    );
}

#[test]
fn lab3_is_select() {
    assert_model(&probe(&lab("lab3"), &[]), "select", "single", "none");
}

#[test]
fn lab4_is_epoll_level_or_edge_as_asked() {
    let level = probe(&lab("lab4"), &["--trigger", "level"]);
    assert_model(&level, "epoll-level", "single", "none");
    let edge = probe(&lab("lab4"), &["--trigger", "edge"]);
    assert_model(&edge, "epoll-edge", "single", "none");
    assert!(
        edge.io.evidence.iter().any(|l| l.contains("EPOLLET")),
        "{}",
        edge.render()
    );
}

#[test]
fn lab5_is_a_thread_per_connection_and_no_lock_shows() {
    let e = probe(&lab("lab5"), &[]);
    assert_model(&e, "blocking", "thread-per-connection", "unsure");
    assert!(e.lock.why.contains("did not take turns"), "{}", e.render());
}

#[test]
fn lab6_is_prefork() {
    assert_model(&probe(&lab("lab6"), &[]), "blocking", "prefork", "none");
}

#[test]
fn lab7_is_threads_behind_a_global_lock() {
    let e = probe(&lab("lab7"), &[]);
    assert_model(&e, "blocking", "thread-per-connection", "global");
    assert!(
        e.lock.evidence.iter().any(|l| l.contains("futex")),
        "{}",
        e.render()
    );
}

#[test]
fn a_wrapper_that_starts_the_server_is_not_part_of_its_model() {
    // `sh -c 'SERVER; true'` forks the server instead of exec'ing it.
    let script = format!("{}; true", lab("lab1"));
    assert_model(&probe("sh", &["-c", &script]), "blocking", "single", "none");
}

fn probe_python(name: &str) -> Explanation {
    let script = python_fixture(name);
    probe(python(), &["-B", &script])
}

#[test]
fn python_threading_tcp_server_is_thread_per_connection() {
    let e = probe_python("socketserver_threading");
    assert_model(&e, "blocking", "thread-per-connection", "unsure");
}

#[test]
fn python_forking_tcp_server_is_process_per_connection() {
    let e = probe_python("socketserver_forking");
    assert_model(&e, "blocking", "process-per-connection", "none");
}

#[test]
fn python_selectors_server_is_epoll_level() {
    assert_model(
        &probe_python("selectors_echo"),
        "epoll-level",
        "single",
        "none",
    );
}

#[test]
fn python_thread_pool_is_a_thread_pool() {
    assert_model(
        &probe_python("lab5_pool"),
        "blocking",
        "thread-pool",
        "unsure",
    );
}

#[test]
fn python_select_with_a_zero_timeout_is_select_that_polls() {
    let e = probe_python("lab3_busy");
    assert_model(&e, "select", "single", "none");
    assert!(e.io.why.contains("never sleeps"), "{}", e.render());
}

#[test]
fn a_server_that_never_reads_leaves_the_axes_it_cannot_settle_unsure() {
    let e = probe(&lab("hostile-never-read"), &[]);
    assert_eq!(e.concurrency.value, "unsure", "{}", e.render());
    assert!(
        e.concurrency.why.contains("read no connection"),
        "{}",
        e.render()
    );
    assert!(
        e.render()
            .contains("evidence for concurrency: unsure\n  - "),
        "{}",
        e.render()
    );
}

/// A fixture server of the shape a real one takes (`fixtures/servers/`).
fn server(name: &str) -> String {
    lab(&format!("server-{name}"))
}

#[test]
fn a_master_that_naps_in_an_empty_select_is_not_a_select_server() {
    // Apache's prefork master: `select(0, NULL, NULL, NULL, {1, 0})` while
    // its workers `poll` the listener and their clients.
    let e = probe(&server("prefork-nap"), &[]);
    assert_model(&e, "poll", "prefork", "none");
    assert!(
        !e.io.evidence.iter().any(|l| l.contains("select")),
        "{}",
        e.render()
    );
}

#[test]
fn a_splice_out_of_a_connection_reads_it() {
    // Go's io.Copy between connections: splice into a pipe and back.
    let e = probe(&server("splice-echo"), &[]);
    assert_model(&e, "blocking", "thread-per-connection", "unsure");
    assert!(e.io.why.contains("plain splice"), "{}", e.render());
    assert!(
        e.concurrency
            .evidence
            .iter()
            .any(|l| l.contains("splice(C1")),
        "{}",
        e.render()
    );
}

#[test]
fn event_loops_that_include_the_first_task_are_a_thread_pool() {
    // haproxy's nbthread loops: each its own epoll holding the listener,
    // the first task running one of them.
    let e = probe(&server("event-loops"), &[]);
    assert_model(&e, "epoll-level", "thread-pool", "unsure");
}

#[test]
fn threads_sharing_one_epoll_are_a_thread_pool_whichever_serves() {
    // The serving thread changes from one event to the next: three runs,
    // one answer.
    for _ in 0..3 {
        let e = probe(&server("shared-epoll"), &[]);
        // The lock axis too: the pool's threads could each have served,
        // so one run's luck (one thread served all) is not "none".
        assert_model(&e, "epoll-level", "thread-pool", "unsure");
        // Evidence in the order it happened: a pool thread's creation
        // comes before the connections it serves.
        let ev = &e.concurrency.evidence;
        let created = ev.iter().position(|l| l.contains("clone"));
        let accepted = ev.iter().position(|l| l.contains("accept"));
        assert!(
            matches!((created, accepted), (Some(c), Some(a)) if c < a),
            "{}",
            e.render()
        );
    }
}
