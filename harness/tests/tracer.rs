//! The native tracer against small programs that exercise the pitfalls of
//! `docs/harness/ptrace-pitfalls.md`: signals passed on, per-thread syscall
//! slots, fork storms and their initial SIGSTOPs, vfork, exec from a
//! non-main thread, restarted syscalls, parallel traces in one process, and
//! killing all.
//! They run under the suite's backend (`IOLAB_BACKEND`), so the strace
//! backend meets the same pitfalls.

use std::time::Duration;

use iolab::normalize::normalize;
use iolab::trace::{Arg, EventKind, Ret, SpawnKind, Termination, Trace};
use iolab::tracer::Tracer;

mod common;
use common::{running, spec};

/// Traces a program to its end, bounded in time.
fn trace(program: &str, args: &[&str]) -> (Trace, Tracer) {
    let tracer = Tracer::spawn(&spec(program, args)).expect("tracer starts");
    let mut trace = Trace::new();
    loop {
        match tracer.events.recv_timeout(Duration::from_secs(20)) {
            Ok(e) => trace.push(e),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                panic!("{program} did not finish within 20 s under the tracer")
            }
        }
    }
    (trace, tracer)
}

fn exit_code(trace: &Trace) -> Option<Termination> {
    trace.root_termination()
}

fn signals(trace: &Trace) -> Vec<i32> {
    trace
        .events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Signal(s) => Some(s),
            _ => None,
        })
        .collect()
}

/// Every exit is paired with the entry of the same syscall on the same task.
fn assert_paired(trace: &Trace) {
    for rec in &trace.records {
        if let (Some(enter), Some(exit)) = (rec.enter, rec.exit) {
            assert_eq!(trace.events[enter].tid, trace.events[exit].tid);
            match (&trace.events[enter].kind, &trace.events[exit].kind) {
                (EventKind::Enter(c), EventKind::Exit(r)) => assert_eq!(c.nr, r.nr, "{rec:?}"),
                other => panic!("record points at {other:?}"),
            }
        }
    }
}

#[test]
fn signals_are_passed_on_to_the_tracee() {
    let (trace, _) = trace(env!("CARGO_BIN_EXE_tracee-signals"), &[]);
    assert_eq!(
        exit_code(&trace),
        Some(Termination::Exited(0)),
        "a handler did not run"
    );
    let sigs = signals(&trace);
    assert!(
        sigs.contains(&libc::SIGUSR1) && sigs.contains(&libc::SIGUSR2),
        "{sigs:?}"
    );
}

#[test]
fn real_time_signals_reach_the_program_as_they_do_untraced() {
    let program = env!("CARGO_BIN_EXE_tracee-rt-signals");
    let untraced = std::process::Command::new(program)
        .output()
        .expect("the program runs untraced");
    assert!(untraced.status.success(), "untraced: {untraced:?}");

    let mut spec = spec(program, &[]);
    spec.capture_output = true;
    let mut tracer = Tracer::spawn(&spec).expect("tracer starts");
    let mut stdout = tracer.stdout.take().expect("stdout is captured");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut text);
        text
    });
    let mut trace = Trace::new();
    loop {
        match tracer.events.recv_timeout(Duration::from_secs(20)) {
            Ok(e) => trace.push(e),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                panic!("{program} did not finish within 20 s under the tracer")
            }
        }
    }
    let traced = reader.join().expect("stdout is read");
    assert_eq!(
        exit_code(&trace),
        Some(Termination::Exited(0)),
        "traced, it printed:\n{traced}"
    );
    assert_eq!(traced, String::from_utf8_lossy(&untraced.stdout));
    // SIGCANCEL (32), SIGSETXID (33) and glibc's SIGRTMIN (34), each seen
    // and passed on.
    let sigs = signals(&trace);
    for sig in [32, 33, 34] {
        assert!(sigs.contains(&sig), "signal {sig} in {sigs:?}");
    }
}

#[test]
fn each_thread_has_its_own_syscall_slot() {
    let n = 2000;
    let (trace, _) = trace(env!("CARGO_BIN_EXE_tracee-threads"), &[&n.to_string()]);
    assert_eq!(exit_code(&trace), Some(Termination::Exited(0)));
    assert_paired(&trace);
    let getppid = trace
        .records
        .iter()
        .filter(|r| r.name() == "getppid" && r.ret.is_some())
        .count();
    let writes = trace
        .records
        .iter()
        .filter(|r| r.name() == "write" && r.ret == Some(Ret::Ok(Arg::Int(3))))
        .count();
    assert_eq!(getppid, n);
    assert!(writes >= n, "{writes} writes of 3 bytes");
    assert!(
        trace.records.iter().all(|r| r.enter.is_some()),
        "an exit without its entry"
    );
    let threads = trace
        .events
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                EventKind::Spawn {
                    kind: SpawnKind::Thread,
                    ..
                }
            )
        })
        .count();
    assert_eq!(threads, 2);
}

#[test]
fn fork_storm_is_followed_without_stray_sigstops() {
    let (trace, _) = trace(env!("CARGO_BIN_EXE_tracee-forks"), &[]);
    assert_eq!(exit_code(&trace), Some(Termination::Exited(0)));
    let children = trace
        .events
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                EventKind::Spawn {
                    kind: SpawnKind::Process,
                    ..
                }
            )
        })
        .count();
    assert_eq!(children, 16);
    let exits: Vec<i32> = trace
        .events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Gone(Termination::Exited(c)) if e.tid != e.pid || c != 0 => Some(c),
            EventKind::Gone(Termination::Exited(c)) => Some(c),
            _ => None,
        })
        .collect();
    for i in 0..16 {
        assert!(
            exits.contains(&(i + 10)),
            "child {i} exit not seen: {exits:?}"
        );
    }
    assert!(
        !signals(&trace).contains(&libc::SIGSTOP),
        "an initial SIGSTOP was delivered"
    );
}

#[test]
fn vfork_parent_and_child_are_both_followed() {
    let (trace, _) = trace(env!("CARGO_BIN_EXE_tracee-vfork"), &[]);
    assert_eq!(exit_code(&trace), Some(Termination::Exited(0)));
    assert!(
        trace
            .records
            .iter()
            .any(|r| r.name() == "vfork" || r.name() == "clone")
    );
    assert!(
        trace.events.iter().any(
            |e| matches!(&e.kind, EventKind::Exec { program, .. } if program.ends_with("true"))
        )
    );
}

#[test]
fn exec_from_a_thread_moves_it_to_the_leader_tid() {
    let (trace, _) = trace(env!("CARGO_BIN_EXE_tracee-exec-thread"), &[]);
    assert_eq!(exit_code(&trace), Some(Termination::Exited(0)));
    let exec = trace
        .events
        .iter()
        .find(|e| matches!(&e.kind, EventKind::Exec { program, .. } if program.ends_with("echo")))
        .expect("exec of echo seen");
    match &exec.kind {
        EventKind::Exec { former, .. } => {
            assert_ne!(*former, exec.tid, "the exec came from a non-leader thread");
            assert_eq!(exec.tid, exec.pid);
        }
        _ => unreachable!(),
    }
    // The execve record returned 0 on the leader tid.
    assert!(
        trace.records.iter().any(|r| r.name() == "execve"
            && r.ret == Some(Ret::Ok(Arg::Int(0)))
            && r.tid == exec.pid)
    );
}

#[test]
fn restarted_syscalls_pair_entries_and_exits() {
    let (trace, _) = trace(env!("CARGO_BIN_EXE_tracee-restart"), &[]);
    assert_eq!(exit_code(&trace), Some(Termination::Exited(0)));
    assert_paired(&trace);
    assert!(signals(&trace).contains(&libc::SIGALRM));
    let reads: Vec<_> = trace
        .records
        .iter()
        .filter(|r| r.name() == "read" && r.pid == r.tid)
        .collect();
    assert!(
        reads.iter().any(|r| r.errno() == Some(512)),
        "an interrupted read (ERESTARTSYS)"
    );
    assert!(
        reads
            .iter()
            .any(|r| matches!(r.args.get(1), Some(Arg::Bytes { head, .. }) if head == b"ok"))
    );
}

#[test]
fn parallel_traces_do_not_steal_each_others_statuses() {
    let handles: Vec<_> = (0..4)
        .map(|i| {
            std::thread::spawn(move || {
                let program = if i % 2 == 0 {
                    env!("CARGO_BIN_EXE_tracee-forks")
                } else {
                    env!("CARGO_BIN_EXE_tracee-threads")
                };
                let (trace, _) = trace(program, &[]);
                exit_code(&trace)
            })
        })
        .collect();
    // An untraced child of this process, waited for by its own thread.
    let plain = std::process::Command::new("/bin/sh")
        .args(["-c", "exit 7"])
        .status()
        .unwrap();
    assert_eq!(plain.code(), Some(7));
    for h in handles {
        assert_eq!(h.join().unwrap(), Some(Termination::Exited(0)));
    }
}

#[test]
fn kill_all_leaves_nothing_running() {
    let tracer = Tracer::spawn(&spec("/bin/sh", &["-c", "sleep 100 & sleep 100 & wait"])).unwrap();
    let mut trace = Trace::new();
    // Wait until both sleeps are running (blocked in their sleep syscall).
    while trace
        .records
        .iter()
        .filter(|r| r.is(&["clock_nanosleep", "nanosleep"]) && r.ret.is_none())
        .count()
        < 2
    {
        trace.push(
            tracer
                .events
                .recv_timeout(Duration::from_secs(10))
                .expect("sleeps start"),
        );
    }
    let seen = tracer.seen_processes();
    assert_eq!(seen.len(), 3);
    tracer.finish().unwrap();
    for pid in seen {
        assert!(!running(pid), "{pid} survived");
    }
}

#[test]
fn decoded_socket_calls_match_snapshot() {
    let (trace, _) = trace(env!("CARGO_BIN_EXE_tracee-sockets"), &[]);
    assert_eq!(exit_code(&trace), Some(Termination::Exited(0)));
    let transcript = normalize(&trace).render();
    insta::with_settings!({snapshot_path => "../../snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("tracee_sockets", transcript);
    });
}

/// The names of the calls the trace entered, in order.
fn entered(trace: &Trace) -> Vec<&'static str> {
    trace
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Enter(call) => Some(call.name()),
            _ => None,
        })
        .collect()
}

#[test]
fn i386_calls_are_named_and_filtered_from_the_i386_table() {
    let program = env!("CARGO_BIN_EXE_tracee-i386");
    let (trace, _) = trace(program, &[]);
    assert_eq!(exit_code(&trace), Some(Termination::Exited(0)));
    let names = entered(&trace);
    // i386's 192 and 4 are x86_64's `preadv` and `stat`: never seen here.
    let at = names
        .iter()
        .position(|n| *n == "mmap2")
        .unwrap_or_else(|| panic!("no mmap2 in {names:?}"));
    assert_eq!(names[at + 1], "munmap", "{names:?}");
    assert!(
        !names.contains(&"stat") && !names.contains(&"preadv"),
        "{names:?}"
    );
    let mapped = trace.events.iter().find_map(|e| match &e.kind {
        EventKind::Exit(r) if iolab::trace::syscall_name(r.nr) == "mmap2" => Some(r.ret.clone()),
        _ => None,
    });
    assert!(matches!(mapped, Some(Ret::Ok(Arg::Ptr(_)))), "{mapped:?}");

    // Only the 32-bit write under `-e trace=write`, with its bytes.
    let filter = iolab::filter::SyscallSet::parse("write").unwrap();
    let tracer = Tracer::spawn(&spec(program, &[]).with_filter(filter)).expect("tracer starts");
    let mut filtered = Trace::new();
    while let Ok(e) = tracer.events.recv_timeout(Duration::from_secs(20)) {
        filtered.push(e);
    }
    assert_eq!(entered(&filtered), ["write"]);
    let bytes = filtered.events.iter().find_map(|e| match &e.kind {
        EventKind::Enter(call) => match call.args.get(1) {
            Some(Arg::Bytes { head, .. }) => Some(head.clone()),
            _ => None,
        },
        _ => None,
    });
    assert_eq!(bytes.as_deref(), Some(&b"hello from int 0x80\n"[..]));
}
