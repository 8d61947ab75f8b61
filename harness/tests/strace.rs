//! The strace backend's parser and decoder: recorded logs of real programs
//! decode to the accepted events, well-formed lines survive a print-parse
//! round trip, arbitrary bytes give errors (never panics) that name the
//! line, native events printed in strace's notation decode back to the same
//! transcript, and a missing or old strace is a clear error.

mod common;

use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;
use iolab::normalize::{normalize, raw_lines};
use iolab::trace::Trace;
use iolab::tracer::strace::format::Formatter;
use iolab::tracer::strace::syntax::{
    Body, Field, Line, Outcome, Value, parse_line, parse_line_bytes,
};
use iolab::tracer::strace::{Decoder, decode_log};
use iolab::tracer::{Spec, Tracer};
use proptest::prelude::*;

// ---- recorded logs ----

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/strace")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A recorded log decoded: its raw events (with the log's own pids and
/// times, so they are the same every run; for the smaller logs) and its
/// transcript.
fn decoded(name: &str) -> String {
    let events = decode_log(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let trace = Trace::from_events(events);
    let transcript = normalize(&trace).render();
    if trace.events.len() < 500 {
        format!(
            "{}\n---- transcript ----\n{transcript}",
            raw_lines(&trace).join("\n")
        )
    } else {
        format!("---- transcript ----\n{transcript}")
    }
}

/// Snapshot tests of the recorded logs in `fixtures/strace/` (see its README
/// for how each was recorded).
macro_rules! recorded {
    ($($test:ident: $file:literal,)*) => {$(
        #[test]
        fn $test() {
            common::assert_snapshot(concat!("strace_", stringify!($test)), &decoded($file));
        }
    )*};
}

recorded! {
    threads: "threads.log",
    forks: "forks.log",
    signals: "signals.log",
    restart: "restart.log",
    restart_syscall: "restart_syscall.log",
    vfork: "vfork.log",
    exec_thread: "exec_thread.log",
    sockets: "sockets.log",
    python_select: "python_select.log",
    crash: "crash.log",
}

#[test]
fn an_exec_from_a_thread_continues_under_the_leaders_id() {
    let trace = Trace::from_events(decode_log(&fixture("exec_thread.log")).expect("decodes"));
    let execs: Vec<(i32, i32, &str)> = trace
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            iolab::trace::EventKind::Exec { former, program } => {
                Some((e.tid, *former, program.as_str()))
            }
            _ => None,
        })
        .collect();
    let (leader, former, program) = *execs.last().expect("the thread's exec");
    assert_ne!(leader, former, "{execs:?}");
    assert!(program.ends_with("echo"), "{execs:?}");
    let execve = trace
        .records
        .iter()
        .rfind(|r| r.name() == "execve")
        .expect("the thread's execve");
    assert_eq!(
        (execve.tid, execve.ret.is_some()),
        (leader, true),
        "the execve entered on the thread returns on the leader: {execve:?}"
    );
}

// ---- native events in strace's notation, decoded back ----

/// Traces `program` natively to its end.
fn native_trace(program: &str) -> Trace {
    let tracer = Tracer::spawn(&Spec::new(program, Vec::<String>::new())).expect("tracer starts");
    let mut trace = Trace::new();
    loop {
        match tracer.events.recv_timeout(Duration::from_secs(20)) {
            Ok(e) => trace.push(e),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            Err(e) => panic!("{program}: {e}"),
        }
    }
    trace
}

fn formatted(trace: &Trace) -> String {
    let mut f = Formatter::new();
    let mut lines: Vec<String> = trace.events.iter().flat_map(|e| f.event(e)).collect();
    lines.extend(f.finish());
    lines.join("\n") + "\n"
}

#[test]
fn native_events_printed_as_strace_decode_to_the_same_transcript() {
    for program in [
        env!("CARGO_BIN_EXE_tracee-sockets"),
        env!("CARGO_BIN_EXE_tracee-threads"),
        env!("CARGO_BIN_EXE_tracee-forks"),
        env!("CARGO_BIN_EXE_tracee-signals"),
    ] {
        let native = native_trace(program);
        let text = formatted(&native);
        let back = Trace::from_events(
            decode_log(text.as_bytes()).unwrap_or_else(|e| panic!("{program}: {e}\n{text}")),
        );
        assert_eq!(
            normalize(&native).render(),
            normalize(&back).render(),
            "{program}: printed as strace:\n{text}"
        );
    }
}

#[test]
fn strace_format_looks_like_strace() {
    let text = formatted(&native_trace(env!("CARGO_BIN_EXE_tracee-sockets")));
    let line = text
        .lines()
        .find(|l| l.contains(" socket("))
        .expect("a socket line");
    assert!(
        line.contains("socket(AF_INET, SOCK_STREAM") && line.ends_with('>'),
        "{line}"
    );
    assert!(text.contains("+++ exited with 0 +++"), "{text}");
}

// ---- argument values as strace prints them ----

/// `program`'s log: under the system's strace (`backend` `None`), or under
/// `iolab trace --backend BACKEND --format strace`; both without address
/// randomization, so that code addresses agree.
fn live_log(program: &str, backend: Option<&str>) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("log");
    let mut c = std::process::Command::new("setarch");
    c.args([std::env::consts::ARCH, "--addr-no-randomize"]);
    match backend {
        None => c.args(["strace", "-f", "-o"]),
        Some(b) => c.arg(env!("CARGO_BIN_EXE_iolab")).args([
            "trace",
            "--backend",
            b,
            "--format",
            "strace",
            "-o",
        ]),
    };
    let status = c
        .arg(&log)
        .arg("--")
        .arg(program)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("cannot run setarch ({e}): it comes with util-linux"));
    let text = std::fs::read_to_string(&log).unwrap_or_else(|e| {
        panic!(
            "{program} under {}: no log ({status}, {e}); is strace installed? \
             (`make test` installs it)",
            backend.unwrap_or("strace")
        )
    });
    assert!(
        status.success(),
        "{program} under {backend:?}: {status}\n{text}"
    );
    text
}

/// A log's calls, one line each: task ids as `T0`, `T1`... by first
/// appearance, times, durations and strace's column padding taken out, an
/// `<unfinished ...>` entry joined with its `<... resumed>` end, and stack,
/// heap and library addresses (which differ with the tracer's environment)
/// as `0x…`. The first line, the execve that started the program (which
/// the native tracer sees only end), is left out.
fn calls_of(log: &str) -> Vec<String> {
    let mut tids: Vec<String> = Vec::new();
    let mut open: std::collections::HashMap<String, usize> = Default::default();
    let mut lines: Vec<String> = Vec::new();
    for line in log.lines() {
        let (tid, rest) = line.split_once(' ').expect("a task id");
        let mut rest = rest.trim_start();
        // `iolab trace` prints a time after the id.
        if let Some((t, r)) = rest.split_once(' ')
            && t.contains('.')
            && t.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        {
            rest = r;
        }
        if !tids.iter().any(|t| t == tid) {
            tids.push(tid.to_string());
        }
        let mut text = rest.to_string();
        if let Some(at) = text.rfind(" <")
            && text.ends_with('>')
            && text[at + 2..text.len() - 1]
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'.')
        {
            text.truncate(at);
        }
        if let Some(at) = text.find(')').and_then(|_| text.rfind(") ")) {
            let (head, tail) = text.split_at(at + 1);
            text = format!("{head} {}", tail.trim_start());
        }
        if let Some(head) = text.strip_suffix(" <unfinished ...>") {
            open.insert(tid.to_string(), lines.len());
            lines.push(head.to_string());
            continue;
        }
        if let Some(resumed) = text.strip_prefix("<... ")
            && let Some((_, tail)) = resumed.split_once(" resumed>")
            && let Some(at) = open.remove(tid)
        {
            lines[at].push_str(tail);
            continue;
        }
        lines.push(text);
    }
    lines
        .into_iter()
        .skip(1)
        .map(|l| {
            let mut out = String::new();
            for word in l.split_inclusive(|c: char| !c.is_ascii_alphanumeric()) {
                let (w, sep) = word.split_at(
                    word.trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
                        .len(),
                );
                if let Some(n) = tids.iter().position(|t| t == w) {
                    out.push_str(&format!("T{n}"));
                } else if w.len() == 14
                    && (w.starts_with("0x7f") || w.starts_with("0x55") || w.starts_with("0x56"))
                {
                    out.push_str("0x…");
                } else {
                    out.push_str(w);
                }
                out.push_str(sep);
            }
            out
        })
        .collect()
}

/// The calls of `program` that start with one of `wanted` print the same
/// under strace, under the native tracer, and through the strace backend
/// (strace's own lines parsed and printed again).
fn assert_prints_as_strace(program: &str, wanted: &[&str]) {
    let pick = |log: &str| -> Vec<String> {
        calls_of(log)
            .into_iter()
            .filter(|l| wanted.iter().any(|w| l.starts_with(w)))
            .collect()
    };
    let strace = pick(&live_log(program, None));
    for w in wanted {
        assert!(
            strace.iter().any(|l| l.starts_with(w)),
            "{program}: strace printed no `{w}` call:\n{}",
            strace.join("\n")
        );
    }
    for backend in ["native", "strace"] {
        let ours = pick(&live_log(program, Some(backend)));
        let diff: Vec<String> = strace
            .iter()
            .zip(ours.iter().chain(std::iter::repeat(&String::new())))
            .filter(|(a, b)| a != b)
            .map(|(a, b)| format!("  strace: {a}\n  iolab:  {b}"))
            .collect();
        assert!(
            diff.is_empty() && strace.len() == ours.len(),
            "{program}: iolab trace --backend {backend} --format strace departs from strace:\n{}\n\
             (strace: {} lines, iolab: {})",
            diff.join("\n"),
            strace.len(),
            ours.len()
        );
    }
}

#[test]
fn signal_values_print_as_strace_prints_them() {
    assert_prints_as_strace(
        env!("CARGO_BIN_EXE_tracee-values-signal"),
        &[
            "rt_sigaction(SIGINT,",
            "rt_sigaction(SIGUSR1,",
            "rt_sigaction(SIGUSR2,",
            "kill(",
            "clone3(",
        ],
    );
}

#[test]
fn int_arguments_print_at_the_width_the_kernel_reads() {
    assert_prints_as_strace(
        env!("CARGO_BIN_EXE_tracee-values-widths"),
        &[
            "socket(",
            "listen(",
            "close(3)",
            "epoll_create(",
            "epoll_wait(",
            "nanosleep(",
            "select(",
            "openat(AT_FDCWD, \"/tmp\"",
            "lseek(",
        ],
    );
}

#[test]
fn every_argument_strace_prints_is_printed() {
    assert_prints_as_strace(
        env!("CARGO_BIN_EXE_tracee-values-args"),
        &[
            "openat(AT_FDCWD, \"/dev/null\"",
            "open(",
            "openat(AT_FDCWD, \"/tmp\"",
            "openat(AT_FDCWD, NULL",
            "poll(",
            "nanosleep(",
            "execve(",
            "epoll_pwait(",
            "epoll_pwait2(",
            "ppoll(",
            "clone(",
        ],
    );
}

// ---- a missing or old strace ----

fn iolab() -> Command {
    Command::cargo_bin("iolab").expect("iolab is built")
}

#[test]
fn a_missing_strace_names_the_package_to_install() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = iolab()
        .args(["trace", "--backend", "strace", "--"])
        .arg(env!("CARGO_BIN_EXE_tracee-sockets"))
        .env("PATH", dir.path())
        .timeout(Duration::from_secs(30))
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        stderr.contains("`strace` is not installed")
            && stderr.contains("install the `strace` package"),
        "{stderr}"
    );
}

#[test]
fn an_old_strace_is_refused_with_its_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = dir.path().join("strace");
    std::fs::write(&fake, "#!/bin/sh\necho 'strace -- version 4.26'\n").expect("write");
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let out = iolab()
        .args(["trace", "--backend", "strace", "--"])
        .arg(env!("CARGO_BIN_EXE_tracee-sockets"))
        .env("PATH", format!("{}:/usr/bin:/bin", dir.path().display()))
        .timeout(Duration::from_secs(30))
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains("strace 4.26 is too old"), "{stderr}");
}

#[test]
fn a_missing_program_is_the_same_error_under_strace() {
    let out = iolab()
        .args(["trace", "--backend", "strace", "--", "/no/such/program"])
        .timeout(Duration::from_secs(30))
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains("cannot run `/no/such/program`"), "{stderr}");
}

#[test]
fn trace_format_strace_prints_strace_lines_from_either_backend() {
    let dir = tempfile::tempdir().expect("tempdir");
    for backend in ["native", "strace"] {
        let file = dir.path().join(backend);
        iolab()
            .args(["trace", "--backend", backend, "--format", "strace", "-o"])
            .arg(&file)
            .arg("--")
            .arg(env!("CARGO_BIN_EXE_tracee-sockets"))
            .timeout(Duration::from_secs(60))
            .assert()
            .success();
        let text = std::fs::read_to_string(&file).expect("output written");
        assert!(
            text.lines()
                .any(|l| l.contains(" bind(") && l.contains("sin_port=htons(")),
            "{backend}:\n{text}"
        );
        // Every line it prints is one the parser reads.
        for l in text.lines() {
            parse_line(l).unwrap_or_else(|e| panic!("{backend}: {e}"));
        }
    }
}

// ---- malformed input ----

#[test]
fn a_malformed_log_fails_on_the_line_that_is_wrong() {
    let log = b"10 1.000000 execve(\"/x\", [\"x\"], NULL) = 0\n\
                10 1.000100 getpid() = 10 <0.000001>\n\
                10 1.000200 read(3, \"never closed, 4096) = 5\n";
    let e = decode_log(log).expect_err("malformed");
    assert_eq!(e.line_no, 3);
    let text = e.to_string();
    assert!(
        text.starts_with("strace output line 3: cannot parse strace line")
            && text.contains("read(3,"),
        "{text}"
    );
}

// ---- properties ----

fn ident() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_]{0,8}".prop_filter("not NULL", |s| s != "null")
}

fn constant() -> impl Strategy<Value = String> {
    "[A-Z][A-Z0-9_]{0,10}".prop_filter("not NULL", |s| s != "NULL")
}

/// Values that print and parse back to themselves (no value ends in an
/// operator or a comment that would bind differently).
fn simple() -> impl Strategy<Value = Value> {
    prop_oneof![
        (-1_000_000_000_000i128..1_000_000_000_000).prop_map(Value::Int),
        any::<u64>().prop_map(Value::Hex),
        (0u64..0o777_777).prop_map(Value::Oct),
        (proptest::collection::vec(any::<u8>(), 0..40), any::<bool>())
            .prop_map(|(bytes, more)| Value::Str { bytes, more }),
        Just(Value::Null),
        constant().prop_map(Value::Sym),
        ident().prop_map(Value::Ref),
        Just(Value::Ellipsis),
        (0i64..1000, "[a-z:/.0-9-]{1,20}").prop_map(|(fd, path)| Value::Fd { fd, path }),
        (0u8..100).prop_map(|n| Value::Expr(format!("WIFEXITED(s) && WEXITSTATUS(s) == {n}"))),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    simple().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(
                prop_oneof![
                    constant().prop_map(Value::Sym),
                    (0u64..4096).prop_map(Value::Hex)
                ],
                2..4
            )
            .prop_map(Value::Or),
            proptest::collection::vec((proptest::option::of(ident()), inner.clone()), 0..4)
                .prop_map(|fields| Value::Struct(
                    fields
                        .into_iter()
                        .map(|(name, value)| Field { name, value })
                        .collect()
                )),
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec(
                prop_oneof![
                    (0i128..1024).prop_map(Value::Int),
                    constant().prop_map(Value::Sym)
                ],
                2..5
            )
            .prop_map(Value::Set),
            proptest::collection::vec((0i128..1024).prop_map(Value::Int), 2..4)
                .prop_map(|v| Value::Not(Box::new(Value::Set(v)))),
            (ident(), proptest::collection::vec(inner.clone(), 0..3))
                .prop_map(|(func, args)| Value::Call { func, args }),
            ((0i128..1000), (0i128..1000)).prop_map(|(a, b)| Value::Array(vec![Value::Changed(
                Box::new(Value::Int(a)),
                Box::new(Value::Int(b))
            )])),
            (
                simple().prop_filter("an expression takes the comment in", |v| !matches!(
                    v,
                    Value::Expr(_)
                )),
                "[a-z0-9 ]{1,12}"
            )
                .prop_map(|(v, c)| Value::Commented(Box::new(v), c.trim().to_string()))
                .prop_filter(
                    "comment text",
                    |v| matches!(v, Value::Commented(_, c) if !c.is_empty())
                ),
            // strace 6.1's `clone3` tail: `/* bytes 88..95 */ "\x34..."`.
            ((0u32..200), simple())
                .prop_map(|(at, v)| Value::Labeled(format!("bytes {at}..{}", at + 7), Box::new(v))),
        ]
    })
}

fn fields() -> impl Strategy<Value = Vec<Field>> {
    proptest::collection::vec((proptest::option::of(ident()), value()), 0..5).prop_map(|v| {
        v.into_iter()
            .map(|(name, value)| Field { name, value })
            .collect()
    })
}

fn outcome() -> impl Strategy<Value = Outcome> {
    (
        proptest::option::of(prop_oneof![
            (-1i128..100_000).prop_map(Value::Int),
            any::<u64>().prop_map(Value::Hex)
        ]),
        proptest::option::of("E[A-Z]{2,10}"),
        proptest::option::of("[A-Za-z][A-Za-z ]{0,20}[a-z]"),
        proptest::option::of((0u64..100, 0u32..1_000_000)),
    )
        .prop_map(|(value, errno, note, duration)| Outcome {
            value,
            errno,
            note,
            duration: duration.map(|(s, us)| Duration::new(s, us * 1000)),
        })
}

fn args_text(fields: &[Field]) -> String {
    fields
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        (ident(), fields(), outcome()).prop_map(|(name, args, result)| Body::Syscall(
            iolab::tracer::strace::syntax::Syscall { name, args, result }
        )),
        (ident(), fields(), any::<bool>()).prop_map(|(name, args, vanished)| {
            let mut text = args_text(&args);
            if !text.is_empty() {
                text.push_str(", ");
            }
            Body::Unfinished {
                name,
                text,
                vanished,
            }
        }),
        (ident(), fields(), outcome()).prop_map(|(name, args, result)| Body::Resumed {
            name,
            text: args_text(&args),
            result
        }),
        ("SIG[A-Z]{2,6}", proptest::option::of(fields())).prop_map(|(signal, info)| Body::Signal {
            signal,
            info: info.map(Value::Struct)
        }),
        "SIG[A-Z]{2,6}".prop_map(|signal| Body::Stopped { signal }),
        (-255i32..256).prop_map(|code| Body::Exited { code }),
        ("SIG[A-Z]{2,6}", any::<bool>()).prop_map(|(signal, core)| Body::Killed { signal, core }),
        (1i32..100_000).prop_map(|pid| Body::Superseded { pid }),
    ]
}

fn line() -> impl Strategy<Value = Line> {
    (
        proptest::option::of(1i32..4_000_000),
        proptest::option::of((0u64..4_000_000_000, 0u32..1_000_000)),
        body(),
    )
        .prop_map(|(tid, time, body)| Line {
            tid,
            time: time.map(|(s, us)| Duration::new(s, us * 1000)),
            body,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn well_formed_lines_round_trip(l in line()) {
        let text = l.to_string();
        let parsed = parse_line(&text).map_err(|e| TestCaseError::fail(format!("{e}")))?;
        prop_assert_eq!(parsed, l, "printed as {}", text);
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_parser(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Err(e) = parse_line_bytes(&bytes) {
            prop_assert!(e.to_string().starts_with("cannot parse strace line"));
        }
    }

    #[test]
    fn mangled_real_lines_never_panic_the_decoder(
        cut in 0usize..400,
        junk in proptest::collection::vec(any::<u8>(), 0..20),
        at in 0usize..400,
    ) {
        let mut log = b"10 1.000000 execve(\"/x\", [\"x\"], NULL) = 0\n\
            10 1.100000 clone3({flags=CLONE_VM|CLONE_THREAD, exit_signal=0}  <unfinished ...>\n\
            11 1.200000 read(3, \"a\\n\\377\"..., 4096) = 4096 <0.000010>\n\
            10 1.300000 <... clone3 resumed> => {parent_tid=[11]}, 88) = 11 <0.2>\n\
            10 1.400000 --- SIGCHLD {si_signo=SIGCHLD} ---\n\
            11 1.500000 +++ exited with 0 +++\n".to_vec();
        let at = at.min(log.len());
        log.splice(at..at, junk);
        let cut = cut.min(log.len());
        let mut d = Decoder::new(None);
        let mut out = Vec::new();
        if d.feed(&log[..cut], &mut out).is_ok() {
            d.flush_partial(&mut out);
            if d.feed(&log[cut..], &mut out).is_ok() {
                let _ = d.finish(&mut out);
            }
        }
        let _ = Trace::from_events(out);
    }
}
