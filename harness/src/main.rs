//! `iolab`: trace any program, or grade a lab solution, from the command line.
//!
//! Exit codes: 0 success (full score), 1 points lost, 2 usage or harness error.
//!
//! No `unsafe` here: the library's `sys` layer holds all of it.
#![deny(unsafe_code)]

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Parser, Subcommand};

use iolab::filter::SyscallSet;
use iolab::grade::{self, Lab};
use iolab::limits::Limit;
use iolab::normalize::{normalize, raw_lines, side_by_side};
use iolab::report::Style;
use iolab::sandbox;
use iolab::scenario::{self, Limits};
use iolab::trace::Trace;
use iolab::tracer::strace::format::Formatter;
use iolab::tracer::{Backend, Placement, Spec, Tracer};

#[derive(Parser)]
#[command(
    name = "iolab",
    version,
    about = "Graded labs on I/O models, judged by tracing system calls"
)]
struct Cli {
    /// Set on the harness its watchdog starts (see `iolab::watchdog`):
    /// grade, rather than watch a grading.
    #[arg(long, hide = true)]
    watched: bool,
    #[command(subcommand)]
    command: Command,
}

/// Which tracer runs the program (also `IOLAB_BACKEND`).
#[derive(clap::Args, Clone, Copy)]
struct BackendArg {
    /// native: iolab's own ptrace tracer; strace: the system's strace 6.x.
    #[arg(
        long,
        value_name = "native|strace",
        env = "IOLAB_BACKEND",
        default_value = "native"
    )]
    backend: Backend,
}

/// Limits on the program under test, over the lab's own.
#[derive(clap::Args, Clone)]
struct LimitArgs {
    /// A limit, NAME=VALUE (repeatable, or comma-separated): time (per
    /// scenario), listen, grade (the whole grading, kept by a watchdog),
    /// cpu, memory, tasks, fsize, nofile; for example
    /// `--limit time=20s,memory=4G`. See the README for the defaults.
    #[arg(long = "limit", value_name = "NAME=VALUE", value_delimiter = ',')]
    limits: Vec<Limit>,
    /// Run the program in a sandbox (namespaces of its own, a read-only
    /// view, no privileges): auto, wherever this machine allows it, or off.
    #[arg(
        long,
        value_name = "auto|off",
        env = "IOLAB_SANDBOX",
        default_value = "auto"
    )]
    sandbox: iolab::sandbox::Mode,
}

impl LimitArgs {
    /// The lab's limits with these applied.
    fn apply(&self, lab: &Lab) -> Limits {
        let mut limits = lab.limits.clone();
        for l in &self.limits {
            limits.set(l.clone());
        }
        limits.sandbox = self.sandbox;
        limits
    }

    /// The lab's limits with these and `--listen-timeout` (which wins over
    /// `--limit listen=`) applied.
    fn for_grade(&self, lab: &Lab, listen_timeout: Option<u64>) -> Limits {
        let mut limits = self.apply(lab);
        if let Some(secs) = listen_timeout {
            limits.listen = Duration::from_secs(secs);
        }
        limits
    }

    /// The default limits with these applied (for any program, not a lab's).
    fn for_any(&self) -> Limits {
        let mut limits = Limits::default();
        for l in &self.limits {
            limits.set(l.clone());
        }
        limits.sandbox = self.sandbox;
        limits
    }
}

/// What `iolab trace` prints.
#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Eq)]
enum Format {
    /// The normalized transcript, at the end.
    Transcript,
    /// Every raw event as it happens.
    Raw,
    /// Every call as it happens, in strace's notation.
    Strace,
}

#[derive(Subcommand)]
enum Command {
    /// Run a program under the tracer and print its normalized syscall transcript.
    Trace {
        #[command(flatten)]
        backend: BackendArg,
        /// What to print.
        #[arg(long, value_enum, default_value = "transcript")]
        format: Format,
        /// Print every raw event as it happens (same as --format raw).
        #[arg(long)]
        raw: bool,
        /// Write the transcript to FILE instead of stdout.
        #[arg(short = 'o', long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Trace only these syscalls, in strace's syntax: `-e trace=%net,read`
        /// (names, %desc, %file, %net, %process, %signal, %ipc, %memory,
        /// %creds, %clock, all, none; a leading `!` negates). Only they stop
        /// the program (seccomp-bpf); spawns, execs, signals and exits are
        /// still followed.
        #[arg(short = 'e', value_name = "trace=SET")]
        expr: Option<SyscallSet>,
        /// Where the tracer and the program run: auto (one CPU while the
        /// program has one task), same (one CPU throughout) or spread (no
        /// pinning).
        #[arg(long, value_name = "auto|same|spread", default_value = "auto")]
        cpu: Placement,
        /// The program and its arguments.
        #[arg(
            required = true,
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "CMD"
        )]
        command: Vec<OsString>,
    },
    /// Grade a lab solution: run the lab's scenarios and print the score
    /// (`all`: every lab's own solution, one summary table).
    Grade {
        #[command(flatten)]
        backend: BackendArg,
        /// The lab: lab1, lab2, ... (or just the number), or `all`.
        lab: String,
        /// The solution to grade, as one shell-quoted string (default: the
        /// command in labs/labN/solution, run there, or else the lab's own binary).
        #[arg(long, value_name = "'CMD ARGS...'")]
        solution: Option<String>,
        /// Seconds the solution may take to start listening (default 10; wins over --limit listen=).
        #[arg(long, value_name = "SECS")]
        listen_timeout: Option<u64>,
        #[command(flatten)]
        limits: LimitArgs,
        /// Also write the result in Gradescope's results.json format to PATH.
        #[arg(long, value_name = "PATH")]
        json: Option<PathBuf>,
        /// Where each scenario's traces are kept (default: target/iolab
        /// next to the iolab binary); the report prints each failure's.
        #[arg(long, value_name = "DIR", env = "IOLAB_TRACES")]
        traces: Option<PathBuf>,
    },
    /// Probe any TCP server and name its I/O model: `io:`, `concurrency:`
    /// and `lock:` lines, then the trace lines behind each answer.
    Explain {
        #[command(flatten)]
        backend: BackendArg,
        #[command(flatten)]
        limits: LimitArgs,
        /// The server and its arguments; it must listen on TCP (any port:
        /// iolab finds it from the traced bind and listen).
        #[arg(
            required = true,
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "CMD"
        )]
        command: Vec<OsString>,
    },
    /// Write a student tree to DEST: the project with every lab's solution
    /// regions replaced by todo!() and the handout's instructions.
    Starter {
        /// The directory to create (it must not exist, or be empty).
        #[arg(long, value_name = "DIR")]
        dest: PathBuf,
        /// The instructor's tree (default: the one iolab was built from).
        #[arg(long, value_name = "DIR")]
        from: Option<PathBuf>,
    },
    /// Run a lab's standard scenario and print the normalized transcript
    /// (what `snapshots/` holds for the reference solution).
    Transcript {
        #[command(flatten)]
        backend: BackendArg,
        lab: String,
        #[arg(long, value_name = "'CMD ARGS...'")]
        solution: Option<String>,
        /// Which scenario (default: the lab's standard one).
        #[arg(long)]
        scenario: Option<String>,
        /// Print raw events instead.
        #[arg(long)]
        raw: bool,
        #[command(flatten)]
        limits: LimitArgs,
        /// Also run this scenario and print the two transcripts side by
        /// side, step by step (lab 4: `--scenario level --beside edge`).
        #[arg(long, value_name = "SCENARIO", conflicts_with = "raw")]
        beside: Option<String>,
    },
    /// List the labs.
    Labs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("iolab: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    if !cli.watched
        && let Some(watch) = Watch::of(&cli.command)?
    {
        return watch.supervise();
    }
    match cli.command {
        Command::Trace {
            backend,
            format,
            raw,
            output,
            expr,
            cpu,
            command,
        } => {
            let format = if raw { Format::Raw } else { format };
            let (program, args) = command
                .split_first()
                .ok_or_else(|| anyhow!("no program given"))?;
            let mut spec = Spec::new(program, args)
                .with_backend(backend.backend)
                .with_placement(cpu);
            if let Some(set) = expr {
                spec = spec.with_filter(set);
            }
            // The transcript folds EAGAIN storms anyway: the tracer folds
            // them as they stream, and memory stays flat however long the
            // storm. The raw and strace forms show every call.
            spec.collapse = format == Format::Transcript;
            trace(spec, format, output)
        }
        Command::Grade {
            backend,
            lab,
            solution,
            listen_timeout,
            limits,
            json,
            traces,
        } => {
            let traces = match traces {
                Some(dir) => dir,
                None => traces_dir()?,
            };
            if lab == "all" {
                if solution.is_some() || json.is_some() {
                    bail!(
                        "`iolab grade all` grades every lab's own solution; --solution and --json take one lab"
                    );
                }
                return grade_all(backend.backend, &limits, listen_timeout, &traces);
            }
            let lab = find_lab(&lab)?;
            let (spec, shown) = solution_spec(&lab, solution.as_deref())?;
            let spec = spec.with_backend(backend.backend);
            let limits = limits.for_grade(&lab, listen_timeout);
            if json.is_some()
                && limits.sandbox == sandbox::Mode::Auto
                && let sandbox::Status::Off(why) = sandbox::status(limits.sandbox)
            {
                // A result for a gradebook comes from a program that could
                // not forge it, unless someone chose otherwise.
                bail!(
                    "the grading cannot be sandboxed here ({why}), and --json writes a result \
                     only from a sandboxed grading; pass --sandbox off to write it anyway"
                );
            }
            let mut report = grade::grade(&lab, &spec, &shown, &limits)?;
            if let Err(e) = report.save_artifacts(&traces) {
                eprintln!("iolab: warning: the traces were not kept: {e}");
            }
            print!("{}", report.render_styled(Style::for_stdout()));
            if let Some(path) = json {
                let text = serde_json::to_string_pretty(&report.gradescope())?;
                write_atomically(&path, &(text + "\n"))
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            Ok(if report.full_marks() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Explain {
            backend,
            limits,
            command,
        } => {
            let (program, args) = command
                .split_first()
                .ok_or_else(|| anyhow!("no program given"))?;
            let spec = Spec::new(program, args).with_backend(backend.backend);
            let bounds = limits.for_any();
            let (explanation, run) = iolab::explain::explain(&spec, &bounds)?;
            print!("{}", explanation.render());
            if let Some(launcher) = &run.outcome.launched_by {
                println!("\nlaunched by: {launcher} (left out of the explanation)");
            }
            for f in &run.outcome.findings {
                println!("\nnoticed: {f}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Starter { dest, from } => {
            let from = match from {
                Some(dir) => dir,
                None => PathBuf::from(env!("CARGO_MANIFEST_DIR")),
            };
            let summary = iolab::starter::write_tree(&from, &dest)?;
            println!(
                "starter tree written to {}: {} files, {} solution regions in {} labs replaced by todo!()",
                dest.display(),
                summary.files,
                summary.regions,
                summary.labs.len()
            );
            println!(
                "left out: {} solution fixtures and the tests that run them",
                summary.left_out.len()
            );
            println!(
                "{} lab tests grade the student's solutions: `cargo test` every lab, `cargo test lab1` one",
                summary.lab_tests.len()
            );
            println!("next: cd {} && make lab1", dest.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Transcript {
            backend,
            lab,
            solution,
            scenario: name,
            raw,
            beside,
            limits,
        } => {
            let lab = find_lab(&lab)?;
            let limits = limits.apply(&lab);
            let (spec, _) = solution_spec(&lab, solution.as_deref())?;
            let spec = lab.traced(&spec.with_backend(backend.backend));
            let name = name.as_deref().unwrap_or(lab.standard);
            let find = |name: &str| {
                lab.scenarios
                    .iter()
                    .find(|s| s.name == name)
                    .ok_or_else(|| {
                        let known: Vec<&str> = lab.scenarios.iter().map(|s| s.name).collect();
                        anyhow!(
                            "{} has no scenario {name:?}; it has: {}",
                            lab.id,
                            known.join(", ")
                        )
                    })
            };
            let s = find(name)?;
            if let Some(other) = beside {
                let o = find(&other)?;
                let left = normalize(&scenario::run(&spec, s, &limits)?.trace).render();
                let right = normalize(&scenario::run(&spec, o, &limits)?.trace).render();
                print!("{}", side_by_side((name, &left), (&other, &right)));
                return Ok(ExitCode::SUCCESS);
            }
            let outcome = scenario::run(&spec, s, &limits)?;
            if raw {
                for l in raw_lines(&outcome.trace) {
                    println!("{l}");
                }
            } else {
                print!("{}", normalize(&outcome.trace).render());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Labs => {
            for lab in iolab::labs::all() {
                let points: u32 = lab.checks.iter().map(|c| c.points).sum();
                println!(
                    "{:<6} {} ({} checks, {points} points)",
                    lab.id,
                    lab.title,
                    lab.checks.len()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A grading to run under a watchdog: its bound, and what to write in its
/// place if it overruns it.
struct Watch {
    bound: Duration,
    /// `--json`'s path, the lab and the solution's text.
    json: Option<(PathBuf, Lab, Option<String>)>,
}

impl Watch {
    /// The watch `command` runs under: grading and explaining run programs
    /// under test, and are bounded from outside; the rest are not.
    fn of(command: &Command) -> Result<Option<Watch>> {
        Ok(Some(match command {
            Command::Grade {
                lab,
                solution,
                listen_timeout,
                limits,
                json,
                ..
            } => {
                let bounds = |lab: &Lab| limits.for_grade(lab, *listen_timeout);
                let bounded = |lab: &Lab| bounds(lab).whole(lab.scenarios.len());
                if lab == "all" {
                    let labs = iolab::labs::all();
                    // `--limit grade=` bounds the whole command, once.
                    let told = labs.first().and_then(|lab| bounds(lab).grade);
                    Watch {
                        bound: told.unwrap_or_else(|| labs.iter().map(bounded).sum()),
                        json: None,
                    }
                } else {
                    let lab = find_lab(lab)?;
                    Watch {
                        bound: bounded(&lab),
                        json: json.clone().map(|path| (path, lab, solution.clone())),
                    }
                }
            }
            Command::Explain { limits, .. } => {
                let bounds = limits.for_any();
                Watch {
                    bound: bounds.whole(1),
                    json: None,
                }
            }
            _ => return Ok(None),
        }))
    }

    /// Runs this very command again as the harness, under a watchdog, and
    /// ends as it ended.
    fn supervise(self) -> Result<ExitCode> {
        use std::os::unix::process::CommandExt;
        let started = std::time::SystemTime::now();
        let mut args = std::env::args_os();
        // The running binary itself, even if a rebuild replaced its path.
        let mut harness = std::process::Command::new("/proc/self/exe");
        harness
            .arg0(args.next().unwrap_or_else(|| "iolab".into()))
            .arg("--watched")
            .args(args);
        let status = match iolab::watchdog::supervise(&mut harness, self.bound)? {
            iolab::watchdog::Ending::Exited(status) => status,
            iolab::watchdog::Ending::Overran => return self.overran(started),
        };
        use std::os::unix::process::ExitStatusExt;
        Ok(match (status.code(), status.signal()) {
            (Some(code), _) => ExitCode::from(u8::try_from(code).unwrap_or(2)),
            (None, Some(signal)) => ExitCode::from(128u8.saturating_add(signal as u8)),
            (None, None) => ExitCode::from(2),
        })
    }

    /// Says that the grading overran its bound and was killed; with
    /// `--json`, writes a zero result saying so, unless the harness wrote
    /// its own before it hung.
    fn overran(self, started: std::time::SystemTime) -> Result<ExitCode> {
        let bound = iolab::limits::seconds(self.bound);
        let why = format!(
            "the grading did not end within its bound of {bound} (--limit grade=): \
             its watchdog killed the harness"
        );
        eprintln!("iolab: error: {why}");
        if let Some((path, lab, solution)) = self.json {
            let written = std::fs::metadata(&path)
                .and_then(|m| m.modified())
                .is_ok_and(|t| t >= started);
            if !written {
                let shown = solution_spec(&lab, solution.as_deref())
                    .map(|(_, shown)| shown)
                    .unwrap_or_else(|_| lab.binary.to_string());
                let report = grade::Report::not_run(&lab, &shown, &why);
                let text = serde_json::to_string_pretty(&report.gradescope())?;
                write_atomically(&path, &(text + "\n"))
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
        }
        Ok(ExitCode::from(2))
    }
}

fn find_lab(id: &str) -> Result<Lab> {
    iolab::labs::find(id).ok_or_else(|| {
        let known: Vec<&str> = iolab::labs::all().iter().map(|l| l.id).collect();
        anyhow!("no lab {id:?}; the labs are: {}", known.join(", "))
    })
}

/// The directory `iolab` was built into (`target/debug`), where the lab binaries live too.
fn build_dir() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find the iolab executable")?;
    Ok(exe.parent().map(Path::to_path_buf).unwrap_or_default())
}

/// The program to grade: `--solution`, or the lab's own (the command in
/// `labs/labN/solution`, or the binary built from `server.rs`).
fn solution_spec(lab: &Lab, solution: Option<&str>) -> Result<(Spec, String)> {
    let solution = match solution {
        Some(line) => iolab::solution::command(line)?,
        None => iolab::solution::of_lab(
            lab.id,
            &iolab::solution::lab_dir(lab.id),
            &build_dir()?.join(lab.binary),
        )?,
    };
    Ok((solution.spec, solution.shown))
}

/// Where grading keeps traces by default: `target/iolab`, next to the
/// directory iolab was built into.
fn traces_dir() -> Result<PathBuf> {
    Ok(iolab::solution::traces_dir(&build_dir()?))
}

/// `iolab grade all`: every lab's own solution, then one summary table.
fn grade_all(
    backend: Backend,
    limits: &LimitArgs,
    listen_timeout: Option<u64>,
    traces: &Path,
) -> Result<ExitCode> {
    let mut rows = Vec::new();
    let mut all_full = true;
    for lab in iolab::labs::all() {
        let bounds = limits.for_grade(&lab, listen_timeout);
        eprintln!("grading {} ...", lab.id);
        // One lab the harness could not run (not built, say) does not
        // stop the table.
        let mut report = match solution_spec(&lab, None) {
            Ok((spec, shown)) => {
                match grade::grade(&lab, &spec.with_backend(backend), &shown, &bounds) {
                    Ok(report) => report,
                    Err(e) => grade::Report::not_run(&lab, &shown, &e.to_string()),
                }
            }
            Err(e) => grade::Report::not_run(&lab, lab.binary, &format!("{e:#}")),
        };
        if let Err(e) = report.save_artifacts(traces) {
            eprintln!("iolab: warning: {}: the traces were not kept: {e}", lab.id);
        }
        all_full &= report.full_marks();
        rows.push(report);
    }
    print!("{}", iolab::report::summary(&rows, Style::for_stdout()));
    Ok(if all_full {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `iolab trace`: the program keeps the terminal; Ctrl-C stops it and everything it spawned.
fn trace(mut spec: Spec, format: Format, output: Option<PathBuf>) -> Result<ExitCode> {
    spec.capture_output = false;
    spec.null_stdin = false;
    spec.own_process_group = false;
    let interrupted = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGINT, Arc::clone(&interrupted))?;
    signal_hook::flag::register(signal_hook::consts::SIGTERM, Arc::clone(&interrupted))?;
    let tracer = Tracer::spawn(&spec)?;
    let mut trace = Trace::new();
    let mut out: Box<dyn Write> = match &output {
        Some(path) => Box::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        ),
        None => Box::new(std::io::stdout()),
    };
    let mut killed = false;
    let mut strace = Formatter::new();
    // The raw and strace forms print as they go and keep only how the
    // program ended; the transcript needs the whole (folded) trace.
    let mut root = None;
    loop {
        if interrupted.load(Ordering::SeqCst) && !killed {
            tracer.kill_all();
            killed = true;
        }
        match tracer.events.recv_timeout(Duration::from_millis(50)) {
            Ok(e) => {
                match format {
                    Format::Raw => {
                        let one = Trace::from_events([e.clone()]);
                        for l in raw_lines(&one) {
                            writeln!(out, "{l}")?;
                        }
                    }
                    Format::Strace => {
                        for l in strace.event(&e) {
                            writeln!(out, "{l}")?;
                        }
                    }
                    Format::Transcript => {}
                }
                if let iolab::trace::EventKind::Gone(how) = &e.kind
                    && e.tid == tracer.root
                {
                    root = Some(*how);
                }
                if format == Format::Transcript {
                    trace.push(e);
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    tracer.wait()?;
    match format {
        Format::Transcript => write!(out, "{}", normalize(&trace).render_with_counts())?,
        Format::Strace => {
            for l in strace.finish() {
                writeln!(out, "{l}")?;
            }
        }
        Format::Raw => {}
    }
    out.flush()?;
    Ok(match root {
        Some(iolab::trace::Termination::Exited(0)) => ExitCode::SUCCESS,
        _ => ExitCode::from(1),
    })
}

/// Writes `text` to `path` whole or not at all: into a new file beside it,
/// synced, then renamed over it (written after the program and everything
/// it started are gone: nothing of theirs can have it open).
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(text.as_bytes())?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}
