//! Lab 4 graded end to end, in both modes: the reference and an alternative
//! correct solution (`SOCK_NONBLOCK`, `accept4`, `epoll_pwait`, tokens as
//! event data, `EPOLLRDHUP`) get full marks, both modes' transcripts match
//! their snapshots every run, and every known-wrong variant under
//! `labs/lab4/variants.rs` fails exactly the checks it was written to fail.

#[path = "../../../harness/tests/common/mod.rs"]
mod common;

use common::{assert_fails, assert_full_marks, assert_snapshot, grade_program, stable_transcript};
use iolab::grade::Report;
use iolab::normalize::side_by_side;

const LAB: &str = "lab4";

fn variant(name: &str) -> Report {
    grade_program(
        LAB,
        env!("CARGO_BIN_EXE_lab4-variants"),
        &["--variant", name],
    )
}

/// The reference's transcript of scenario `name` (which adds `--trigger`).
fn transcript(name: &str) -> String {
    common::transcript(LAB, name, env!("CARGO_BIN_EXE_lab4"))
}

#[test]
fn reference_solution_gets_full_marks() {
    assert_full_marks(&grade_program(LAB, env!("CARGO_BIN_EXE_lab4"), &[]));
}

#[test]
fn alternative_solution_gets_full_marks() {
    assert_full_marks(&variant("alt"));
}

/// An epoll instance that never watched a server socket (a runtime's
/// start-up probe) is not a second instance (issue 22).
#[test]
fn a_start_up_probe_is_not_a_second_epoll_instance() {
    assert_full_marks(&variant("probe"));
}

#[test]
fn both_modes_match_their_snapshots_every_run() {
    for mode in ["level", "edge"] {
        let text = stable_transcript(LAB, mode, env!("CARGO_BIN_EXE_lab4"));
        assert_snapshot(&format!("lab4_{mode}"), &text);
    }
}

#[test]
fn side_by_side_shows_the_re_report_against_the_drain() {
    let text = side_by_side(
        ("level", &transcript("level")),
        ("edge", &transcript("edge")),
    );
    // In the step where A sends 12 KiB: level re-reports C1 while edge
    // drains it to EAGAIN, on the same rows.
    let rows: Vec<&str> = text.lines().collect();
    assert!(
        rows.iter().any(
            |r| r.starts_with("epoll_wait(EP, [{EPOLLIN, C1}], 64, -1) = 1")
                && r.contains("| read(C1, ")
        ),
        "{text}"
    );
    assert!(
        rows.iter()
            .any(|r| r.contains("| read(C1, 0x…, 4096) = -1 EAGAIN")),
        "{text}"
    );
}

/// Edge-triggered, one accept per report of the listener: the clients
/// queued at one edge would wait (issue 23). The trace shows it in every
/// run: no accept failed with EAGAIN before the next epoll_wait.
#[test]
fn accepting_once_per_edge_event_leaves_clients_queued() {
    assert_fails(
        &variant("accept-once"),
        &[(
            "edge-drains",
            "the server accepted once and went back to epoll_wait without an accept failing with EAGAIN",
        )],
    );
}

#[test]
fn reading_once_per_edge_event_leaves_data_unread() {
    assert_fails(
        &variant("edge-once"),
        &[
            (
                "edge-drains",
                "the server read C1 once and went back to epoll_wait without reaching EAGAIN",
            ),
            ("large-reply", "client A sent 12288 bytes in one go"),
            ("epollout", "in edge-burst"),
        ],
    );
    let report = variant("edge-once");
    let evidence = &report.result("edge-drains").unwrap().verdict.evidence;
    assert!(
        evidence[0].contains("epoll_wait(EP, [{EPOLLIN, C1}]"),
        "{evidence:?}"
    );
    assert!(evidence[1].contains("read(C1, "), "{evidence:?}");
    // Issue 23: large-reply names the mode and points at the reads, not
    // at partial writes.
    let large = &report.result("large-reply").unwrap().verdict;
    assert!(
        large
            .message
            .starts_with("in edge-triggered (--trigger edge) mode (scenario \"edge\")"),
        "{large:?}"
    );
    assert!(
        large.message.contains("read until read fails with EAGAIN"),
        "{large:?}"
    );
    assert!(
        large.evidence.iter().any(|l| l.contains("read(C1, ")),
        "{large:?}"
    );
}

#[test]
fn a_zero_timeout_fails_only_idle_epoll() {
    assert_fails(
        &variant("zero-timeout"),
        &[("idle-epoll", "epoll_wait(EP, [], 64, 0) = 0")],
    );
}

#[test]
fn draining_in_level_mode_hides_the_re_report() {
    assert_fails(
        &variant("level-drains"),
        &[(
            "level-rereports",
            "never reported the same connection twice in a row",
        )],
    );
}

#[test]
fn keeping_a_closed_connection_fails_only_ctl_del() {
    assert_fails(
        &variant("no-del"),
        &[("ctl-del", "read on C1 returned 0 (the client closed)")],
    );
}

#[test]
fn retrying_a_full_socket_fails_only_epollout() {
    assert_fails(
        &variant("no-epollout"),
        &[("epollout", "no connection was registered for EPOLLOUT")],
    );
}

#[test]
fn edge_triggered_registration_in_level_mode_fails_ctl_add() {
    assert_fails(
        &variant("et-in-level"),
        &[
            ("ctl-add", "{EPOLLIN|EPOLLET, data=C1}"),
            ("large-reply", "client A sent 12288 bytes in one go"),
            ("epollout", "in level-burst"),
        ],
    );
}

/// Both backends give the snapshot scenario the same transcript, and grade
/// the reference and a known-wrong variant alike.
#[test]
fn parity() {
    common::same_transcript("lab4", "level", "lab4_level", env!("CARGO_BIN_EXE_lab4"));
    common::same_transcript("lab4", "edge", "lab4_edge", env!("CARGO_BIN_EXE_lab4"));
    common::same_grade("lab4", env!("CARGO_BIN_EXE_lab4"), &[]);
    common::same_grade(
        "lab4",
        env!("CARGO_BIN_EXE_lab4-variants"),
        &["--variant", "edge-once"],
    );
}
