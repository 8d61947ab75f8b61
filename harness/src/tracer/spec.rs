//! What to trace and how: the [`Spec`] a caller fills in, the [`Backend`]
//! that runs it, the [`Placement`] of tracer and program on the CPUs, and
//! the command both backends start (limits and fences applied between fork
//! and exec). Both backends read it; it knows neither.

use std::ffi::{OsStr, OsString};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use nix::sys::resource::Resource;

use crate::fence::Cgroup;
use crate::filter::SyscallSet;
use crate::limits::{Resources, clamped};
use crate::sys::process::ChildSetup;

/// Which tracer runs the program.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Backend {
    /// iolab's own ptrace tracer: needs nothing installed.
    #[default]
    Native,
    /// The system's `strace` (6.x), its output decoded into the same events.
    Strace,
}

impl Backend {
    pub const ALL: [Backend; 2] = [Backend::Native, Backend::Strace];

    pub fn name(self) -> &'static str {
        match self {
            Backend::Native => "native",
            Backend::Strace => "strace",
        }
    }

    /// The backend `IOLAB_BACKEND` names (native when unset). The test suite
    /// runs under the backend this says.
    pub fn from_env() -> Result<Backend, String> {
        match std::env::var("IOLAB_BACKEND") {
            Ok(v) if !v.is_empty() => v.parse(),
            _ => Ok(Backend::Native),
        }
    }
}

impl std::str::FromStr for Backend {
    type Err = String;

    fn from_str(s: &str) -> Result<Backend, String> {
        match s {
            "native" => Ok(Backend::Native),
            "strace" => Ok(Backend::Strace),
            other => Err(format!(
                "unknown tracer backend {other:?}: use native or strace"
            )),
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What to run and how to connect its standard streams.
#[derive(Clone, Debug)]
pub struct Spec {
    /// Which tracer runs it.
    pub backend: Backend,
    pub program: OsString,
    pub args: Vec<OsString>,
    /// Pipe stdout and stderr back to the harness (else inherit them).
    pub capture_output: bool,
    /// Give the program `/dev/null` as stdin (else inherit it).
    pub null_stdin: bool,
    /// Start the program in a process group of its own.
    pub own_process_group: bool,
    /// Bounds on the program and everything it spawns (`None`: unbounded,
    /// as for `iolab trace`). Each run with bounds also gets a cgroup of its
    /// own where the machine allows one.
    pub resources: Option<Resources>,
    /// Extra environment variables for the program.
    pub env: Vec<(OsString, OsString)>,
    /// Stop only on these syscalls (`None`: on every one). The native
    /// tracer has the kernel filter them (seccomp-bpf); strace gets
    /// `--seccomp-bpf -e trace=`. Spawns, execs, signals and exits are
    /// followed either way.
    pub filter: Option<SyscallSet>,
    /// Fold a task's run of identical calls that fail with `EAGAIN` into
    /// the first one and an [`EventKind::Repeat`](crate::trace::EventKind::Repeat) count, in the tracer, so
    /// that an `EAGAIN` storm costs no memory (native backend; for
    /// `iolab trace`, not for grading, which watches every call live).
    pub collapse: bool,
    /// Where the tracer and the program run (native backend).
    pub placement: Placement,
    /// The program's working directory (`None`: the harness's). A
    /// relative program path is not resolved against it: give a path
    /// that names the file from here, or a name found on `PATH`.
    pub cwd: Option<std::path::PathBuf>,
    /// Run it in the sandbox ([`crate::sandbox`]): namespaces of its own, a
    /// read-only view, no privileges, an allowlisted environment. The
    /// caller checks first that the machine allows it
    /// ([`crate::sandbox::status`]).
    pub sandbox: bool,
}

/// Where the native tracer thread and the traced program run.
///
/// Each ptrace stop hands the CPU from the tracee to the tracer and back.
/// On one CPU that is a plain context switch; across two, each hand-off
/// wakes a CPU that went idle (an inter-processor interrupt, often out of
/// a deep idle state), several times slower per stop. But a program with
/// several threads or processes must be free to run them in parallel, and
/// one that sizes a pool from its CPU affinity at start-up (Go's
/// `GOMAXPROCS`, `available_parallelism`) would see one CPU when pinned.
/// So grading does not pin (its cost is settling, not stops), and
/// `iolab trace` pins a single task (`Auto`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Placement {
    /// Tracer and program share one CPU while the program is a single
    /// task, and go back to every allowed CPU at its first thread or child.
    Auto,
    /// Tracer and program share one CPU for the whole run.
    Same,
    /// No pinning: the scheduler decides.
    #[default]
    Spread,
}

impl std::str::FromStr for Placement {
    type Err = String;

    fn from_str(s: &str) -> Result<Placement, String> {
        match s {
            "auto" => Ok(Placement::Auto),
            "same" => Ok(Placement::Same),
            "spread" => Ok(Placement::Spread),
            other => Err(format!(
                "unknown CPU placement {other:?}: use auto, same or spread"
            )),
        }
    }
}

impl Spec {
    pub fn new(
        program: impl Into<OsString>,
        args: impl IntoIterator<Item = impl Into<OsString>>,
    ) -> Spec {
        Spec {
            backend: Backend::Native,
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
            capture_output: true,
            null_stdin: true,
            own_process_group: true,
            resources: None,
            env: Vec::new(),
            filter: None,
            collapse: false,
            placement: Placement::default(),
            cwd: None,
            sandbox: false,
        }
    }
}

impl Spec {
    /// The same, traced by `backend`.
    pub fn with_backend(mut self, backend: Backend) -> Spec {
        self.backend = backend;
        self
    }

    /// The same, bounded by `resources`.
    pub fn with_resources(mut self, resources: Resources) -> Spec {
        self.resources = Some(resources);
        self
    }

    /// The same, stopping only on the syscalls of `filter` (all of them
    /// when it holds every syscall).
    pub fn with_filter(mut self, filter: SyscallSet) -> Spec {
        self.filter = (!filter.is_all()).then_some(filter);
        self
    }

    /// The same, run with this CPU placement.
    pub fn with_placement(mut self, placement: Placement) -> Spec {
        self.placement = placement;
        self
    }

    /// The same, run in directory `dir`.
    pub fn with_cwd(mut self, dir: impl Into<std::path::PathBuf>) -> Spec {
        self.cwd = Some(dir.into());
        self
    }

    /// The same, with `name=value` in the program's environment.
    pub fn with_env(mut self, name: impl Into<OsString>, value: impl Into<OsString>) -> Spec {
        self.env.push((name.into(), value.into()));
        self
    }

    /// What the child of either backend does between fork and exec: join
    /// the run's cgroup, take the limits, and (natively, `traceme`) ask to
    /// be traced. Under strace, strace takes them and passes them on to the
    /// program (a limit per process: strace's own use is small).
    pub(crate) fn child_setup(&self, fence: Option<&Cgroup>, traceme: bool) -> ChildSetup {
        let mut rlimits = match &self.resources {
            Some(r) => clamped(&r.rlimits()),
            // No core files even unbounded: a crash (lab 6's `crash` line)
            // must not litter the disk.
            None => vec![(Resource::RLIMIT_CORE, 0, 0)],
        };
        if !traceme {
            // strace itself may use more CPU than the program: the program
            // gets its CPU limit from the strace backend once it runs.
            rlimits.retain(|&(resource, ..)| resource != Resource::RLIMIT_CPU);
        }
        ChildSetup::new(fence.map(|f| f.procs().clone()), rlimits, traceme)
    }

    /// Which of the harness's environment variables the program gets.
    pub(crate) fn inherit(&self) -> fn(&OsStr) -> bool {
        if self.sandbox {
            crate::sandbox::allowed_env
        } else {
            |_| true
        }
    }

    /// The command both backends start, `setup` taken between fork and
    /// exec: `program args` natively, strace under strace; sandboxed, the
    /// child also confines itself (and strace with it, so that both run in
    /// the same namespaces).
    pub(crate) fn command(
        &self,
        program: &OsStr,
        args: &[OsString],
        mut setup: ChildSetup,
    ) -> std::io::Result<(Command, Option<crate::sandbox::Namespace>)> {
        let mut namespace = None;
        let mut command = Command::new(program);
        command.args(args);
        if self.sandbox {
            command.env_clear();
            command.envs(std::env::vars_os().filter(|(k, _)| crate::sandbox::allowed_env(k)));
            let cwd = match &self.cwd {
                Some(dir) => dir.clone(),
                None => std::env::current_dir()?,
            };
            let argv: Vec<&OsStr> = std::iter::once(program)
                .chain(args.iter().map(OsString::as_os_str))
                .collect();
            let (confine, ns) = crate::sandbox::confine(&cwd, &argv)?;
            setup.confine(confine);
            namespace = Some(ns);
        }
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        if let Some(dir) = &self.cwd {
            // std changes directory in the child before the setup below runs.
            command.current_dir(dir);
        }
        if self.null_stdin {
            command.stdin(Stdio::null());
        }
        if self.capture_output {
            command.stdout(Stdio::piped()).stderr(Stdio::piped());
        }
        if self.own_process_group {
            command.process_group(0);
        }
        setup.apply(&mut command);
        Ok((command, namespace))
    }
}
