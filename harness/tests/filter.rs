//! Tracing only some syscalls (issue 8): with a `-e trace=` set the native
//! tracer has the kernel stop the program on those syscalls alone
//! (seccomp-bpf), still follows every spawn, exec, signal and exit, folds
//! `EAGAIN` storms as they stream, and places itself and the program on
//! CPUs as asked. Counted in stops and events, never timed: the timings are
//! `make bench`'s.

use std::time::Duration;

use iolab::filter::SyscallSet;
use iolab::normalize::normalize;
use iolab::trace::{EventKind, Ret, SpawnKind, Termination, Trace};
use iolab::tracer::{Backend, Placement, Spec, Tracer};

const LOOP: &str = env!("CARGO_BIN_EXE_bench-loop");

fn set(expr: &str) -> SyscallSet {
    SyscallSet::parse(expr).expect("a valid set")
}

/// Traces `spec` to its end, natively, bounded in time; returns the trace,
/// what the program printed, and how many syscall stops it took.
fn run(spec: Spec) -> (Trace, String, u64) {
    let spec = spec.with_backend(Backend::Native);
    let mut tracer = Tracer::spawn(&spec).expect("tracer starts");
    let mut stdout = tracer.stdout.take().expect("stdout is captured");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut text);
        text
    });
    let mut trace = Trace::new();
    loop {
        match tracer.events.recv_timeout(Duration::from_secs(30)) {
            Ok(e) => trace.push(e),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                panic!("{spec:?} did not finish within 30 s under the tracer")
            }
        }
    }
    let stops = tracer.stops();
    tracer.join().expect("the tracer ends cleanly");
    (trace, reader.join().unwrap_or_default(), stops)
}

fn names(trace: &Trace) -> Vec<&'static str> {
    let mut v: Vec<&str> = trace.records.iter().map(|r| r.name()).collect();
    v.sort_unstable();
    v.dedup();
    v
}

#[test]
fn a_filter_stops_the_program_only_on_its_syscalls() {
    let n = 20_000;
    let (trace, out, stops) =
        run(Spec::new(LOOP, ["getppid", "20000"]).with_filter(set("%net,write")));
    assert_eq!(out, format!("getppid: {n} calls\n"));
    assert_eq!(trace.root_termination(), Some(Termination::Exited(0)));
    assert_eq!(names(&trace), ["write"], "only the set is shown");
    assert!(
        stops < 100,
        "{stops} stops for a filter that leaves out getppid"
    );

    // The same program unfiltered: every call is two stops.
    let (trace, _, stops) = run(Spec::new(LOOP, ["getppid", "20000"]));
    let getppids = trace.records.iter().filter(|r| r.is(&["getppid"])).count();
    assert_eq!(
        getppids,
        n + 1,
        "the loop, and the call that learns the parent"
    );
    assert!(stops >= 2 * n as u64, "{stops} stops for {n} traced calls");
}

#[test]
fn a_filtered_program_is_still_followed_through_forks_threads_signals_and_execs() {
    let filter = set("write");
    let forks =
        run(Spec::new(env!("CARGO_BIN_EXE_tracee-forks"), [""; 0]).with_filter(filter.clone())).0;
    assert_eq!(forks.root_termination(), Some(Termination::Exited(0)));
    let spawned = forks
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
    assert!(spawned >= 2, "forks are followed: {spawned} spawns");
    assert!(
        names(&forks).iter().all(|&n| n == "write"),
        "{:?}",
        names(&forks)
    );

    let threads =
        run(Spec::new(env!("CARGO_BIN_EXE_tracee-threads"), [""; 0]).with_filter(filter.clone())).0;
    assert_eq!(threads.root_termination(), Some(Termination::Exited(0)));
    assert!(
        threads.events.iter().any(|e| matches!(
            e.kind,
            EventKind::Spawn {
                kind: SpawnKind::Thread,
                ..
            }
        )),
        "threads are followed, told apart from processes without their clone call"
    );

    // Its handlers run only if the tracer passes both signals on.
    let signals =
        run(Spec::new(env!("CARGO_BIN_EXE_tracee-signals"), [""; 0]).with_filter(filter.clone())).0;
    assert_eq!(signals.root_termination(), Some(Termination::Exited(0)));

    for program in [
        env!("CARGO_BIN_EXE_tracee-rt-signals"),
        env!("CARGO_BIN_EXE_tracee-vfork"),
        env!("CARGO_BIN_EXE_tracee-exec-thread"),
        env!("CARGO_BIN_EXE_tracee-restart"),
    ] {
        let trace = run(Spec::new(program, [""; 0]).with_filter(filter.clone())).0;
        assert_eq!(
            trace.root_termination(),
            Some(Termination::Exited(0)),
            "{program}"
        );
    }
}

#[test]
fn a_call_a_signal_interrupted_is_shown_going_on() {
    // `sleep 10` is interrupted by SIGURG, which it ignores (so no handler
    // runs and the kernel resumes the sleep with restart_syscall, which the
    // set does not name): the trace shows the sleep going on. The second is
    // ample for `sleep` to be asleep before the signal.
    let script = "sleep 10 & pid=$!; sleep 1; kill -URG $pid; sleep 0.3; kill -TERM $pid; wait";
    let filter = set("nanosleep,clock_nanosleep");
    let trace = run(Spec::new("sh", ["-c", script]).with_filter(filter)).0;
    assert!(
        trace
            .records
            .iter()
            .any(|r| r.is(&["clock_nanosleep", "nanosleep"]) && r.errno() == Some(516)),
        "the sleep is interrupted (ERESTART_RESTARTBLOCK)"
    );
    assert!(
        trace.records.iter().any(|r| r.is(&["restart_syscall"])),
        "and resumed where the trace shows it: {:?}",
        names(&trace)
    );
    assert_eq!(
        names(&trace),
        ["clock_nanosleep", "restart_syscall"],
        "nothing else"
    );
}

#[test]
fn the_program_own_exec_is_not_broken_and_later_execs_are_seen() {
    // execve in the set: the filter is installed before the harness's own
    // execve, which must go through (not fail with ENOSYS), while the
    // shell's execve of true stops and shows with its path.
    let (trace, _, _) =
        run(Spec::new("sh", ["-c", "/bin/true; echo done"]).with_filter(set("execve,write")));
    assert_eq!(trace.root_termination(), Some(Termination::Exited(0)));
    let text = normalize(&trace).render();
    assert!(text.contains("execve(\"/bin/true\""), "{text}");
    assert!(text.contains("write(stdout, \"done\\n\""), "{text}");
    assert!(text.contains("--- exec true ---"), "{text}");
    // Found on PATH by the harness, exactly as without a filter.
    let missing =
        Tracer::spawn(&Spec::new("no-such-program-iolab", [""; 0]).with_filter(set("write")));
    match missing {
        Err(e) => assert!(e.to_string().contains("no-such-program-iolab"), "{e}"),
        Ok(_) => panic!("a missing program must not start"),
    }
}

#[test]
fn an_eagain_storm_is_folded_as_it_streams() {
    let n = 5_000;
    let mut spec = Spec::new(LOOP, ["eagain", "5000"]);
    spec.collapse = true;
    let (trace, out, stops) = run(spec);
    assert_eq!(out, format!("eagain: {n} calls\n"));
    let storm: Vec<_> = trace
        .records
        .iter()
        .filter(|r| r.is(&["read"]) && r.ret == Some(Ret::Err(libc::EAGAIN)))
        .collect();
    assert_eq!(storm.len(), 1, "one record for the whole storm");
    assert_eq!(storm[0].times(), n, "it stands for every call");
    assert!(stops >= 2 * n, "every call still stopped: {stops}");
    assert!(
        trace.events.len() < 1000,
        "{} events for a folded storm",
        trace.events.len()
    );
    let text = normalize(&trace).render_with_counts();
    assert!(text.contains(&format!("(storm of {n} calls)")), "{text}");

    // Not folded, the transcript says the same (from the loop's pipe on:
    // start-up shows the pid).
    let (unfolded, ..) = run(Spec::new(LOOP, ["eagain", "5000"]));
    let from_pipe = |t: &str| t[t.find("pipe2(").expect("the loop's pipe")..].to_string();
    assert_eq!(
        from_pipe(&normalize(&unfolded).render_with_counts()),
        from_pipe(&text)
    );
}

#[test]
fn placement_pins_a_single_task_and_frees_it_at_its_first_thread() {
    // The CPUs this test may use (not available_parallelism, which a CPU
    // quota lowers).
    let mine = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)).expect("affinity");
    let cpus = (0..nix::sched::CpuSet::count())
        .filter(|&i| mine.is_set(i).unwrap_or(false))
        .count();
    let said = |placement| run(Spec::new(LOOP, ["affinity"]).with_placement(placement)).1;
    assert_eq!(said(Placement::Auto), format!("cpus: 1 then {cpus}\n"));
    assert_eq!(said(Placement::Same), "cpus: 1 then 1\n");
    assert_eq!(
        said(Placement::Spread),
        format!("cpus: {cpus} then {cpus}\n")
    );
}
