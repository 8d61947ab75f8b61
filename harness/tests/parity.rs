//! Per-task parity with strace: every program in `fixtures/tracees/` runs
//! twice under the system's strace, once under iolab's own tracer and once
//! under iolab's strace backend (`iolab trace --format strace`, which feeds
//! strace's real output of the program through the backend's parser), and
//! for each task the calls it made, their results, the signals it got and
//! how it ended must be iolab's too, from both backends, wherever strace's
//! two runs agree with each other.
//!
//! Tasks are named by where they were born, not by their ids, which differ
//! from run to run: the program is `0`, its second child (thread or
//! process) `0.1`, that child's first `0.1.0`. Results are compared as
//! strace shows them, with what differs between any two runs taken out:
//! addresses (`0x…`) and task ids (by the task's name), and `futex` calls,
//! which a lock makes or not as the threads' timing has it. A task whose two
//! strace runs differ (threads racing for a futex, a timed wait) is not
//! compared; every program must still have tasks that are.
//!
//! Some programs are about timing: a timer's signals land where the clock
//! has them, a thread polls `/proc` until another sleeps. For those
//! ([`TIMED`]) each task is compared by the set of different things it did,
//! not by their order and count.
//!
//! strace is a required test dependency (`make test` installs it): without
//! it this test fails and says so.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use iolab::tracer::strace::parse_line;
use iolab::tracer::strace::syntax::{Body, Outcome, Value};

/// What one task did, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Item {
    /// A call and its result: `read = 5`, `openat = ENOENT`, `exit_group = ?`.
    Call { name: String, result: String },
    /// `--- SIGCHLD ---`.
    Signal(String),
    /// `+++ exited with 0 +++`, `+++ killed by SIGKILL +++`, `+++
    /// superseded by execve in 0.1 +++`.
    End(String),
}

impl fmt::Display for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Item::Call { name, result } => write!(f, "{name} = {result}"),
            Item::Signal(s) => write!(f, "--- {s} ---"),
            Item::End(s) => write!(f, "+++ {s} +++"),
        }
    }
}

/// One run: each task's items, by the task's name.
type Tasks = HashMap<String, Vec<Item>>;

/// A call's result, raw: the tids in it are named once every task is known.
#[derive(Clone, Debug)]
enum Raw {
    Number(i128),
    Text(String),
}

/// Parses a log (strace's `-f -o` output, or `iolab trace --format strace`)
/// into its tasks. `program` names the log in errors.
fn tasks_of(log: &str, program: &str) -> Tasks {
    // Pass 1: every line's task and what it says, unfinished calls joined
    // with their resumed halves (in the entry's place), and who spawned whom.
    let mut items: Vec<(i32, RawItem)> = Vec::new();
    let mut open: HashMap<i32, usize> = HashMap::new();
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    let mut first: Option<i32> = None;
    for (n, text) in log.lines().enumerate() {
        let line = parse_line(text)
            .unwrap_or_else(|e| panic!("{program}: line {} of its log: {e}", n + 1));
        let Some(tid) = line.tid else {
            panic!("{program}: line {} has no task id: {text}", n + 1);
        };
        first.get_or_insert(tid);
        match line.body {
            // Whether a lock or a wake makes a futex call at all depends on
            // the threads' timing, traced or not: futex calls are left out.
            Body::Syscall(s) if s.name == "futex" => {}
            Body::Unfinished { name, .. } | Body::Resumed { name, .. } if name == "futex" => {}
            Body::Syscall(s) => {
                let result = raw_result(&s.result);
                note_spawn(&s.name, &result, tid, &mut children);
                items.push((tid, RawItem::Call(s.name, result)));
            }
            Body::Unfinished { name, vanished, .. } => {
                let result = if vanished {
                    Some(Raw::Text("?".into()))
                } else {
                    None
                };
                if !vanished {
                    open.insert(tid, items.len());
                }
                items.push((tid, RawItem::Pending(name, result)));
            }
            Body::Resumed { name, result, .. } => {
                let result = raw_result(&result);
                note_spawn(&name, &result, tid, &mut children);
                match open.remove(&tid) {
                    Some(at) => items[at].1 = RawItem::Call(name, result),
                    None => items.push((tid, RawItem::Call(name, result))),
                }
            }
            Body::Signal { signal, .. } => items.push((tid, RawItem::Signal(signal))),
            Body::Exited { code } => items.push((tid, RawItem::End(format!("exited with {code}")))),
            Body::Killed { signal, core } => items.push((
                tid,
                RawItem::End(format!(
                    "killed by {signal}{}",
                    if core { " (core dumped)" } else { "" }
                )),
            )),
            Body::Superseded { pid } => items.push((tid, RawItem::Superseded(pid))),
            Body::Stopped { .. } | Body::Message(_) => {}
        }
    }
    let Some(root) = first else {
        panic!("{program}: the log is empty");
    };
    // Pass 2: names by birth, then every item with its tids named.
    let mut names = HashMap::from([(root, "0".to_string())]);
    let mut queue = vec![root];
    while let Some(parent) = queue.pop() {
        let name = names[&parent].clone();
        for (i, child) in children.get(&parent).into_iter().flatten().enumerate() {
            names.insert(*child, format!("{name}.{i}"));
            queue.push(*child);
        }
    }
    let named = |tid: i32| {
        names
            .get(&tid)
            .cloned()
            .unwrap_or_else(|| format!("unknown task {tid}"))
    };
    let shown = |r: &Raw| match r {
        Raw::Number(v) => match i32::try_from(*v).ok().filter(|t| names.contains_key(t)) {
            Some(t) if *v > 1 => format!("task {}", named(t)),
            _ => v.to_string(),
        },
        Raw::Text(t) => t.clone(),
    };
    let mut tasks = Tasks::new();
    let mut signals = Tasks::new();
    for (tid, item) in items {
        let item = match item {
            RawItem::Call(name, result) => Item::Call {
                name,
                result: shown(&result),
            },
            // An entry whose end the log never shows (the trace ended).
            RawItem::Pending(name, result) => Item::Call {
                name,
                result: result.map_or("<unfinished>".into(), |r| shown(&r)),
            },
            RawItem::Signal(s) => Item::Signal(s),
            RawItem::End(s) => Item::End(s),
            RawItem::Superseded(pid) => {
                Item::End(format!("superseded by execve in {}", named(pid)))
            }
        };
        // A signal lands where the sender's timing has it (a child's
        // SIGCHLD, against the parent's calls): a task's signals are
        // compared in their own order, after its calls.
        let to = if matches!(item, Item::Signal(_)) {
            &mut signals
        } else {
            &mut tasks
        };
        to.entry(named(tid)).or_default().push(item);
    }
    for (task, got) in signals {
        tasks.entry(task).or_default().extend(got);
    }
    tasks
}

enum RawItem {
    Call(String, Raw),
    Pending(String, Option<Raw>),
    Signal(String),
    End(String),
    Superseded(i32),
}

/// A result as compared: an errno name, `?`, a number, or `0x…` for an
/// address.
fn raw_result(o: &Outcome) -> Raw {
    if let Some(errno) = &o.errno {
        return Raw::Text(errno.clone());
    }
    match &o.value {
        None => Raw::Text("?".into()),
        Some(v) => match strip(v) {
            Value::Hex(v) if *v > u64::from(u32::MAX) => Raw::Text("0x…".into()),
            Value::Hex(v) => Raw::Text(format!("{v:#x}")),
            v => match v.number() {
                Some(n) => Raw::Number(n),
                None => Raw::Text(v.to_string()),
            },
        },
    }
}

fn strip(v: &Value) -> &Value {
    match v {
        Value::Commented(v, _) | Value::Labeled(_, v) => strip(v),
        v => v,
    }
}

/// Records `tid`'s new child, from a spawning call's result.
fn note_spawn(name: &str, result: &Raw, tid: i32, children: &mut HashMap<i32, Vec<i32>>) {
    if matches!(name, "clone" | "clone3" | "fork" | "vfork")
        && let Raw::Number(child) = result
        && *child > 0
    {
        children.entry(tid).or_default().push(*child as i32);
    }
}

/// Programs whose calls follow the clock, by design, and why: compared by
/// the set of what each task did.
const TIMED: &[(&str, &str)] = &[
    (
        "restart",
        "a 20 ms timer's alarms interrupt a read that waits 250 ms",
    ),
    (
        "rt-signals",
        "the main thread polls /proc until a thread sleeps in pause",
    ),
];

/// A timed program's task: what it did, each different thing once.
fn as_set(items: &[Item]) -> Vec<Item> {
    let mut set: Vec<Item> = Vec::new();
    for i in items {
        if !set.contains(i) {
            set.push(i.clone());
        }
    }
    set.sort_by_key(Item::to_string);
    set
}

/// The tracee programs: every file in `fixtures/tracees/`, as built.
fn tracees() -> Vec<(String, PathBuf)> {
    let bins = Path::new(env!("CARGO_BIN_EXE_iolab")).parent().unwrap();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/tracees");
    let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .map(|p| {
            let stem = p.file_stem().unwrap().to_string_lossy().replace('_', "-");
            let bin = bins.join(format!("tracee-{stem}"));
            assert!(
                bin.exists(),
                "{}: no binary {} (is it a [[bin]] in Cargo.toml?)",
                p.display(),
                bin.display()
            );
            (stem, bin)
        })
        .collect();
    out.sort();
    out
}

/// Runs `program` the way both tracers do: without address-space
/// randomization, so that a new thread's malloc arena, trimmed to alignment
/// with one `munmap` or two by where `mmap` put it, is trimmed the same way
/// in every run.
fn unrandomized() -> Command {
    let mut c = Command::new("setarch");
    c.args([std::env::consts::ARCH, "--addr-no-randomize"]);
    c
}

fn strace_run(program: &Path, log: &Path) -> String {
    let status = unrandomized()
        .arg("strace")
        .arg("-f")
        .arg("-o")
        .arg(log)
        .arg("--")
        .arg(program)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("cannot run setarch ({e}): it comes with util-linux"));
    assert!(
        status.code().is_some(),
        "strace {}: {status}",
        program.display()
    );
    assert!(
        log.exists(),
        "strace wrote no log for {} ({status}): is it installed? (`make test` installs it)",
        program.display()
    );
    std::fs::read_to_string(log).unwrap_or_else(|e| panic!("{}: {e}", log.display()))
}

/// `program` under `iolab trace --format strace`, from `backend`: the
/// native tracer's events, or strace's real output parsed back into events.
fn iolab_run(backend: &str, program: &Path, log: &Path) -> String {
    let out = unrandomized()
        .arg(env!("CARGO_BIN_EXE_iolab"))
        .args(["trace", "--backend", backend, "--format", "strace", "-o"])
        .arg(log)
        .arg("--")
        .arg(program)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.code().is_some() && !stderr.contains("error"),
        "iolab trace --backend {backend} {}: {}\n{stderr}",
        program.display(),
        out.status
    );
    std::fs::read_to_string(log).unwrap_or_else(|e| panic!("{}: {e}", log.display()))
}

/// Where `ours` departs from `theirs`: the first differing item, with the
/// items before it.
fn departure(theirs: &[Item], ours: &[Item]) -> Option<String> {
    let at = theirs
        .iter()
        .zip(ours)
        .position(|(a, b)| a != b)
        .or_else(|| (theirs.len() != ours.len()).then(|| theirs.len().min(ours.len())))?;
    let before = theirs[at.saturating_sub(3)..at]
        .iter()
        .map(|i| format!("    {i}\n"))
        .collect::<String>();
    let show = |v: &[Item]| v.get(at).map_or("(nothing more)".into(), Item::to_string);
    Some(format!(
        "after\n{before}  strace: {}\n  iolab:  {}",
        show(theirs),
        show(ours)
    ))
}

#[test]
fn every_tracee_agrees_with_strace_task_by_task() {
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    let mut compared = Vec::new();
    for (name, program) in tracees() {
        let log = |k: &str| dir.path().join(format!("{name}.{k}"));
        let timed = TIMED.iter().any(|(t, _)| *t == name);
        let run = |log: String| {
            let mut tasks = tasks_of(&log, &name);
            if timed {
                tasks.values_mut().for_each(|v| *v = as_set(v));
            }
            tasks
        };
        let a = run(strace_run(&program, &log("a")));
        let b = run(strace_run(&program, &log("b")));
        let ours = run(iolab_run("native", &program, &log("native")));
        // strace's own output of the program, through the strace backend's
        // parser: every line of it must parse, and say what strace said.
        let parsed = run(iolab_run("strace", &program, &log("strace")));
        let mut agreed: Vec<&String> = a.keys().filter(|t| b.get(*t) == a.get(*t)).collect();
        agreed.sort();
        if agreed.is_empty() {
            failures.push(format!(
                "{name}: strace's two runs differ in every task, so nothing was compared; \
                 make the program deterministic"
            ));
        }
        for task in &agreed {
            let theirs = &a[*task];
            for (backend, got) in [("native", &ours), ("strace", &parsed)] {
                match got.get(*task) {
                    None => failures.push(format!(
                        "{name}: task {task}: iolab ({backend} backend) shows no such task"
                    )),
                    Some(mine) => {
                        if let Some(d) = departure(theirs, mine) {
                            failures.push(format!("{name} ({backend} backend): task {task}: {d}"));
                        }
                    }
                }
            }
        }
        compared.push(format!("{name}: {} of {} tasks", agreed.len(), a.len()));
    }
    assert!(
        failures.is_empty(),
        "iolab's tracer departs from strace:\n\n{}\n\n(compared: {})",
        failures.join("\n\n"),
        compared.join(", ")
    );
}

#[test]
fn the_log_parser_names_tasks_by_birth() {
    let log = "\
10 clone3({flags=CLONE_VM, exit_signal=0}, 88 <unfinished ...>
11 set_robust_list(0x7f, 24) = 0
10 <... clone3 resumed>) = 11
10 fork() = 12
12 getpid() = 12
11 exit(0) = ?
11 +++ exited with 0 +++
12 +++ exited with 1 +++
10 --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED} ---
10 exit_group(0) = ?
10 +++ exited with 0 +++
";
    let t = tasks_of(log, "test");
    let shown = |k: &str| t[k].iter().map(Item::to_string).collect::<Vec<_>>();
    assert_eq!(
        shown("0"),
        [
            "clone3 = task 0.0",
            "fork = task 0.1",
            "exit_group = ?",
            "+++ exited with 0 +++",
            "--- SIGCHLD ---"
        ]
    );
    assert_eq!(
        shown("0.0"),
        ["set_robust_list = 0", "exit = ?", "+++ exited with 0 +++"]
    );
    assert_eq!(shown("0.1"), ["getpid = task 0.1", "+++ exited with 1 +++"]);
    // A departure names the first item that differs.
    let d = departure(&t["0"], &t["0.0"]).unwrap();
    assert!(d.contains("strace: clone3 = task 0.0"), "{d}");
}
