//! What the tests share: grading a binary with a process-table check,
//! asserting which checks fail and why, the snapshot of a scenario, and the
//! backends' parity. The harness's tests and every lab's tests
//! (`labs/labN/tests/`, which include this file by path) use it.

#![allow(dead_code)] // each test crate uses its own subset

use iolab::grade::{Lab, Report, grade};
use iolab::normalize::normalize;
use iolab::scenario;
use iolab::tracer::{Backend, Spec};

/// The backend the suite runs under: `IOLAB_BACKEND` (native by default).
pub fn backend() -> Backend {
    Backend::from_env().unwrap_or_else(|e| panic!("IOLAB_BACKEND: {e}"))
}

/// A spec for `program args` under the suite's backend.
pub fn spec(program: &str, args: &[&str]) -> Spec {
    Spec::new(program, args.iter().copied()).with_backend(backend())
}

pub fn lab(id: &str) -> Lab {
    iolab::labs::find(id).unwrap_or_else(|| panic!("{id} exists"))
}

/// Grades `program args` as a solution of lab `id` and checks that the run
/// left no process behind, by the harness's accounting and by `/proc`.
pub fn grade_program(id: &str, program: &str, args: &[&str]) -> Report {
    let spec = spec(program, args);
    let shown = std::iter::once(program)
        .chain(args.iter().copied())
        .collect::<Vec<_>>()
        .join(" ");
    let lab = lab(id);
    let report = grade(&lab, &spec, &shown, &lab.limits).expect("the harness runs");
    assert_nothing_left(&report, &shown);
    record_grade(&report);
    report
}

/// Asserts that the grading left no process behind: by the harness's own
/// accounting, and by the process table (every process it traced is gone).
pub fn assert_nothing_left(report: &Report, shown: &str) {
    assert_nothing_left_by(&report.accounting, shown);
}

/// The same, from a run's accounting.
pub fn assert_nothing_left_by(accounting: &iolab::scenario::Accounting, shown: &str) {
    assert!(
        !accounting.processes.is_empty(),
        "{shown}: the harness traced no process at all"
    );
    assert!(
        accounting.left_running.is_empty(),
        "{shown}: processes left running: {:?}",
        accounting.left_running
    );
    for pid in &accounting.processes {
        assert!(
            !running(*pid),
            "{shown}: traced process {pid} still runs after the run"
        );
    }
}

/// Asserts that exactly `failing` checks fail, each message (or its trace
/// evidence) containing its text.
pub fn assert_fails(report: &Report, failing: &[(&str, &str)]) {
    let text = report.render();
    let mut expected: Vec<&str> = failing.iter().map(|(id, _)| *id).collect();
    expected.sort_unstable();
    let mut failed = report.failed();
    failed.sort_unstable();
    assert_eq!(failed, expected, "wrong checks failed; report:\n{text}");
    for (id, needle) in failing {
        let result = report.result(id).expect("check exists");
        let all = format!(
            "{}\n{}",
            result.verdict.message,
            result.verdict.evidence.join("\n")
        );
        assert!(
            all.contains(needle),
            "check {id}: expected {needle:?} in:\n{all}"
        );
    }
    assert!(text.ends_with(&format!("Score: {}/100\n", report.score())));
}

/// Full marks, on a rubric worth 100.
pub fn assert_full_marks(report: &Report) {
    assert_eq!(report.max(), 100);
    assert_eq!(report.score(), 100, "{}", report.render());
}

/// The snapshot form of scenario `name` of lab `id` run against `program`
/// (with the scenario's own extra arguments).
pub fn transcript(id: &str, name: &str, program: &str) -> String {
    transcript_under(backend(), id, name, program)
}

/// The same, under a given backend.
pub fn transcript_under(backend: Backend, id: &str, name: &str, program: &str) -> String {
    let lab = lab(id);
    let scenario = lab
        .scenarios
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("{id} has a scenario {name}"));
    let spec = lab.traced(&Spec::new(program, Vec::<String>::new()).with_backend(backend));
    let outcome = scenario::run(&spec, scenario, &lab.limits)
        .unwrap_or_else(|e| panic!("{id} {name} under {backend}: {e}"));
    normalize(&outcome.trace).render()
}

/// The transcript of scenario `name` of lab `id` against `program`, after
/// checking it is the same in three runs.
pub fn stable_transcript(id: &str, name: &str, program: &str) -> String {
    let runs: Vec<String> = (0..3).map(|_| transcript(id, name, program)).collect();
    assert_eq!(runs[0], runs[1], "{id} {name}: runs 1 and 2 differ");
    assert_eq!(runs[1], runs[2], "{id} {name}: runs 2 and 3 differ");
    runs.into_iter().next().expect("three runs")
}

/// For `make stress`: when `IOLAB_RECORD` names a directory, writes the
/// report's score and failed checks to `DIR/scores/`, one file per lab and
/// solution, so that runs of the suite can be compared.
pub fn record_grade(report: &Report) {
    let Some(dir) = std::env::var_os("IOLAB_RECORD") else {
        return;
    };
    // A port given on the command line changes run to run: not recorded.
    let mut words: Vec<&str> = report.solution.split(' ').collect();
    for i in 1..words.len() {
        if words[i - 1] == "--port" {
            words[i] = "N";
        }
    }
    let solution: String = words
        .join(" ")
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut failed = report.failed();
    failed.sort_unstable();
    record(
        std::path::Path::new(&dir).join("scores"),
        &format!("{}-{solution}", report.lab),
        &format!(
            "{} {solution} {}/{} {}\n",
            report.lab,
            report.score(),
            report.max(),
            failed.join(",")
        ),
    );
}

/// Writes `text` to `dir/name`; a second record of the same name must be
/// the same (the same solution graded twice in one run).
fn record(dir: std::path::PathBuf, name: &str, text: &str) {
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(name);
    if let Ok(before) = std::fs::read_to_string(&path) {
        assert_eq!(before, text, "{name} recorded twice, differently");
        return;
    }
    std::fs::write(&path, text).expect("IOLAB_RECORD is writable");
}

/// Asserts the transcript matches the accepted snapshot `snapshots/<name>.snap`.
pub fn assert_snapshot(name: &str, transcript: &str) {
    if let Some(dir) = std::env::var_os("IOLAB_RECORD") {
        record(
            std::path::Path::new(&dir).join("snapshots"),
            name,
            transcript,
        );
    }
    insta::with_settings!({snapshot_path => "../../../snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!(name, transcript);
    });
}

/// The pids in the process table whose `/proc/<pid>/FILE`, as its
/// NUL-separated entries (`cmdline`: argv, `environ`: the environment it
/// started with), satisfies `pred`.
pub fn processes_with(file: &str, pred: impl Fn(&[&[u8]]) -> bool) -> Vec<String> {
    std::fs::read_dir("/proc")
        .expect("/proc is readable")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter(|e| {
            std::fs::read(e.path().join(file))
                .is_ok_and(|text| pred(&text.split(|&b| b == 0).collect::<Vec<_>>()))
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// Whether `pid` is a live process (a zombie waiting for its parent to reap
/// it no longer runs).
pub fn running(pid: i32) -> bool {
    !matches!(iolab::procfs::task_state(pid, pid), None | Some('Z' | 'X'))
}

/// The Python interpreter itself (`sys.executable`), not a wrapper such as
/// a pyenv shim, whose own forks would show in the trace. Fails the test
/// with a clear message when there is no `python3`.
pub fn python() -> &'static str {
    static PYTHON: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PYTHON.get_or_init(|| {
        let out = std::process::Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .unwrap_or_else(|e| {
                panic!("these tests run Python fixtures and need python3 on PATH: {e}")
            });
        assert!(out.status.success(), "python3 failed: {out:?}");
        String::from_utf8(out.stdout)
            .expect("a path")
            .trim()
            .to_string()
    })
}

/// The top of the tree: this test's package, or the workspace above a lab's.
pub fn root() -> std::path::PathBuf {
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .find(|d| d.join("snapshots").is_dir() && d.join("labs").is_dir())
        .unwrap_or(here)
        .to_path_buf()
}

/// The path of binary `name` of any package of the workspace (a lab's
/// solution or variant, a fixture), built into the target directory this
/// test runs from: `cargo test` at the top builds them all before any test.
pub fn bin(name: &str) -> String {
    let exe = std::env::current_exe().expect("the test knows its path");
    // target/debug/deps/TEST-HASH: the binaries are in target/debug.
    let dir = exe
        .parent()
        .and_then(std::path::Path::parent)
        .expect("a test runs from target/*/deps");
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is not built: run `cargo test` at the top of the tree (it builds every lab), or `cargo build --workspace --bins` first",
        path.display()
    );
    path.to_string_lossy().into_owned()
}

/// `fixtures/python/NAME.py`.
pub fn python_fixture(name: &str) -> String {
    root()
        .join(format!("fixtures/python/{name}.py"))
        .to_string_lossy()
        .into_owned()
}

/// A JSON value's violations of a JSON Schema (the subset the Gradescope
/// schema uses: type, enum, required, properties, additionalProperties,
/// items, minimum), each with its path; empty when it conforms.
pub fn schema_violations(schema: &serde_json::Value, value: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    check_schema(schema, value, "$", &mut out);
    out
}

fn check_schema(
    schema: &serde_json::Value,
    value: &serde_json::Value,
    at: &str,
    out: &mut Vec<String>,
) {
    use serde_json::Value;
    if let Some(t) = schema.get("type").and_then(Value::as_str) {
        let ok = match t {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "number" => value.is_number(),
            "integer" => value.is_i64() || value.is_u64(),
            "boolean" => value.is_boolean(),
            other => panic!("schema type {other} is not supported"),
        };
        if !ok {
            out.push(format!("{at}: expected {t}, got {value}"));
            return;
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(value)
    {
        out.push(format!("{at}: {value} is not one of {options:?}"));
    }
    if let (Some(min), Some(n)) = (
        schema.get("minimum").and_then(Value::as_f64),
        value.as_f64(),
    ) && n < min
    {
        out.push(format!("{at}: {n} is below {min}"));
    }
    if let Some(object) = value.as_object() {
        let properties = schema.get("properties").and_then(Value::as_object);
        for name in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !object.contains_key(name) {
                out.push(format!("{at}: missing {name}"));
            }
        }
        for (name, v) in object {
            match properties.and_then(|p| p.get(name)) {
                Some(s) => check_schema(s, v, &format!("{at}.{name}"), out),
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    out.push(format!("{at}: unexpected property {name}"));
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, v) in array.iter().enumerate() {
            check_schema(items, v, &format!("{at}[{i}]"), out);
        }
    }
}

/// The Gradescope results.json schema of `fixtures/gradescope/`.
pub fn gradescope_schema() -> serde_json::Value {
    let path = root().join("fixtures/gradescope/results.schema.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("the schema is there"))
        .expect("the schema is JSON")
}

// The two backends agree. For every lab, the transcript of each snapshot
// scenario is the same byte for byte under the native tracer and under
// strace (and is the accepted snapshot: snapshots are shared, not kept per
// backend), and grading gives the same verdict on every check, for the
// reference solution and for a known-wrong one (each lab's `parity` test).

/// Both backends' transcripts of `scenario`, equal, and the snapshot.
pub fn same_transcript(id: &str, scenario: &str, snapshot: &str, program: &str) {
    let native = transcript_under(Backend::Native, id, scenario, program);
    let strace = transcript_under(Backend::Strace, id, scenario, program);
    if native != strace {
        panic!(
            "{id} {scenario}: the backends disagree\n{}",
            iolab::normalize::side_by_side(("native", &native), ("strace", &strace))
        );
    }
    assert_snapshot(snapshot, &native);
}

fn grade_under(backend: Backend, id: &str, program: &str, args: &[&str]) -> Report {
    let spec = Spec::new(program, args.iter().copied()).with_backend(backend);
    grade(
        &lab(id),
        &spec,
        program,
        &iolab::scenario::Limits::default(),
    )
    .unwrap_or_else(|e| panic!("{id} under {backend}: {e}"))
}

/// Every check's verdict (pass or fail) under both backends, equal.
pub fn same_grade(id: &str, program: &str, args: &[&str]) {
    let native = grade_under(Backend::Native, id, program, args);
    let strace = grade_under(Backend::Strace, id, program, args);
    let verdicts = |r: &Report| -> Vec<(String, bool)> {
        r.results
            .iter()
            .map(|c| (c.id.to_string(), c.verdict.passed))
            .collect()
    };
    assert_eq!(
        verdicts(&native),
        verdicts(&strace),
        "{id} {args:?}: the backends grade differently\n--- native ---\n{}\n--- strace ---\n{}",
        native.render(),
        strace.render()
    );
    assert_eq!(native.score(), strace.score());
}
