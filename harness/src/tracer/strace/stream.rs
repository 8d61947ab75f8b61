//! strace's output, as it streams, turned into the trace model's events.
//!
//! strace prints a syscall's entry as soon as the task stops there and
//! completes the line at the exit; when another task speaks in between, the
//! entry line ends with `<unfinished ...>` and the exit comes later as
//! `<... name resumed>`. The [`Decoder`] follows both forms, and a line
//! still being written: [`Decoder::flush_partial`] turns a pending entry
//! into an [`EventKind::Enter`] while the task is still inside the call, so
//! a scenario can see a server blocked in `accept` under strace just as
//! under the native tracer.
//!
//! It also recovers what strace does not print as such: which task spawned
//! which (from `clone` flags and results), thread groups, and execs.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use super::convert::{self, signal_number};
use super::syntax::{self, Body, Field, Line, Outcome, ParseError};
use crate::trace::{Call, Event, EventKind, Return, SpawnKind, Termination, Tid, syscall_nr};

/// A line of strace output that could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("strace output line {line_no}: {source}")]
pub struct StreamError {
    /// 1-based.
    pub line_no: usize,
    #[source]
    pub source: ParseError,
}

/// A syscall a task is inside, as far as strace has printed it.
#[derive(Debug)]
struct Pending {
    name: String,
    /// The argument text printed at entry.
    text: String,
    entered: Duration,
}

#[derive(Debug)]
struct Task {
    pid: Tid,
    pending: Option<Pending>,
}

/// Decodes strace output into [`Event`]s.
#[derive(Debug, Default)]
pub struct Decoder {
    /// Bytes of a line not finished yet.
    partial: Vec<u8>,
    /// The partial line's entry was already sent, for this task.
    partial_entered: Option<Tid>,
    tasks: HashMap<Tid, Task>,
    /// Tasks whose spawn was already reported.
    announced: HashSet<Tid>,
    /// Tasks announced from their own first line, before their parent's
    /// `clone` returned: a child can run, exit and be gone before strace
    /// prints that return, and the return must not announce it again.
    early: HashSet<Tid>,
    /// The thread that exec'd, by the leader id it took over.
    superseded: HashMap<Tid, Tid>,
    root: Option<Tid>,
    /// The timestamp that is time zero.
    epoch: Option<Duration>,
    /// The latest time seen, for lines without a timestamp.
    now: Duration,
    lines: usize,
    /// Pids inside a sandboxed program's namespace, to strace's.
    pids: crate::tracer::decode::pids::PidMap,
}

impl Decoder {
    /// A decoder whose time zero is `epoch` (strace's `-ttt` clock, since
    /// the Unix epoch); `None`: the first timestamp seen.
    pub fn new(epoch: Option<Duration>) -> Decoder {
        Decoder {
            epoch,
            ..Decoder::default()
        }
    }

    /// The first task seen: the program strace started.
    pub fn root(&self) -> Option<Tid> {
        self.root
    }

    /// Decodes every complete line in `bytes` (and in what came before);
    /// an unfinished last line is kept for the next call.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<Event>) -> Result<(), StreamError> {
        let mut rest = bytes;
        while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
            let (head, tail) = rest.split_at(nl);
            rest = &tail[1..];
            let line = if self.partial.is_empty() {
                self.line_of(head)?
            } else {
                self.partial.extend_from_slice(head);
                let whole = std::mem::take(&mut self.partial);
                self.line_of(&whole)?
            };
            let entered = self.partial_entered.take();
            self.line(line, entered, out);
        }
        self.partial.extend_from_slice(rest);
        Ok(())
    }

    /// Sends the entry of a syscall whose line strace is still writing (the
    /// task is inside the call). Call it when no more output is at hand.
    pub fn flush_partial(&mut self, out: &mut Vec<Event>) {
        // The first line is the program's own execve, which is decoded
        // whole: the native tracer sees no entry of it.
        if self.partial.is_empty() || self.partial_entered.is_some() || self.root.is_none() {
            return;
        }
        let Ok(text) = std::str::from_utf8(&self.partial) else {
            return;
        };
        // `tid time name(args...` with the closing parenthesis not printed yet.
        let Ok(line) = syntax::parse_line(&format!("{text} <unfinished ...>")) else {
            return;
        };
        if let Body::Unfinished { name, text, .. } = &line.body {
            let tid = self.tid_of(&line);
            let at = self.time_of(&line);
            self.ensure_task(tid, at, out);
            let args = syntax::parse_partial_args(text);
            self.enter(tid, at, name, &args, out);
            self.partial_entered = Some(tid);
        }
    }

    /// The end of the output: a line cut off is decoded as far as it goes.
    pub fn finish(&mut self, out: &mut Vec<Event>) -> Result<(), StreamError> {
        if !self.partial.is_empty() {
            self.flush_partial(out);
            if self.partial_entered.is_none() {
                let whole = std::mem::take(&mut self.partial);
                let line = self.line_of(&whole)?;
                self.line(line, None, out);
            }
            self.partial.clear();
            self.partial_entered = None;
        }
        Ok(())
    }

    fn line_of(&mut self, bytes: &[u8]) -> Result<Line, StreamError> {
        self.lines += 1;
        let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        let translated = self.pids.strace_line(bytes);
        let bytes = translated.as_deref().unwrap_or(bytes);
        syntax::parse_line_bytes(bytes).map_err(|source| StreamError {
            line_no: self.lines,
            source,
        })
    }

    fn tid_of(&self, line: &Line) -> Tid {
        line.tid.or(self.root).unwrap_or(1)
    }

    fn time_of(&mut self, line: &Line) -> Duration {
        if let Some(t) = line.time {
            let epoch = *self.epoch.get_or_insert(t);
            self.now = self.now.max(t.saturating_sub(epoch));
        }
        self.now
    }

    fn emit(&self, out: &mut Vec<Event>, tid: Tid, at: Duration, mut kind: EventKind) {
        let pid = self.tasks.get(&tid).map_or(tid, |t| t.pid);
        match &mut kind {
            EventKind::Enter(call) => self.pids.call(call),
            EventKind::Exit(ret) => self.pids.ret(ret),
            _ => {}
        }
        out.push(Event { tid, pid, at, kind });
    }

    /// Registers a task on its first line. The first is the program strace
    /// started; any other was spawned by a task inside `clone`, `fork` or
    /// `vfork` whose result strace has not printed yet.
    fn ensure_task(&mut self, tid: Tid, at: Duration, out: &mut Vec<Event>) {
        if self.tasks.contains_key(&tid) {
            return;
        }
        if self.root.is_none() {
            self.root = Some(tid);
            self.tasks.insert(
                tid,
                Task {
                    pid: tid,
                    pending: None,
                },
            );
            return;
        }
        let parent = self
            .tasks
            .iter()
            .filter_map(|(&t, task)| {
                let p = task.pending.as_ref()?;
                spawn_kind(&p.name, &p.text).map(|kind| (p.entered, t, kind))
            })
            .max_by_key(|&(entered, t, _)| (entered, t));
        match parent {
            Some((_, parent, kind)) => {
                self.early.insert(tid);
                self.spawned(parent, tid, kind, at, out);
            }
            None => {
                self.tasks.insert(
                    tid,
                    Task {
                        pid: tid,
                        pending: None,
                    },
                );
            }
        }
    }

    fn spawned(
        &mut self,
        parent: Tid,
        child: Tid,
        kind: SpawnKind,
        at: Duration,
        out: &mut Vec<Event>,
    ) {
        if !self.announced.insert(child) {
            return;
        }
        let parent_pid = self.tasks.get(&parent).map_or(parent, |t| t.pid);
        let pid = match kind {
            SpawnKind::Thread => parent_pid,
            SpawnKind::Process => child,
        };
        self.tasks
            .entry(child)
            .or_insert(Task { pid, pending: None })
            .pid = pid;
        self.emit(out, parent, at, EventKind::Spawn { child, kind });
    }

    fn enter(&mut self, tid: Tid, at: Duration, name: &str, args: &[Field], out: &mut Vec<Event>) {
        let nr = number_of(name);
        let args = convert::entry_args(name, args);
        self.emit(out, tid, at, EventKind::Enter(Call { nr, args }));
    }

    fn line(&mut self, line: Line, entered: Option<Tid>, out: &mut Vec<Event>) {
        let tid = self.tid_of(&line);
        let at = self.time_of(&line);
        let first_of_root = self.root.is_none();
        self.ensure_task(tid, at, out);
        match line.body {
            Body::Syscall(s) => {
                if first_of_root && s.name.starts_with("execve") && s.result.errno.is_none() {
                    // The program strace started: the native tracer sees no
                    // entry of this execve, only the program running.
                    let program = path_arg(&s.name, &s.args);
                    self.emit(
                        out,
                        tid,
                        at,
                        EventKind::Exec {
                            former: tid,
                            program,
                        },
                    );
                    return;
                }
                if entered != Some(tid) {
                    self.enter(tid, at, &s.name, &s.args, out);
                }
                let exit_at = at.saturating_add(s.result.duration.unwrap_or_default());
                self.exit(tid, exit_at, &s.name, &s.args, &s.result, out);
            }
            Body::Unfinished {
                name,
                text,
                vanished,
            } => {
                if entered != Some(tid) {
                    let args = syntax::parse_partial_args(&text);
                    self.enter(tid, at, &name, &args, out);
                }
                if let Some(task) = self.tasks.get_mut(&tid) {
                    task.pending = (!vanished).then_some(Pending {
                        name,
                        text,
                        entered: at,
                    });
                }
            }
            Body::Resumed { name, text, result } => {
                let pending = self.tasks.get_mut(&tid).and_then(|t| t.pending.take());
                let (args, entered_at) = match pending {
                    Some(p) if p.name == name => {
                        let joined = format!("{}{})", p.text, text);
                        let args = syntax::parse_args(&joined)
                            .unwrap_or_else(|_| syntax::parse_partial_args(&joined));
                        (Some(args), Some(p.entered))
                    }
                    // The entry is not known (the log began inside the
                    // call): only the result can be trusted.
                    _ => (None, None),
                };
                let exit_at = match (entered_at, result.duration) {
                    (Some(e), Some(d)) => e.saturating_add(d).max(at),
                    _ => at,
                };
                match args {
                    Some(args) => self.exit(tid, exit_at, &name, &args, &result, out),
                    None => self.exit_without_args(tid, exit_at, &name, &result, out),
                }
            }
            Body::Signal { signal, .. } => {
                if let Some(sig) = signal_number(&signal) {
                    self.emit(out, tid, at, EventKind::Signal(sig));
                }
            }
            Body::Exited { code } => self.gone(tid, at, Termination::Exited(code), out),
            Body::Killed { signal, core } => {
                let signal = signal_number(&signal).unwrap_or(0);
                self.gone(tid, at, Termination::Killed { signal, core }, out);
            }
            Body::Superseded { pid: former } => {
                // Thread `former` exec'd: the leader (this line's task) was
                // replaced by it, and its execve returns under the leader's id.
                if let Some(mut thread) = self.tasks.remove(&former)
                    && let Some(leader) = self.tasks.get_mut(&tid)
                {
                    leader.pending = thread.pending.take();
                }
                self.superseded.insert(tid, former);
            }
            Body::Stopped { .. } | Body::Message(_) => {}
        }
    }

    fn exit(
        &mut self,
        tid: Tid,
        at: Duration,
        name: &str,
        args: &[Field],
        result: &Outcome,
        out: &mut Vec<Event>,
    ) {
        if result.value.is_none() && result.errno.is_none() {
            // `= ?`: the call never returned (`exit`, or the task died).
            return;
        }
        let ok = result.errno.is_none();
        let value = result.value.as_ref().and_then(|v| v.number());
        if ok
            && matches!(name, "clone" | "clone3" | "fork" | "vfork")
            && let Some(kind) = spawn_kind(name, &args_text(args))
            && let Some(child) = value.filter(|&v| v > 0)
        {
            let child = child as Tid;
            self.spawned(tid, child, kind, at, out);
            // Announced early and gone already: its tid is free again now.
            if self.early.remove(&child) && !self.tasks.contains_key(&child) {
                self.announced.remove(&child);
            }
        }
        if ok && matches!(name, "execve" | "execveat") {
            let program = path_arg(name, args);
            let former = self.superseded.remove(&tid).unwrap_or(tid);
            self.emit(out, tid, at, EventKind::Exec { former, program });
        }
        let (args, ret) = convert::exit_args(name, args, result);
        let outs = args.into_iter().enumerate().collect();
        let nr = number_of(name);
        self.emit(out, tid, at, EventKind::Exit(Return { nr, ret, outs }));
    }

    fn exit_without_args(
        &mut self,
        tid: Tid,
        at: Duration,
        name: &str,
        result: &Outcome,
        out: &mut Vec<Event>,
    ) {
        if result.value.is_none() && result.errno.is_none() {
            return;
        }
        let (_, ret) = convert::exit_args(name, &[], result);
        let nr = number_of(name);
        self.emit(
            out,
            tid,
            at,
            EventKind::Exit(Return {
                nr,
                ret,
                outs: Vec::new(),
            }),
        );
    }

    fn gone(&mut self, tid: Tid, at: Duration, how: Termination, out: &mut Vec<Event>) {
        self.emit(out, tid, at, EventKind::Gone(how));
        self.tasks.remove(&tid);
        // The kernel may give the tid to a new task later, but not before
        // the parent's `clone` has returned it (see `early`).
        if !self.early.contains(&tid) {
            self.announced.remove(&tid);
        }
    }
}

/// The syscall number for strace's name (`syscall_0x1b6` for unknown ones);
/// a 32-bit call's name that x86_64 lacks (`mmap2`) is i386's number, marked
/// as the native tracer marks it.
fn number_of(name: &str) -> u64 {
    syscall_nr(name)
        .or_else(|| crate::syscalls::i386_number(name))
        .or_else(|| {
            let hex = name.strip_prefix("syscall_0x")?;
            u64::from_str_radix(hex, 16).ok()
        })
        .unwrap_or(u64::MAX)
}

/// The program an `execve` ran: its path argument.
fn path_arg(name: &str, args: &[Field]) -> String {
    let i = usize::from(name == "execveat");
    match args.get(i).map(|f| &f.value) {
        Some(syntax::Value::Str { bytes, .. }) => String::from_utf8_lossy(bytes).into_owned(),
        _ => String::new(),
    }
}

fn args_text(args: &[Field]) -> String {
    args.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether a call creates a task, and what kind, from its argument text.
fn spawn_kind(name: &str, text: &str) -> Option<SpawnKind> {
    match name {
        "fork" | "vfork" => Some(SpawnKind::Process),
        "clone" | "clone3" => Some(if text.contains("CLONE_THREAD") {
            SpawnKind::Thread
        } else {
            SpawnKind::Process
        }),
        _ => None,
    }
}

/// Decodes a whole recorded strace log (`strace -f -ttt -T -o FILE`).
pub fn decode_log(text: &[u8]) -> Result<Vec<Event>, StreamError> {
    let mut decoder = Decoder::new(None);
    let mut out = Vec::new();
    decoder.feed(text, &mut out)?;
    decoder.finish(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{Arg, Ret, Trace};

    fn decode(text: &str) -> Trace {
        Trace::from_events(decode_log(text.as_bytes()).expect("decodes"))
    }

    #[test]
    fn unfinished_and_resumed_make_one_record() {
        let t = decode(
            "10 1.000000 execve(\"/bin/srv\", [\"srv\"], 0x7ffc /* 3 vars */) = 0 <0.000100>\n\
             10 1.100000 read(3,  <unfinished ...>\n\
             11 1.200000 getpid() = 10 <0.000001>\n\
             10 1.300000 <... read resumed>\"hi\", 10) = 2 <0.200000>\n",
        );
        let read = t.records.iter().find(|r| r.name() == "read").expect("read");
        assert_eq!(read.args[0], Arg::Fd(3));
        assert_eq!(
            read.args[1],
            Arg::Bytes {
                head: b"hi".to_vec(),
                len: 2
            }
        );
        assert_eq!(read.args[2], Arg::Int(10));
        assert_eq!(read.ret, Some(Ret::Ok(Arg::Int(2))));
        assert_eq!(read.entered_at, Some(Duration::from_millis(100)));
        assert_eq!(read.exited_at, Some(Duration::from_millis(300)));
        assert!(matches!(t.events[0].kind, EventKind::Exec { .. }));
    }

    #[test]
    fn a_partial_line_enters_the_call_before_it_returns() {
        let mut d = Decoder::new(None);
        let mut out = Vec::new();
        d.feed(
            b"7 5.000000 execve(\"/x\", [\"x\"], NULL) = 0\n7 5.000001 accept(3, ",
            &mut out,
        )
        .expect("decodes");
        assert_eq!(out.len(), 1, "only the exec so far");
        d.flush_partial(&mut out);
        assert!(
            matches!(&out[1].kind, EventKind::Enter(c) if c.name() == "accept" && c.args[0] == Arg::Fd(3) && matches!(c.args[1], Arg::Out(_)))
        );
        d.flush_partial(&mut out);
        assert_eq!(out.len(), 2, "entered once");
        d.feed(b"NULL, NULL) = 4 <1.000000>\n", &mut out)
            .expect("decodes");
        assert!(matches!(&out[2].kind, EventKind::Exit(r) if r.ret == Ret::Ok(Arg::Fd(4))));
        assert_eq!(out.len(), 3);
    }

    #[test]
    fn threads_and_processes_get_their_spawns_and_groups() {
        let t = decode(
            "10 1.0 execve(\"/x\", [\"x\"], NULL) = 0\n\
             10 1.1 clone3({flags=CLONE_VM|CLONE_THREAD, exit_signal=0}  <unfinished ...>\n\
             11 1.2 gettid() = 11\n\
             10 1.3 <... clone3 resumed> => {parent_tid=[11]}, 88) = 11\n\
             10 1.4 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7f) = 12\n\
             12 1.5 exit_group(0) = ?\n\
             12 1.6 +++ exited with 0 +++\n\
             10 1.7 --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=12, si_uid=0, si_status=0, si_utime=0, si_stime=0} ---\n",
        );
        let spawns: Vec<(Tid, Tid, SpawnKind)> = t
            .events
            .iter()
            .filter_map(|e| match e.kind {
                EventKind::Spawn { child, kind } => Some((e.tid, child, kind)),
                _ => None,
            })
            .collect();
        assert_eq!(
            spawns,
            vec![(10, 11, SpawnKind::Thread), (10, 12, SpawnKind::Process)]
        );
        let gettid = t
            .records
            .iter()
            .find(|r| r.name() == "gettid")
            .expect("gettid");
        assert_eq!((gettid.tid, gettid.pid), (11, 10));
        let exit = t
            .records
            .iter()
            .find(|r| r.name() == "exit_group")
            .expect("exit");
        assert_eq!((exit.pid, exit.ret.clone()), (12, None));
        assert!(
            t.events
                .iter()
                .any(|e| e.kind == EventKind::Signal(libc::SIGCHLD))
        );
    }

    #[test]
    fn a_child_gone_before_its_clone_returns_is_spawned_once() {
        let t = decode(
            "10 1.0 execve(\"/x\", [\"x\"], NULL) = 0\n\
             10 1.1 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7f <unfinished ...>\n\
             12 1.2 exit_group(21) = ?\n\
             12 1.3 +++ exited with 21 +++\n\
             10 1.4 <... clone resumed>) = 12\n\
             10 1.5 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7f) = 12\n",
        );
        let spawns = t
            .events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::Spawn { child: 12, .. }))
            .count();
        // Once for the first child, once for the second that reused its tid.
        assert_eq!(spawns, 2);
    }

    #[test]
    fn the_programs_own_execve_is_an_exec_even_when_seen_in_halves() {
        let mut d = Decoder::new(None);
        let mut out = Vec::new();
        d.feed(b"7 5.000000 execve(\"/x\", [\"x\"], ", &mut out)
            .expect("decodes");
        d.flush_partial(&mut out);
        d.feed(b"NULL) = 0 <0.000100>\n", &mut out)
            .expect("decodes");
        assert_eq!(out.len(), 1, "{out:?}");
        assert!(matches!(out[0].kind, EventKind::Exec { .. }));
    }

    #[test]
    fn absurd_durations_do_not_overflow() {
        // Found by `cargo fuzz run strace_stream`.
        let t = decode("1.0 i()=1\n2.0 d()=1 <18446744073709551615>\n");
        assert_eq!(t.records.len(), 2);
    }

    #[test]
    fn a_bad_line_is_an_error_with_its_number() {
        let e = decode_log(b"1 1.0 getpid() = 1\n1 1.1 read(3, \"abc) = 3\n").expect_err("bad");
        assert_eq!(e.line_no, 2);
        assert!(
            e.to_string()
                .starts_with("strace output line 2: cannot parse"),
            "{e}"
        );
    }
}
