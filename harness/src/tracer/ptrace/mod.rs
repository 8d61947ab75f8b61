//! The native backend: runs the program under ptrace on a thread of its
//! own and streams each syscall entry and exit, signal, spawn, exec and
//! exit as an [`Event`] as it happens.
//!
//! The pitfalls of `docs/harness/ptrace-pitfalls.md` and how they are met
//! here (that page also says which ones are not, and why):
//! - statuses are reaped with `waitpid(-1, __WALL | __WNOTHREAD)` from the
//!   tracer thread, which sees only this thread's tracees: several traces in
//!   one process (parallel tests) never steal each other's statuses;
//! - entry and exit are told apart by `PTRACE_GET_SYSCALL_INFO`, not by a
//!   toggled flag, and each task has its own pending-syscall slot;
//! - a new task's initial `SIGSTOP` is suppressed whether it arrives before or
//!   after its parent's clone event; every other signal is passed on;
//! - vfork parents and children are handled independently (nothing waits for
//!   a particular task);
//! - an exec from a non-leader thread moves that thread's state to the leader tid;
//! - `PTRACE_O_EXITKILL` kills every tracee if the tracer thread dies, and
//!   `ESRCH` from any request (a tracee killed meanwhile) is tolerated.

mod seccomp;

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::process::Child;
use std::sync::Arc;
use std::sync::mpsc::{self, Sender};
use std::time::Instant;

use nix::errno::Errno;
use nix::sched::{CpuSet, sched_getaffinity, sched_getcpu, sched_setaffinity};
use nix::sys::ptrace::{self, Options};
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use super::decode::pids::PidMap;
use super::decode::{self, Memory};
use super::error::TraceError;
use super::shared::{Shared, Started};
use super::spec::{Placement, Spec};
use crate::fence::{self, Cgroup};
use crate::filter::SyscallSet;
use crate::procfs::status_field;
use crate::sys::ptrace::{Resume, Status, SyscallInfo, resume, syscall_info, wait_traced};
use crate::trace::{Arg, Event, EventKind, SpawnKind, Termination, Tid};

/// A task (thread) the tracer follows.
#[derive(Debug)]
struct Task {
    pid: Tid,
    /// The syscall it is inside, if the tracer stopped at its entry.
    pending: Option<Pending>,
    /// A new task whose initial SIGSTOP has not been seen yet.
    expect_initial_stop: bool,
    /// The path of the `execve` it is inside, read at entry (the old
    /// image, and the path with it, is gone by the exec event).
    exec_path: Option<String>,
    /// Its last call, when it failed with `EAGAIN` (with [`Spec::collapse`]):
    /// the same call again with the same result is a repeat.
    last_eagain: Option<(u64, [u64; 6])>,
    /// Repeats of that call not reported yet.
    repeats: u64,
    /// Its last shown call was interrupted to be resumed by
    /// `restart_syscall`, which is then shown too.
    restarting: bool,
}

/// A syscall a task is inside.
#[derive(Clone, Copy, Debug)]
struct Pending {
    nr: u64,
    args: [u64; 6],
    /// Its entry was sent as an event (the set shows it, and it is not
    /// held back as a possible repeat).
    sent: bool,
    /// The set shows it (else the tracer stopped on it for itself).
    shown: bool,
}

impl Task {
    fn new(pid: Tid, expect_initial_stop: bool) -> Task {
        Task {
            pid,
            pending: None,
            expect_initial_stop,
            exec_path: None,
            last_eagain: None,
            repeats: 0,
            restarting: false,
        }
    }
}

fn ptrace_options(filtered: bool) -> Options {
    let options = Options::PTRACE_O_TRACESYSGOOD
        | Options::PTRACE_O_TRACECLONE
        | Options::PTRACE_O_TRACEFORK
        | Options::PTRACE_O_TRACEVFORK
        | Options::PTRACE_O_TRACEEXEC
        | Options::PTRACE_O_EXITKILL;
    if filtered {
        options | Options::PTRACE_O_TRACESECCOMP
    } else {
        options
    }
}

/// Syscalls the native tracer stops on for itself whenever it filters:
/// `execve` for the path as the program gave it, `restart_syscall` to see a
/// shown call that a signal interrupted go on (it is shown then, as the
/// call the task is inside). Otherwise they are sent as events only when
/// the set shows them.
const ALWAYS_STOPPED: &[&str] = &["execve", "execveat", "restart_syscall"];

/// The errno a call interrupted by a signal returns when the kernel will
/// resume it with `restart_syscall` (`ERESTART_RESTARTBLOCK`).
const ERESTART_RESTARTBLOCK: i64 = 516;

/// Calls a run of `EAGAIN` repeats may fold: their entry reads no memory
/// the call writes, so an entry decoded late (when a held repeat turns out
/// not to be one) shows what it showed at entry.
const FOLDABLE: &[&str] = &["read", "readv", "write", "writev", "sendto", "recvfrom"];

/// The path `program` runs from: itself when it names a file, else the
/// first executable of that name on `PATH` (the program's, if `env` sets
/// it): the exec must get the very pointer the seccomp program lets
/// through, not a `PATH` search's copies.
fn resolve(program: &std::ffi::OsStr, env: &[(OsString, OsString)]) -> std::io::Result<OsString> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::PermissionsExt;
    if program.as_bytes().contains(&b'/') {
        return Ok(program.to_owned());
    }
    let path = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.clone())
        .or_else(|| std::env::var_os("PATH"))
        .unwrap_or_else(|| "/usr/bin:/bin".into());
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(program);
        if let Ok(meta) = std::fs::metadata(&candidate)
            && meta.is_file()
            && meta.permissions().mode() & 0o111 != 0
        {
            return Ok(candidate.into_os_string());
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::NotFound,
        "no such program on PATH",
    ))
}

/// The CPU the calling thread runs on, alone in a set.
fn this_cpu() -> Option<CpuSet> {
    let cpu = sched_getcpu().ok()?;
    let mut set = CpuSet::new();
    set.set(cpu).ok()?;
    Some(set)
}

/// Runs `spec` under ptrace, sending events on `tx` until every tracee is gone.
pub(crate) fn trace_thread(
    spec: Spec,
    fence: Option<&Cgroup>,
    shared: Arc<Shared>,
    tx: Sender<Event>,
    started: mpsc::SyncSender<Started>,
) -> Result<(), TraceError> {
    let spawn_error = |error| TraceError::Spawn {
        program: spec.program.to_string_lossy().into_owned(),
        error,
    };
    let filtered = spec.filter.is_some();
    let program = if filtered {
        match resolve(&spec.program, &spec.env) {
            Ok(p) => p,
            Err(error) => {
                let _ = started.send(Err(spawn_error(error)));
                return Ok(());
            }
        }
    } else {
        spec.program.clone()
    };
    let mut setup = spec.child_setup(fence, true);
    // Pinned: this thread and the program on the CPU this thread is on.
    let everywhere = sched_getaffinity(Pid::from_raw(0)).ok();
    let pin = match spec.placement {
        Placement::Spread => None,
        Placement::Auto | Placement::Same => this_cpu(),
    };
    if let Some(cpu) = pin {
        let _ = sched_setaffinity(Pid::from_raw(0), &cpu);
        setup.pin(cpu);
    }
    if let Some(set) = &spec.filter {
        let mut stopped = set.clone();
        for nr in ALWAYS_STOPPED
            .iter()
            .filter_map(|n| crate::trace::syscall_nr(n))
        {
            stopped.insert(nr);
        }
        match seccomp::launch(
            &stopped,
            &program,
            &spec.program,
            &spec.args,
            &spec.env,
            spec.inherit(),
        ) {
            // The child execs the program itself, or ends.
            Ok(launch) => setup.launch(launch),
            Err(error) => {
                let _ = started.send(Err(spawn_error(error)));
                return Ok(());
            }
        }
    }
    let (mut command, mut namespace) = match spec.command(&program, &spec.args, setup) {
        Ok(c) => c,
        Err(error) => {
            let _ = started.send(Err(spawn_error(error)));
            return Ok(());
        }
    };
    // Sandboxed, the child made the program's process (a child of this
    // thread too) in a pid namespace of its own, and holds the namespace's
    // init until the run ends. The program's process is registered under
    // the spawn's lock: until it is traced, a sweep would take it for an
    // orphan.
    let mut pids = None;
    let spawned = fence::spawn_then(&mut command, || {
        let got = namespace.as_mut()?.pids();
        let program = got.as_ref().ok().map(|(_, program)| *program);
        pids = Some(got);
        program
    });
    let (mut child, _started, _program_registered): (Child, _, _) = match spawned {
        Ok(c) => c,
        Err(source) => {
            let _ = started.send(Err(spawn_error(source)));
            return Ok(());
        }
    };
    drop(command);
    let root = match pids {
        None => child.id() as Tid,
        Some(Ok((_init, program))) => program,
        Some(Err(error)) => {
            let _ = started.send(Err(spawn_error(error)));
            drop(namespace);
            let _ = child.kill();
            let _ = child.wait();
            return Ok(());
        }
    };
    let kill_root = |child: &mut Child| {
        if namespace.is_some() {
            let _ = kill(Pid::from_raw(root), Signal::SIGKILL);
        } else {
            let _ = child.kill();
        }
    };
    shared.set_root(root);
    let start = Instant::now();
    let mut tracer = Loop {
        tasks: HashMap::new(),
        shared,
        tx,
        start,
        killing: false,
        filtered,
        shown: spec.filter.clone(),
        collapse: spec.collapse,
        unpin: match (spec.placement, pin, everywhere) {
            (Placement::Auto, Some(pin), Some(everywhere)) => Some((pin, everywhere)),
            _ => None,
        },
        pids: namespace.is_some().then(|| {
            let mut pids = PidMap::default();
            pids.learn_from_proc(root);
            pids
        }),
    };
    tracer.shared.add_process(root);

    // The child stops with SIGTRAP right after its execve succeeds.
    match waitpid(Pid::from_raw(root), Some(WaitPidFlag::__WALL)) {
        Ok(WaitStatus::Stopped(_, Signal::SIGTRAP)) => {}
        Ok(WaitStatus::Exited(_, errno)) if filtered => {
            // Launch::exec's exec failed; the status is its errno.
            let _ = started.send(Err(spawn_error(std::io::Error::from_raw_os_error(errno))));
            return Ok(());
        }
        Ok(other) => {
            let _ = started.send(Err(TraceError::Thread(format!(
                "unexpected first stop of the traced program: {other:?}"
            ))));
            kill_root(&mut child);
            return Ok(());
        }
        Err(errno) => {
            let _ = started.send(Err(TraceError::Ptrace {
                what: "first wait",
                errno,
            }));
            return Ok(());
        }
    }
    if let Err(errno) = ptrace::setoptions(Pid::from_raw(root), ptrace_options(filtered)) {
        kill_root(&mut child);
        let _ = started.send(Err(TraceError::Ptrace {
            what: "PTRACE_SETOPTIONS",
            errno,
        }));
        return Ok(());
    }
    let _ = started.send(Ok((root, child.stdout.take(), child.stderr.take(), start)));
    tracer.tasks.insert(root, Task::new(root, false));
    tracer.emit(
        root,
        root,
        EventKind::Exec {
            former: root,
            program: spec.program.to_string_lossy().into_owned(),
        },
    );
    tracer.resume(root, 0);
    tracer.run();
    if let Some(mut ns) = namespace {
        // Whatever the program left untraced in its namespace dies with it.
        ns.end();
        let _ = child.wait();
    }
    Ok(())
}

/// The tracer's state while it runs.
struct Loop {
    tasks: HashMap<Tid, Task>,
    shared: Arc<Shared>,
    tx: Sender<Event>,
    start: Instant,
    /// SIGKILL has been sent to everything known.
    killing: bool,
    /// A seccomp program decides which syscalls stop: a task outside a
    /// syscall is resumed with PTRACE_CONT, and stops next at a seccomp
    /// stop (an entry) or an event.
    filtered: bool,
    /// The syscalls sent as events (`None`: all).
    shown: Option<SyscallSet>,
    /// Fold `EAGAIN` repeats (see [`Spec::collapse`]).
    collapse: bool,
    /// While tracer and program are pinned to one CPU until the program
    /// has a second task: the pin, and the CPUs to go back to.
    unpin: Option<(CpuSet, CpuSet)>,
    /// Sandboxed: the program's pids inside its namespace, to ours.
    pids: Option<PidMap>,
}

impl Loop {
    fn emit(&self, tid: Tid, pid: Tid, mut kind: EventKind) {
        if let Some(pids) = &self.pids {
            match &mut kind {
                EventKind::Enter(call) => pids.call(call),
                EventKind::Exit(ret) => pids.ret(ret),
                _ => {}
            }
        }
        // A consumer that hung up no longer wants events; the harness kills
        // the tracees through `Tracer::drop` in that case.
        let _ = self.tx.send(Event {
            tid,
            pid,
            at: self.start.elapsed(),
            kind,
        });
    }

    /// Restarts a stopped task until its next stop, delivering `signal`:
    /// at the next syscall entry or exit, or, when the kernel filters and
    /// the task is not inside a syscall the tracer wants, at the next
    /// seccomp stop. ESRCH means it was killed meanwhile; its exit comes
    /// later.
    fn resume(&self, tid: Tid, signal: i32) {
        let inside = self.tasks.get(&tid).is_some_and(|t| t.pending.is_some());
        let how = if self.filtered && !inside {
            Resume::Cont
        } else {
            Resume::Syscall
        };
        let _ = resume(tid, how, signal);
    }

    fn pid_of(&self, tid: Tid) -> Tid {
        match self.tasks.get(&tid) {
            Some(t) => t.pid,
            None => status_field(tid, "Tgid").unwrap_or(tid),
        }
    }

    fn run(&mut self) {
        while !self.tasks.is_empty() {
            if self.shared.killing() && !self.killing {
                self.killing = true;
                for pid in self.tasks.values().map(|t| t.pid).collect::<HashSet<_>>() {
                    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                }
            }
            // Raw statuses: a real-time signal has no `Signal` variant.
            let status = match wait_traced() {
                Ok(s) => s,
                Err(Errno::EINTR) => continue,
                Err(_) => break, // ECHILD: nothing left to wait for.
            };
            match status {
                Status::Exited(tid, code) => self.gone(tid, Termination::Exited(code)),
                Status::Killed { tid, signal, core } => {
                    self.gone(tid, Termination::Killed { signal, core })
                }
                Status::Syscall(tid) | Status::Event(tid, libc::PTRACE_EVENT_SECCOMP) => {
                    self.syscall_stop(tid)
                }
                Status::Event(tid, event) => self.event_stop(tid, event),
                Status::Signal(tid, signal) => self.signal_stop(tid, signal),
                Status::Other => {}
            }
        }
        self.shared.clear();
    }

    /// Registers a task first seen now; returns whether it was new.
    fn adopt(&mut self, tid: Tid, pid: Tid, expect_initial_stop: bool) -> bool {
        if self.tasks.contains_key(&tid) {
            return false;
        }
        self.tasks.insert(tid, Task::new(pid, expect_initial_stop));
        if self.killing {
            let _ = kill(Pid::from_raw(tid), Signal::SIGKILL);
        }
        if tid == pid {
            self.shared.add_process(pid);
        }
        // A second task: tracer and program go back to every CPU, so that
        // the program's tasks can run in parallel.
        if let Some((pin, everywhere)) = self.unpin.take() {
            let _ = sched_setaffinity(Pid::from_raw(0), &everywhere);
            // Only tasks still on the pin: a program may have chosen its
            // own CPUs since (`taskset` as the traced program).
            for &t in self.tasks.keys() {
                if sched_getaffinity(Pid::from_raw(t)).is_ok_and(|m| m == pin) {
                    let _ = sched_setaffinity(Pid::from_raw(t), &everywhere);
                }
            }
        }
        // Past the limit everything dies, at the top of the next round: a
        // new task is stopped until resumed, so a bomb cannot outrun this.
        self.shared.count_tasks(self.tasks.len());
        true
    }

    fn gone(&mut self, tid: Tid, how: Termination) {
        self.release(tid);
        let Some(task) = self.tasks.remove(&tid) else {
            return;
        };
        self.emit(tid, task.pid, EventKind::Gone(how));
        if tid == task.pid {
            self.shared.remove_process(tid);
        }
    }

    /// Sends the count of `tid`'s folded repeats, if any, and ends the run:
    /// before anything else of that task is sent.
    fn flush_repeats(&mut self, tid: Tid) {
        let Some(task) = self.tasks.get_mut(&tid) else {
            return;
        };
        let repeats = std::mem::take(&mut task.repeats);
        task.last_eagain = None;
        let pid = task.pid;
        if repeats > 0 {
            self.emit(tid, pid, EventKind::Repeat(repeats));
        }
    }

    /// Before a signal, spawn, exec or end of `tid`: its repeats are
    /// counted, and a call held back as a possible repeat is sent, so that
    /// events keep their order.
    fn release(&mut self, tid: Tid) {
        self.flush_repeats(tid);
        let Some(task) = self.tasks.get_mut(&tid) else {
            return;
        };
        let pid = task.pid;
        if let Some(p) = task.pending.as_mut()
            && p.shown
            && !p.sent
        {
            p.sent = true;
            let (nr, args) = (p.nr, p.args);
            let call = decode::decode_entry(&Memory::new(tid), nr, &args);
            self.emit(tid, pid, EventKind::Enter(call));
        }
    }

    /// A syscall entry (a syscall-enter stop, or a seccomp stop) or exit.
    /// The hot path: a repeat of an `EAGAIN` call is compared and counted
    /// with no allocation and nothing sent.
    fn syscall_stop(&mut self, tid: Tid) {
        self.shared.add_stop();
        let Some(info) = syscall_info(tid) else {
            // Under a filter a syscall-stop is an exit (entries are seccomp
            // stops): the task is outside its call now, whatever it was.
            if self.filtered
                && let Some(t) = self.tasks.get_mut(&tid)
            {
                t.pending = None;
            }
            self.resume(tid, 0);
            return;
        };
        match info {
            SyscallInfo::Entry { nr, args, i386 } => {
                let nr = if i386 {
                    crate::syscalls::from_i386(nr)
                } else {
                    nr
                };
                self.entry(tid, nr, args)
            }
            SyscallInfo::Exit { value, is_error } => self.exit(tid, value, is_error),
        }
        self.resume(tid, 0);
    }

    fn entry(&mut self, tid: Tid, nr: u64, args: [u64; 6]) {
        let restarting = self
            .tasks
            .get_mut(&tid)
            .is_some_and(|t| std::mem::take(&mut t.restarting));
        let shown = self.shown.as_ref().is_none_or(|s| s.contains(nr))
            || (restarting && crate::trace::syscall_name(nr) == "restart_syscall");
        let repeat = self.collapse
            && self
                .tasks
                .get(&tid)
                .is_some_and(|t| t.last_eagain == Some((nr, args)));
        if !repeat {
            self.flush_repeats(tid);
            if let Some(t) = self.tasks.get_mut(&tid) {
                t.last_eagain = None;
            }
        }
        let sent = shown && !repeat;
        let mut path = None;
        if sent || !shown {
            let call = decode::decode_entry(&Memory::new(tid), nr, &args);
            if let ("execve", [Arg::Str(p), ..]) | ("execveat", [_, Arg::Str(p), ..]) =
                (call.name(), &call.args[..])
            {
                path = Some(p.clone());
            }
            if sent {
                let pid = self.pid_of(tid);
                self.emit(tid, pid, EventKind::Enter(call));
            }
        }
        if let Some(task) = self.tasks.get_mut(&tid) {
            task.pending = Some(Pending {
                nr,
                args,
                sent,
                shown,
            });
            task.exec_path = path;
        }
    }

    fn exit(&mut self, tid: Tid, value: i64, is_error: bool) {
        let pending = self.tasks.get_mut(&tid).and_then(|t| t.pending.take());
        let eagain = is_error && value == -i64::from(libc::EAGAIN);
        let pending = match pending {
            Some(p) if !p.shown => return,
            Some(p) if !p.sent => {
                if eagain && let Some(t) = self.tasks.get_mut(&tid) {
                    t.repeats += 1;
                    return;
                }
                // Not a repeat after all: its entry goes out now.
                self.flush_repeats(tid);
                let call = decode::decode_entry(&Memory::new(tid), p.nr, &p.args);
                let pid = self.pid_of(tid);
                self.emit(tid, pid, EventKind::Enter(call));
                p
            }
            Some(p) => p,
            None => {
                // An exit without its entry (a new task's first return):
                // shown when the set shows that syscall.
                let nr = orig_syscall_nr(tid).unwrap_or(u64::MAX);
                if self.shown.as_ref().is_some_and(|s| !s.contains(nr)) {
                    return;
                }
                Pending {
                    nr,
                    args: [0; 6],
                    sent: false,
                    shown: true,
                }
            }
        };
        if let Some(t) = self.tasks.get_mut(&tid) {
            let name = crate::trace::syscall_name(pending.nr);
            // recvfrom with a source address writes it: not folded.
            let foldable =
                FOLDABLE.contains(&name) && !(name == "recvfrom" && pending.args[4] != 0);
            t.last_eagain =
                (self.collapse && eagain && foldable).then_some((pending.nr, pending.args));
            t.restarting = is_error && value == -ERESTART_RESTARTBLOCK;
        }
        let ret = decode::decode_exit(
            &Memory::new(tid),
            pending.nr,
            &pending.args,
            value,
            is_error,
        );
        let pid = self.pid_of(tid);
        self.emit(tid, pid, EventKind::Exit(ret));
    }

    fn event_stop(&mut self, tid: Tid, event: i32) {
        let pid = self.pid_of(tid);
        self.release(tid);
        match event {
            libc::PTRACE_EVENT_CLONE | libc::PTRACE_EVENT_FORK | libc::PTRACE_EVENT_VFORK => {
                if let Ok(msg) = ptrace::getevent(Pid::from_raw(tid)) {
                    let child = msg as Tid;
                    let thread =
                        event == libc::PTRACE_EVENT_CLONE && self.clone_makes_thread(tid, child);
                    let child_pid = if thread { pid } else { child };
                    if let Some(pids) = &mut self.pids {
                        pids.learn_from_proc(child);
                    }
                    if !self.adopt(child, child_pid, true)
                        && let Some(t) = self.tasks.get_mut(&child)
                    {
                        // Its initial stop came first, before this event.
                        t.pid = child_pid;
                    }
                    let kind = if thread {
                        SpawnKind::Thread
                    } else {
                        SpawnKind::Process
                    };
                    self.emit(tid, pid, EventKind::Spawn { child, kind });
                }
            }
            libc::PTRACE_EVENT_EXEC => {
                let former = ptrace::getevent(Pid::from_raw(tid)).map_or(tid, |m| m as Tid);
                if former != tid
                    && let Some(mut task) = self.tasks.remove(&former)
                {
                    task.pid = pid;
                    self.tasks.insert(tid, task);
                }
                // The path as the program gave it, as strace shows it.
                let program = self
                    .tasks
                    .get(&tid)
                    .and_then(|t| t.exec_path.clone())
                    .or_else(|| {
                        std::fs::read_link(format!("/proc/{tid}/exe"))
                            .ok()
                            .map(|p| p.to_string_lossy().into_owned())
                    })
                    .unwrap_or_default();
                self.emit(tid, pid, EventKind::Exec { former, program });
            }
            _ => {}
        }
        self.resume(tid, 0);
    }

    /// Whether the clone the task is inside creates a thread (CLONE_THREAD):
    /// from its flags when the tracer stopped at its entry, else from the
    /// new task's thread group.
    fn clone_makes_thread(&self, tid: Tid, child: Tid) -> bool {
        let Some(p) = self.tasks.get(&tid).and_then(|t| t.pending) else {
            return status_field(child, "Tgid").is_some_and(|group| group != child);
        };
        let flags = match crate::trace::syscall_name(p.nr) {
            "clone" => p.args[0],
            "clone3" => Memory::new(tid).read_u64(p.args[0]).unwrap_or(0),
            _ => 0,
        };
        flags & libc::CLONE_THREAD as u64 != 0
    }

    /// A signal-delivery stop or a group-stop, with the signal's number
    /// (any of 1–64: real-time ones included).
    fn signal_stop(&mut self, tid: Tid, sig: i32) {
        if !self.tasks.contains_key(&tid) {
            // A new task whose initial stop beat its parent's clone event.
            let pid = status_field(tid, "Tgid").unwrap_or(tid);
            self.adopt(tid, pid, false);
            if sig == libc::SIGSTOP {
                self.resume(tid, 0);
                return;
            }
        }
        if let Some(task) = self.tasks.get_mut(&tid)
            && task.expect_initial_stop
            && sig == libc::SIGSTOP
        {
            task.expect_initial_stop = false;
            self.resume(tid, 0);
            return;
        }
        match ptrace::getsiginfo(Pid::from_raw(tid)) {
            // EINVAL: a group-stop, not a signal to deliver. Without
            // PTRACE_SEIZE there is no PTRACE_LISTEN, so the task is resumed
            // (job control of traced programs is not kept, as in strace -f
            // without --seccomp).
            Err(Errno::EINVAL) => self.resume(tid, 0),
            Err(_) => {}
            Ok(_) => {
                self.release(tid);
                let pid = self.pid_of(tid);
                self.emit(tid, pid, EventKind::Signal(sig));
                self.resume(tid, sig);
            }
        }
    }
}

/// The syscall number a stopped task is in, from its registers.
fn orig_syscall_nr(tid: Tid) -> Option<u64> {
    ptrace::getregs(Pid::from_raw(tid)).ok().map(|r| r.orig_rax)
}
