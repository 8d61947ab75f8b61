//! `make bench`: what tracing costs, iolab against strace, side by side in
//! one run on one machine. Prints medians and ratios (ratios are what
//! carries over to another machine), and iolab's peak memory.
//!
//! (a) a loop of `read` calls failing with `EAGAIN` (a busy-polling server's
//!     idle loop), traced in full, as a user runs each tool and with
//!     tracer and program pinned to one CPU (`taskset -c 0`);
//! (b) a loop of `getppid` calls under a filter that leaves them out
//!     (`-e trace=%net`): what a call the grader does not look at costs;
//! (c) grading each lab once, natively and under strace;
//! and iolab's peak RSS on (a) at 100k and 1M calls.
//!
//! `BENCH_N` sets the loop length (default 1000000), `BENCH_REPS` the runs
//! per figure (default 3; the median is shown; a run over 20 s is not
//! repeated). About 20 minutes on a 2-core machine, most of it strace's.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const IOLAB: &str = env!("CARGO_BIN_EXE_iolab");
const LOOP: &str = env!("CARGO_BIN_EXE_bench-loop");

/// One measured run: wall time, and the peak RSS of the process started.
struct Measure {
    wall: Duration,
    max_rss_kib: i64,
}

/// Runs `argv` to its end with no output, and measures it. Exits the
/// benchmark with a message if the command fails: a broken tool has no
/// timing.
fn measure(argv: &[&str]) -> Measure {
    let start = Instant::now();
    // Waited for below with wait4, which also gives its resource usage.
    #[allow(clippy::zombie_processes)]
    let child = Command::new(argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| fail(&format!("cannot run {}: {e}", argv[0])));
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value (plain integers).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: wait4 writes the status and the rusage through pointers to
    // live locals; the pid is our child, not waited for yet.
    let r = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    let wall = start.elapsed();
    if r != child.id() as i32 || !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        fail(&format!(
            "`{}` failed (wait status {status:#x})",
            argv.join(" ")
        ));
    }
    Measure {
        wall,
        max_rss_kib: usage.ru_maxrss,
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("bench: {msg}");
    std::process::exit(2);
}

/// A run this long is not repeated: its figure is one run (strace on a
/// million calls takes minutes, and its spread is small next to the ratios).
const LONG: Duration = Duration::from_secs(20);

/// The median of `reps` runs of `argv` (one run when the first is long).
fn median(reps: usize, argv: &[&str]) -> Measure {
    let first = measure(argv);
    if first.wall >= LONG {
        return first;
    }
    let mut runs: Vec<Measure> = std::iter::once(first)
        .chain((1..reps).map(|_| measure(argv)))
        .collect();
    runs.sort_by_key(|m| m.wall);
    runs.swap_remove(runs.len() / 2)
}

fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

fn ratio(a: Duration, b: Duration) -> String {
    format!("{:.2}", a.as_secs_f64() / b.as_secs_f64())
}

/// Prints one table: each row's median and its ratio to the first row
/// and to `against` (a row's label).
fn table(
    title: &str,
    reps: usize,
    rows: &[(&str, Vec<&str>)],
    against: &str,
) -> Vec<(String, Duration)> {
    println!("\n{title}");
    println!(
        "  {:<52} {:>10} {:>9} {:>9}",
        "",
        "median",
        "÷ first",
        format!("÷ {against}")
    );
    let measured: Vec<(String, Duration)> = rows
        .iter()
        .map(|(label, argv)| (label.to_string(), median(reps, argv).wall))
        .collect();
    let first = measured[0].1;
    let base = measured
        .iter()
        .find(|(l, _)| l == against)
        .map_or(first, |(_, d)| *d);
    for (label, wall) in &measured {
        println!(
            "  {label:<52} {:>10} {:>9} {:>9}",
            secs(*wall),
            ratio(*wall, first),
            ratio(*wall, base)
        );
    }
    measured
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is taken.
    let n: u64 = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(1_000_000);
    let reps: usize = std::env::var("BENCH_REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&r| r > 0)
        .unwrap_or(3);
    let n: &'static str = leak(n.to_string());
    if Command::new("strace").arg("-V").output().is_err() {
        fail("strace is not installed: the benchmark compares iolab with it (apt install strace)");
    }
    println!("iolab tracing benchmark: {n} calls per loop, median of {reps} runs");
    println!("machine: {}", machine());

    let quiet = ["-o", "/dev/null"];
    let strace = |extra: &[&'static str], what: &str| -> Vec<&'static str> {
        let mut v = vec!["strace", "-f", "-o", "/dev/null"];
        v.extend_from_slice(extra);
        v.extend([LOOP, leak(what.to_string()), n]);
        v
    };
    let iolab = |extra: &[&'static str], what: &str| -> Vec<&'static str> {
        let mut v = vec![IOLAB, "trace"];
        v.extend_from_slice(&quiet);
        v.extend_from_slice(extra);
        v.extend([LOOP, leak(what.to_string()), n]);
        v
    };
    let pinned = |v: Vec<&'static str>| -> Vec<&'static str> {
        let mut p = vec!["taskset", "-c", "0"];
        p.extend(v);
        p
    };

    let a = table(
        "(a) read() failing with EAGAIN, every call traced, as a user runs each tool",
        reps,
        &[
            ("untraced", vec![LOOP, "eagain", n]),
            ("iolab trace", iolab(&[], "eagain")),
            (
                "iolab trace -e trace=read",
                iolab(&["-e", "trace=read"], "eagain"),
            ),
            ("strace -f", strace(&[], "eagain")),
            (
                "strace -f --seccomp-bpf -e trace=read",
                strace(&["--seccomp-bpf", "-e", "trace=read"], "eagain"),
            ),
        ],
        "strace -f",
    );
    let a_pinned = table(
        "(a) the same, tracer and program pinned to one CPU (taskset -c 0)",
        reps,
        &[
            ("untraced", pinned(vec![LOOP, "eagain", n])),
            (
                "iolab trace --cpu same",
                pinned(iolab(&["--cpu", "same"], "eagain")),
            ),
            ("strace -f", pinned(strace(&[], "eagain"))),
        ],
        "strace -f",
    );
    table(
        "(a) iolab's placements, no taskset",
        reps,
        &[
            (
                "iolab trace --cpu auto (the default)",
                iolab(&["--cpu", "auto"], "eagain"),
            ),
            (
                "iolab trace --cpu same",
                iolab(&["--cpu", "same"], "eagain"),
            ),
            (
                "iolab trace --cpu spread",
                iolab(&["--cpu", "spread"], "eagain"),
            ),
        ],
        "iolab trace --cpu auto (the default)",
    );
    let b = table(
        "(b) getppid(), left out by the filter -e trace=%net",
        reps,
        &[
            ("untraced", vec![LOOP, "getppid", n]),
            (
                "iolab trace -e trace=%net",
                iolab(&["-e", "trace=%net"], "getppid"),
            ),
            (
                "strace -f --seccomp-bpf -e trace=%net",
                strace(&["--seccomp-bpf", "-e", "trace=%net"], "getppid"),
            ),
            ("strace -f (no filter)", strace(&[], "getppid")),
        ],
        "untraced",
    );

    println!("\n(c) grading each lab once (iolab grade labN)");
    println!(
        "  {:<8} {:>10} {:>10} {:>9}",
        "lab", "native", "strace", "ratio"
    );
    let mut worst = Duration::ZERO;
    for lab in iolab::labs::all() {
        let id = lab.id;
        let native = median(reps.min(3), &[IOLAB, "grade", id]).wall;
        let under = median(reps.min(3), &[IOLAB, "grade", id, "--backend", "strace"]).wall;
        worst = worst.max(native);
        println!(
            "  {id:<8} {:>10} {:>10} {:>9}",
            secs(native),
            secs(under),
            ratio(under, native)
        );
    }

    println!("\npeak RSS of iolab trace on (a)");
    let rss = |calls: &str| {
        median(
            1,
            &[
                IOLAB,
                "trace",
                "-o",
                "/dev/null",
                LOOP,
                "eagain",
                leak(calls.to_string()),
            ],
        )
        .max_rss_kib
    };
    let small = rss("100000");
    let large = rss("1000000");
    println!("  100k calls: {:.1} MiB", small as f64 / 1024.0);
    println!(
        "  1M calls:   {:.1} MiB ({:.2} × the 100k figure)",
        large as f64 / 1024.0,
        large as f64 / small as f64
    );

    let get = |rows: &[(String, Duration)], label: &str| {
        rows.iter()
            .find(|(l, _)| l == label)
            .map(|(_, d)| *d)
            .unwrap_or_else(|| fail(&format!("no row {label}")))
    };
    let targets = [
        (
            "(a) iolab trace / strace -f, unpinned <= 0.5",
            get(&a, "iolab trace").as_secs_f64() / get(&a, "strace -f").as_secs_f64(),
            0.5,
        ),
        (
            "(a) iolab trace / strace -f, both on one CPU <= 1.0",
            get(&a_pinned, "iolab trace --cpu same").as_secs_f64()
                / get(&a_pinned, "strace -f").as_secs_f64(),
            1.0,
        ),
        (
            "(b) iolab trace -e trace=%net / untraced <= 1.2",
            get(&b, "iolab trace -e trace=%net").as_secs_f64() / get(&b, "untraced").as_secs_f64(),
            1.2,
        ),
        (
            "peak RSS at 1M / at 100k <= 1.1",
            large as f64 / small as f64,
            1.1,
        ),
        ("peak RSS at 1M, MiB < 64", large as f64 / 1024.0, 64.0),
        (
            "slowest lab graded natively, s < 5",
            worst.as_secs_f64(),
            5.0,
        ),
    ];
    println!("\ntargets");
    let mut missed = 0;
    for (what, got, bound) in targets {
        let ok = got <= bound;
        missed += usize::from(!ok);
        println!(
            "  {} {what}: {got:.2}",
            if ok { "met   " } else { "MISSED" }
        );
    }
    if missed > 0 {
        println!("\n{missed} target(s) missed on this machine");
    }
}

/// A string that lives for the rest of the run (the benchmark's argument
/// lists are built once).
fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// What the figures came from: CPU model, CPUs, kernel.
fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let strace = Command::new("strace")
        .arg("-V")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|t| t.lines().next().map(str::to_string))
        .unwrap_or_default();
    format!("{cpu}, {cpus} CPUs, Linux {kernel}, {strace}")
}
