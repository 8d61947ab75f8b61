//! The strace backend: runs the system's `strace` on the program and turns
//! its output into the same live [`Event`] stream as the native tracer.
//!
//! strace writes to a named pipe in a private temporary directory (not to a
//! pipe fd the program would inherit, which would shift its fd numbers and
//! keep the pipe open after strace exits). The reader thread decodes as the
//! lines come and sends an entry as soon as strace has printed it, so a
//! scenario sees a call the server is blocked in.

use std::ffi::OsString;
use std::fs::File;
use std::io::{ErrorKind, Read};
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::mpsc::{Sender, SyncSender};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, kill};
use nix::sys::stat::Mode;
use nix::unistd::Pid;

use super::stream::{Decoder, StreamError};
use crate::fence::Cgroup;
use crate::trace::{Event, EventKind, SpawnKind, syscall_name, syscall_nr};
use crate::tracer::error::TraceError;
use crate::tracer::shared::{Shared, Started};
use crate::tracer::spec::Spec;

/// Output strace printed and the decoder could not read: the error the
/// tracer reports, boxed (the tracer's error names no backend's types).
impl From<StreamError> for TraceError {
    fn from(e: StreamError) -> TraceError {
        TraceError::StraceOutput(Box::new(e))
    }
}

/// The oldest strace whose output the decoder knows.
const MIN_VERSION: (u32, u32) = (6, 0);

/// Calls strace always traces under a filter: the decoder learns the
/// program's start, its spawns and its execs from their lines.
const STRACE_ALWAYS: &[&str] = &["execve", "execveat", "clone", "clone3", "fork", "vfork"];
/// How long strace may take to print the program's first line.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long strace gets to report its tracees' deaths after SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(3);

/// What is wrong with the system's strace, if anything.
#[derive(Clone)]
enum Unusable {
    Missing,
    TooOld(String),
    Other(String),
}

/// The strace version, checked once per process.
fn check_strace() -> Result<(), TraceError> {
    static CHECK: OnceLock<Result<(), Unusable>> = OnceLock::new();
    let check = CHECK.get_or_init(|| {
        let out = match Command::new("strace").arg("-V").output() {
            Ok(out) => out,
            Err(e) if e.kind() == ErrorKind::NotFound => return Err(Unusable::Missing),
            Err(e) => return Err(Unusable::Other(format!("cannot run `strace -V`: {e}"))),
        };
        let text = String::from_utf8_lossy(&out.stdout);
        let version = parse_version(&text).ok_or_else(|| {
            Unusable::Other(format!(
                "cannot tell strace's version from `strace -V`: {}",
                text.lines().next().unwrap_or("")
            ))
        })?;
        if version < MIN_VERSION {
            return Err(Unusable::TooOld(format!("{}.{}", version.0, version.1)));
        }
        Ok(())
    });
    match check {
        Ok(()) => Ok(()),
        Err(Unusable::Missing) => Err(TraceError::StraceMissing),
        Err(Unusable::TooOld(version)) => Err(TraceError::StraceTooOld {
            version: version.clone(),
        }),
        Err(Unusable::Other(why)) => Err(TraceError::Strace(why.clone())),
    }
}

/// `strace -- version 6.1` → (6, 1).
fn parse_version(text: &str) -> Option<(u32, u32)> {
    let line = text.lines().next()?;
    let v = line.rsplit(' ').next()?;
    let mut parts = v.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().and_then(|m| m.parse().ok()).unwrap_or(0);
    Some((major, minor))
}

/// Where the program would be found, as `execvp` looks for it.
fn find_program(program: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let runnable = |p: &Path| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.as_os_str().as_encoded_bytes().contains(&b'/') {
        return runnable(program).then(|| program.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| runnable(p))
}

/// Runs `spec` under strace, sending events on `tx` until strace ends.
pub(crate) fn trace_thread(
    spec: Spec,
    fence: Option<&Cgroup>,
    shared: Arc<Shared>,
    tx: Sender<Event>,
    started: SyncSender<Started>,
) -> Result<(), TraceError> {
    match start(&spec, fence) {
        Ok((child, started_guard, fifo, dir, namespace)) => {
            let result = follow(child, fifo, &spec, &shared, &tx, started);
            // Whatever the program left untraced in its namespace dies with it.
            drop(namespace);
            drop(started_guard);
            drop(dir);
            result
        }
        Err(e) => {
            let _ = started.send(Err(e));
            Ok(())
        }
    }
}

/// What [`start`] returns: strace, its registration, the reader of its
/// output, the output's directory, and (sandboxed) the program's pid
/// namespace.
type Start = (
    Child,
    crate::fence::Started,
    File,
    tempfile::TempDir,
    Option<crate::sandbox::Namespace>,
);

/// Starts strace writing to a fresh named pipe; returns it and its reader.
fn start(spec: &Spec, fence: Option<&Cgroup>) -> Result<Start, TraceError> {
    check_strace()?;
    let program = Path::new(&spec.program);
    if find_program(program).is_none() {
        return Err(TraceError::Spawn {
            program: spec.program.to_string_lossy().into_owned(),
            error: std::io::Error::new(ErrorKind::NotFound, "No such file or directory"),
        });
    }
    let dir = tempfile::Builder::new()
        .prefix("iolab-strace-")
        .tempdir()
        .map_err(|e| TraceError::Strace(format!("cannot make a temporary directory: {e}")))?;
    let fifo_path = dir.path().join("trace");
    nix::unistd::mkfifo(&fifo_path, Mode::S_IRUSR | Mode::S_IWUSR)
        .map_err(|e| TraceError::Strace(format!("cannot make a named pipe: {e}")))?;
    // Opened before strace, and non-blocking, so that neither waits for
    // the other; no writer yet does not read as the end (no POLLHUP until
    // a writer came and went).
    let fifo = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo_path)
        .map_err(|e| TraceError::Strace(format!("cannot open the named pipe: {e}")))?;

    let mut args: Vec<OsString> = ["-f", "-q", "-ttt", "-T", "-s", "4096", "-o"]
        .iter()
        .map(OsString::from)
        .collect();
    args.push(fifo_path.clone().into_os_string());
    if spec.sandbox {
        // strace stays in the harness's pid namespace, the program runs in
        // one of its own: pids as the program sees them get the harness's
        // beside them.
        args.push("--pidns-translation".into());
        if crate::sandbox::program_ids().is_some() {
            // strace starts the program as the sandbox's user (it keeps the
            // capabilities that takes; see `crate::sys::sandbox`).
            args.push("-u".into());
            args.push(crate::sandbox::USER.into());
        }
    }
    if let Some(filter) = &spec.filter {
        // The same set, filtered in the kernel the same way, spelled out
        // name by name (`?`: a name this strace lacks is no error). The
        // decoder learns the program's start, its spawns and its execs
        // from those calls' lines, so they are always traced here.
        let mut set = filter.clone();
        for nr in STRACE_ALWAYS.iter().filter_map(|n| syscall_nr(n)) {
            set.insert(nr);
        }
        let names: Vec<String> = set
            .numbers()
            .map(syscall_name)
            .filter(|n| *n != "syscall_unknown")
            .map(|n| format!("?{n}"))
            .collect();
        args.push("--seccomp-bpf".into());
        args.push(format!("--trace={}", names.join(",")).into());
    }
    args.push("--".into());
    args.push(spec.program.clone());
    args.extend(spec.args.iter().cloned());
    // strace takes the limits and the cgroup, and passes them on to the
    // program it starts (a limit per process: strace's own use is small).
    let strace = if spec.sandbox {
        private_strace(dir.path())?
    } else {
        OsString::from("strace")
    };
    let (mut command, mut namespace) = spec
        .command(&strace, &args, spec.child_setup(fence, false))
        .map_err(|e| TraceError::Strace(format!("cannot sandbox strace: {e}")))?;
    // The namespace's init is the harness's child (strace would wait for
    // it): registered under the spawn's lock, as strace is.
    let mut pids = None;
    let (mut child, started, init) = crate::fence::spawn_then(&mut command, || {
        let got = namespace.as_mut()?.pids();
        let init = got.as_ref().ok().map(|(init, _)| *init);
        pids = Some(got);
        init
    })
    .map_err(|e| match e.kind() {
        ErrorKind::NotFound => TraceError::StraceMissing,
        _ => TraceError::Strace(format!("cannot run strace: {e}")),
    })?;
    drop(command);
    if let Some(ns) = &mut namespace {
        ns.hold_registration(init);
        if let Some(Err(e)) = pids {
            kill_strace(&mut child, spec.own_process_group);
            let _ = child.wait();
            return Err(TraceError::Strace(format!("cannot sandbox strace: {e}")));
        }
        // strace's output is its own: once strace holds the pipe open, its
        // name goes, and the program (which shares strace's view of the
        // files) cannot open it to write lines strace never wrote.
        hide_output(&mut child, &fifo_path);
    }
    Ok((child, started, fifo, dir, namespace))
}

/// A copy of strace in `dir` that it cannot read, only run: a program that
/// runs a file it cannot read is not dumpable, so the program strace
/// traces (the same user, and as few capabilities) can neither trace it
/// nor open its `/proc/PID/fd` (where its output's pipe is).
fn private_strace(dir: &Path) -> Result<OsString, TraceError> {
    use std::os::unix::fs::PermissionsExt;
    let found = find_program(Path::new("strace")).ok_or(TraceError::StraceMissing)?;
    let copy = dir.join("strace");
    std::fs::copy(&found, &copy)
        .and_then(|_| std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o111)))
        .map_err(|e| TraceError::Strace(format!("cannot copy {}: {e}", found.display())))?;
    Ok(copy.into_os_string())
}

/// Removes the named pipe `fifo` once strace (`child`) has opened it, or
/// has ended, or after a second.
fn hide_output(child: &mut Child, fifo: &Path) {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata(fifo) else {
        return;
    };
    let fds = PathBuf::from(format!("/proc/{}/fd", child.id()));
    let deadline = Instant::now() + std::time::Duration::from_secs(1);
    while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
        let open = std::fs::read_dir(&fds)
            .into_iter()
            .flatten()
            .flatten()
            .any(|fd| {
                std::fs::metadata(fd.path())
                    .is_ok_and(|m| m.ino() == meta.ino() && m.dev() == meta.dev())
            });
        if open {
            break;
        }
        std::thread::sleep(std::time::Duration::from_micros(200));
    }
    let _ = std::fs::remove_file(fifo);
}

/// What the reader keeps while strace runs.
struct Reader<'a> {
    shared: &'a Shared,
    tx: &'a Sender<Event>,
    start: Instant,
    decoder: Decoder,
    /// When everything was told to die, if it was.
    killing_since: Option<Instant>,
    /// Threads and processes alive, from the spawns and ends decoded.
    tasks: usize,
}

impl Reader<'_> {
    /// Sends decoded events, keeping the shared process table current and
    /// killing new processes once everything must die.
    fn send(&mut self, events: Vec<Event>) {
        let now = self.start.elapsed();
        for mut e in events {
            // strace's clock and ours may differ by a little: never ahead.
            e.at = e.at.min(now);
            match &e.kind {
                EventKind::Spawn { child, kind } => {
                    self.tasks += 1;
                    if *kind == SpawnKind::Process {
                        self.shared.add_process(*child);
                    }
                    if self.shared.count_tasks(self.tasks) {
                        self.shared.signal_alive(Signal::SIGKILL);
                    }
                    if self.shared.killing() {
                        let _ = kill(Pid::from_raw(*child), Signal::SIGKILL);
                    }
                }
                EventKind::Gone(_) => {
                    self.tasks = self.tasks.saturating_sub(1);
                    if e.tid == e.pid {
                        self.shared.remove_process(e.tid);
                        // An orphan re-parented to the harness: strace
                        // collected its exit as tracer, the zombie is ours.
                        crate::fence::reap_if_ended(e.tid);
                    }
                }
                _ => {}
            }
            let _ = self.tx.send(e);
        }
    }
}

/// Kills strace and, when it leads a process group of its own, everything
/// in that group: strace 6.x detaches its tracees when killed, so they must
/// go with it.
fn kill_strace(child: &mut Child, own_group: bool) {
    if own_group {
        let _ = nix::sys::signal::killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
    }
    let _ = child.kill();
}

fn follow(
    mut child: Child,
    mut fifo: File,
    spec: &Spec,
    shared: &Arc<Shared>,
    tx: &Sender<Event>,
    started: SyncSender<Started>,
) -> Result<(), TraceError> {
    let own_group = spec.own_process_group;
    let start = Instant::now();
    let epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    if let Ok(watch) = fifo.try_clone() {
        shared.set_output(watch);
    }
    let mut reader = Reader {
        shared,
        tx,
        start,
        decoder: Decoder::new(Some(epoch)),
        killing_since: None,
        tasks: 1,
    };
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let mut started = Some(started);
    let mut buf = vec![0u8; 1 << 16];
    let mut pending: Vec<Event> = Vec::new();
    let mut failure: Option<TraceError> = None;
    let mut ended = false;
    // strace closed its output: it is ending by itself.
    let mut eof = false;
    while !ended {
        if started.is_some() && start.elapsed() > START_TIMEOUT {
            kill_strace(&mut child, own_group);
            let _ = child.wait();
            if let Some(s) = started.take() {
                let _ = s.send(Err(TraceError::Strace(format!(
                    "strace printed nothing within {}s",
                    START_TIMEOUT.as_secs()
                ))));
            }
            return Ok(());
        }
        if shared.killing() {
            let since = *reader.killing_since.get_or_insert_with(Instant::now);
            if since.elapsed() > KILL_GRACE {
                // strace did not end after its tracees were killed: end it,
                // and its group.
                kill_strace(&mut child, own_group);
            }
        }
        let ready = {
            let mut fds = [PollFd::new(fifo.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::from(20u8)) {
                Ok(n) => n > 0,
                Err(nix::errno::Errno::EINTR) => false,
                Err(e) => {
                    failure = Some(TraceError::Strace(format!(
                        "cannot poll strace's output: {e}"
                    )));
                    break;
                }
            }
        };
        if !ready {
            // strace may have died before opening its output (a bad flag).
            if started.is_some()
                && let Ok(Some(status)) = child.try_wait()
            {
                let mut text = String::new();
                if let Some(e) = stderr.as_mut() {
                    let _ = e.read_to_string(&mut text);
                }
                if let Some(s) = started.take() {
                    let _ = s.send(Err(TraceError::Strace(format!(
                        "strace ended ({status}) before the program ran: {}",
                        text.trim()
                    ))));
                }
                return Ok(());
            }
            continue;
        }
        // Drain what is there, then send a pending entry.
        shared.set_unsent(true);
        loop {
            match fifo.read(&mut buf) {
                Ok(0) => {
                    ended = true;
                    eof = true;
                    break;
                }
                Ok(n) => {
                    if let Err(e) = reader.decoder.feed(&buf[..n], &mut pending) {
                        // While everything is being killed, strace may print
                        // half lines: that is the end, not a failure.
                        if !shared.killing() {
                            failure = Some(e.into());
                        }
                        ended = true;
                        break;
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    failure = Some(TraceError::Strace(format!(
                        "cannot read strace's output: {e}"
                    )));
                    ended = true;
                    break;
                }
            }
        }
        if !ended {
            reader.decoder.flush_partial(&mut pending);
        } else if failure.is_none()
            && !shared.killing()
            && let Err(e) = reader.decoder.finish(&mut pending)
        {
            failure = Some(e.into());
        }
        if let Some(root) = reader.decoder.root()
            && let Some(s) = started.take()
        {
            shared.set_root(root);
            shared.add_process(root);
            if let Some(resources) = &spec.resources {
                crate::limits::set_cpu_limit(root, resources);
            }
            let _ = s.send(Ok((root, stdout.take(), stderr.take(), start)));
        }
        if started.is_none() {
            let events = std::mem::take(&mut pending);
            reader.send(events);
        }
        shared.set_unsent(false);
    }
    if failure.is_some() {
        // Output that cannot be read is the end of the trace: nothing may run on.
        shared.set_killing();
        shared.signal_alive(Signal::SIGKILL);
    }
    if !eof {
        // Nobody reads strace's output any more: it would block on a full
        // pipe with its tracees stopped, and never end by itself.
        kill_strace(&mut child, own_group);
    }
    drop(fifo);
    let _ = child.wait();
    if let Some(s) = started.take() {
        let _ = s.send(Err(failure.take().unwrap_or_else(|| {
            TraceError::Strace("strace ended without tracing the program".into())
        })));
        return Ok(());
    }
    // What strace never reported ending stays in the process table: the
    // sweep after this thread kills and reaps it.
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_from_the_first_line() {
        assert_eq!(
            parse_version("strace -- version 6.1\nCopyright"),
            Some((6, 1))
        );
        assert_eq!(parse_version("strace -- version 5.10"), Some((5, 10)));
        assert_eq!(parse_version(""), None);
    }
}
