//! Native-tracer events printed in strace's notation, for people who read
//! strace (`iolab trace --format strace`).
//!
//! Lines look like `strace -f -ttt -T`'s, with times counted from the start
//! of the trace: `1234 0.001021 read(3, "hi", 4096) = 2 <0.000011>`. A call
//! another task's line interrupts is split into `<unfinished ...>` and
//! `<... read resumed>` halves, as strace does. What the native decoder
//! keeps is what is printed: buffers cut to their first bytes, pointers
//! without the memory behind them.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

use super::syntax::escape;
use crate::trace::{
    Arg, Event, EventKind, Ret, Sigaction, SockAddr, Termination, Tid, errno_name, known_at_entry,
    merge_outs, signal_name, syscall_name,
};

/// A call entered and not yet printed whole.
struct Open {
    nr: u64,
    args: Vec<Arg>,
    at: Duration,
    /// Its entry was printed as an `<unfinished ...>` line.
    split: bool,
}

/// Turns events into strace-style lines as they come.
#[derive(Default)]
pub struct Formatter {
    open: HashMap<Tid, Open>,
    /// The task whose entry is the latest thing seen, not printed yet.
    last: Option<Tid>,
}

impl Formatter {
    pub fn new() -> Formatter {
        Formatter::default()
    }

    /// The lines `event` completes.
    pub fn event(&mut self, e: &Event) -> Vec<String> {
        let mut lines = Vec::new();
        match &e.kind {
            EventKind::Enter(call) => {
                self.interrupt(e.tid, &mut lines);
                self.open.insert(
                    e.tid,
                    Open {
                        nr: call.nr,
                        args: call.args.clone(),
                        at: e.at,
                        split: false,
                    },
                );
                self.last = Some(e.tid);
            }
            EventKind::Exit(ret) => {
                let open = self.open.remove(&e.tid);
                if self.last != Some(e.tid) {
                    self.interrupt(e.tid, &mut lines);
                }
                self.last = None;
                let mut args = open.as_ref().map(|o| o.args.clone()).unwrap_or_default();
                merge_outs(&mut args, &ret.outs);
                let name = syscall_name(ret.nr);
                let result = outcome(name, &args, Some(&ret.ret));
                let dur = open
                    .as_ref()
                    .map_or(Duration::ZERO, |o| e.at.saturating_sub(o.at));
                let dur = format!(" <{}.{:06}>", dur.as_secs(), dur.subsec_micros());
                match open {
                    Some(o) if o.split && name == "clone" => {
                        let (_, tail) = clone_halves(&args);
                        lines.push(format!(
                            "{} {}<... clone resumed>{tail}) {result}{dur}",
                            e.tid,
                            time(e.at)
                        ));
                    }
                    Some(o) if o.split => {
                        let k = known_at_entry(&o.args);
                        lines.push(format!(
                            "{} {}<... {name} resumed>{}) {result}{dur}",
                            e.tid,
                            time(e.at),
                            args_text(name, &args[k.min(args.len())..], k)
                        ));
                    }
                    Some(o) => lines.push(format!(
                        "{} {}{name}({}) {result}{dur}",
                        e.tid,
                        time(o.at),
                        args_text(name, &args, 0)
                    )),
                    None => lines.push(format!(
                        "{} {}<... {name} resumed>) {result}{dur}",
                        e.tid,
                        time(e.at)
                    )),
                }
            }
            EventKind::Signal(sig) => {
                self.interrupt(e.tid, &mut lines);
                lines.push(format!(
                    "{} {}--- {} ---",
                    e.tid,
                    time(e.at),
                    signal_name(*sig)
                ));
            }
            EventKind::Gone(how) => {
                self.interrupt(e.tid, &mut lines);
                if let Some(o) = self.open.remove(&e.tid) {
                    let name = syscall_name(o.nr);
                    if o.split {
                        lines.push(format!("{} {}<... {name} resumed>) = ?", e.tid, time(e.at)));
                    } else {
                        lines.push(format!(
                            "{} {}{name}({}) = ?",
                            e.tid,
                            time(o.at),
                            args_text(name, &o.args, 0)
                        ));
                    }
                }
                if self.last == Some(e.tid) {
                    self.last = None;
                }
                let what = match how {
                    Termination::Exited(code) => format!("exited with {code}"),
                    Termination::Killed { signal, core } => format!(
                        "killed by {}{}",
                        signal_name(*signal),
                        if *core { " (core dumped)" } else { "" }
                    ),
                };
                lines.push(format!("{} {}+++ {what} +++", e.tid, time(e.at)));
            }
            EventKind::Exec { former, program }
                if *former == e.tid && !self.open.contains_key(&e.tid) =>
            {
                // The program the tracer started: strace shows its execve.
                self.interrupt(e.tid, &mut lines);
                let mut quoted = String::new();
                escape(program.as_bytes(), &mut quoted);
                lines.push(format!(
                    "{} {}execve(\"{quoted}\", [...], ...) = 0 <0.000000>",
                    e.tid,
                    time(e.at)
                ));
            }
            EventKind::Exec { former, .. } if *former != e.tid => {
                // A thread other than the leader exec'd: the kernel ended
                // every other thread, the leader's call with it, and the
                // exec'ing thread goes on under the leader's id. As strace:
                // the leader's call ends `= ?`, then `+++ superseded by
                // execve in pid FORMER +++`, then `<... execve resumed>`.
                self.interrupt(e.tid, &mut lines);
                if let Some(o) = self.open.remove(&e.tid) {
                    let name = syscall_name(o.nr);
                    let head = if o.split {
                        format!("<... {name} resumed>")
                    } else {
                        format!("{name}({}", args_text(name, &o.args, 0))
                    };
                    lines.push(format!(
                        "{} {}{head} <unfinished ...>) = ?",
                        e.tid,
                        time(e.at)
                    ));
                }
                lines.push(format!(
                    "{} {}+++ superseded by execve in pid {former} +++",
                    e.tid,
                    time(e.at)
                ));
                // The execve's entry half is out (the leader's line above
                // interrupted it): it resumes under the leader's id.
                if let Some(o) = self.open.remove(former) {
                    self.open.insert(e.tid, o);
                }
                self.last = None;
            }
            // strace has no notation for a folded repeat: `iolab trace`
            // folds repeats only for its transcript, never for this form.
            EventKind::Exec { .. }
            | EventKind::Spawn { .. }
            | EventKind::Step(_)
            | EventKind::Blocked
            | EventKind::Repeat(_) => {}
        }
        lines
    }

    /// Another task speaks: a call entered and not printed is printed as
    /// its entry half.
    fn interrupt(&mut self, speaker: Tid, lines: &mut Vec<String>) {
        let Some(tid) = self.last else {
            return;
        };
        if tid == speaker {
            return;
        }
        self.last = None;
        if let Some(o) = self.open.get_mut(&tid)
            && !o.split
        {
            o.split = true;
            let name = syscall_name(o.nr);
            let k = known_at_entry(&o.args);
            // As strace: what it printed at entry, then ` <unfinished ...>`
            // (`read(3,  <unfinished ...>`, `write(5, "hi", 2 <unfinished
            // ...>` when every argument was known).
            let mut head = args_text(name, &o.args[..k], 0);
            if name == "clone" {
                head = clone_halves(&o.args).0;
            } else if k > 0 && k < o.args.len() {
                head.push_str(", ");
            }
            lines.push(format!(
                "{tid} {}{name}({head} <unfinished ...>",
                time(o.at)
            ));
        }
    }

    /// Lines for calls still open when the trace ended.
    pub fn finish(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(tid) = self.last {
            self.interrupt(tid + 1, &mut lines);
        }
        lines
    }
}

fn time(at: Duration) -> String {
    format!("{}.{:06} ", at.as_secs(), at.subsec_micros())
}

fn args_text(name: &str, args: &[Arg], first: usize) -> String {
    let mut shown: Vec<String> = args
        .iter()
        .enumerate()
        .map(|(i, a)| arg_text(name, first + i, a))
        .collect();
    clone_args(name, args, first, &mut shown);
    shown.join(", ")
}

/// `clone`'s and `clone3`'s arguments in strace's order: `clone`'s stack
/// before its flags and its tid pointers after, `clone3`'s members inside
/// its struct, after the flags.
fn clone_args(name: &str, args: &[Arg], first: usize, shown: &mut Vec<String>) {
    let members = args.iter().position(|a| matches!(a, Arg::Members(_)));
    match (name, first, members) {
        ("clone", 0, Some(at)) if at > 0 => {
            // `child_stack=..., flags=..., child_tidptr=...`.
            let all = shown.remove(at);
            let (stack, rest) = all.split_once(", ").unwrap_or((&all, ""));
            let flags = shown.remove(0);
            shown.insert(0, stack.to_string());
            shown.insert(1, flags);
            if !rest.is_empty() {
                shown.insert(2, rest.to_string());
            }
        }
        ("clone3", 0, Some(at)) if at > 0 => {
            let members = shown.remove(at);
            shown[0] = format!("{}, {members}}}", shown[0]);
        }
        _ => {}
    }
}

/// `clone`'s arguments in the two halves strace prints them in when its
/// line is split: the stack and flags at entry, then (`, child_tidptr=...`,
/// the other tid pointers and tls) at exit.
fn clone_halves(args: &[Arg]) -> (String, String) {
    let mut shown: Vec<String> = args
        .iter()
        .enumerate()
        .map(|(i, a)| arg_text("clone", i, a))
        .collect();
    clone_args("clone", args, 0, &mut shown);
    let tail = shown.split_off(shown.len().min(2));
    (
        shown.join(", "),
        tail.iter().map(|t| format!(", {t}")).collect(),
    )
}

/// Whether argument `index` of syscall `name` is a signal number, by the
/// syscall table.
fn is_signal_arg(name: &str, index: usize) -> bool {
    crate::syscalls::number(name)
        .and_then(crate::syscalls::by_nr)
        .is_some_and(|s| s.args.get(index) == Some(&crate::syscalls::Kind::SignalNr))
}

/// One argument in strace's notation.
fn arg_text(name: &str, index: usize, a: &Arg) -> String {
    match a {
        Arg::Fd(v) | Arg::Tid(v) => v.to_string(),
        // A signal the decoder had no name for (a real-time one); 0 is no
        // signal (`kill(pid, 0)` asks whether pid exists), printed as 0.
        Arg::Int(v) if *v != 0 && is_signal_arg(name, index) => signal_name(*v as i32),
        Arg::Int(v) => v.to_string(),
        Arg::Hex(v) => hex(*v),
        Arg::Mode(v) => crate::values::mode_text(*v),
        Arg::Ptr(0) | Arg::Out(0) => "NULL".to_string(),
        Arg::Ptr(p) | Arg::Out(p) | Arg::Word(p) => format!("{p:#x}"),
        Arg::Sym(s) => (*s).to_string(),
        Arg::Flags { names, rest } if index == 0 && matches!(name, "clone" | "clone3") => {
            // `clone` shows its stack first, `clone3` its struct's members
            // after the flags (see `clone_args`); the exit signal travels
            // with the flags natively, and strace shows `clone3`'s apart.
            if name == "clone" {
                format!("flags={}", flags(names, *rest))
            } else {
                let flag_names: Vec<&str> = names
                    .iter()
                    .copied()
                    .filter(|n| !n.starts_with("SIG"))
                    .collect();
                format!("{{flags={}", flags(&flag_names, *rest))
            }
        }
        Arg::Members(members) => members
            .iter()
            .map(|(k, v)| format!("{k}={}", arg_text("", 1, v)))
            .collect::<Vec<_>>()
            .join(", "),
        Arg::Flags { names, rest } => flags(names, *rest),
        Arg::Addr(addr) => sockaddr(addr),
        Arg::Bytes { head, len } => {
            let mut s = String::from("\"");
            escape(head, &mut s);
            s.push('"');
            if (head.len() as u64) < *len {
                s.push_str("...");
            }
            s
        }
        Arg::Str(s) => {
            let mut q = String::from("\"");
            escape(s.as_bytes(), &mut q);
            q.push('"');
            q
        }
        Arg::Strs(v) => {
            // As strace: the first 32 strings, each cut at 32 bytes.
            let shown = crate::trace::ARGV_SHOWN;
            let mut items: Vec<String> = v
                .iter()
                .take(shown)
                .map(|s| {
                    let b = s.as_bytes();
                    let mut q = String::from("\"");
                    escape(&b[..b.len().min(STRING_SHOWN)], &mut q);
                    q.push('"');
                    if b.len() > STRING_SHOWN {
                        q.push_str("...");
                    }
                    q
                })
                .collect();
            if v.len() > shown {
                items.push("...".into());
            }
            format!("[{}]", items.join(", "))
        }
        Arg::IntRef(v) => format!("[{v}]"),
        Arg::FdPair(a, b) => format!("[{a}, {b}]"),
        Arg::PollFds(list) => {
            // As strace: a negative fd without its events, the first 32.
            let mut items: Vec<String> = list
                .iter()
                .take(crate::trace::ARGV_SHOWN)
                .map(|p| match p.fd {
                    fd if fd < 0 => format!("{{fd={fd}}}"),
                    fd => format!("{{fd={fd}, events={}}}", flags(&p.events, p.rest)),
                })
                .collect();
            if list.len() > crate::trace::ARGV_SHOWN {
                items.push("...".into());
            }
            format!("[{}]", items.join(", "))
        }
        Arg::SigSet(mask) => sigset(*mask),
        Arg::Env { addr, vars } => format!("{addr:#x} /* {vars} vars */"),
        Arg::FdSet { given, .. } => fd_set(given),
        Arg::Epoll(ev) => epoll_event(ev),
        Arg::EpollEvents(list) => {
            let items: Vec<String> = list.iter().map(epoll_event).collect();
            format!("[{}]", items.join(", "))
        }
        Arg::ChildInfo { code, pid, status } => format!(
            "{{si_signo=SIGCHLD, si_code={code}, si_pid={pid}, si_uid=0, si_status={status}, si_utime=0, si_stime=0}}"
        ),
        Arg::Sigaction(sa) => sigaction(sa),
        Arg::Time(t) => t.to_string(),
        Arg::Text(t) => t.clone(),
        Arg::Unknown => "...".to_string(),
    }
}

/// How many bytes of a string in an array strace shows (its `-s 32`).
const STRING_SHOWN: usize = 32;

fn flags(names: &[&str], rest: u64) -> String {
    let mut parts: Vec<String> = names.iter().map(|s| (*s).to_string()).collect();
    if rest != 0 || parts.is_empty() {
        parts.push(if rest == 0 {
            "0".into()
        } else {
            format!("{rest:#x}")
        });
    }
    parts.join("|")
}

fn fd_set(fds: &[i32]) -> String {
    let items: Vec<String> = fds.iter().map(ToString::to_string).collect();
    format!("[{}]", items.join(" "))
}

fn epoll_event(ev: &crate::trace::EpollEvent) -> String {
    format!(
        "{{events={}, data={{u32={}, u64={}}}}}",
        flags(&ev.events, ev.rest),
        ev.data as u32,
        ev.data
    )
}

fn sockaddr(a: &SockAddr) -> String {
    match a {
        SockAddr::Inet(ip, port) => {
            format!("{{sa_family=AF_INET, sin_port=htons({port}), sin_addr=inet_addr(\"{ip}\")}}")
        }
        SockAddr::Inet6(ip, port) => format!(
            "{{sa_family=AF_INET6, sin6_port=htons({port}), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, \"{ip}\", &sin6_addr), sin6_scope_id=0}}"
        ),
        SockAddr::Unix(path) => {
            let mut q = String::new();
            escape(path.as_bytes(), &mut q);
            format!("{{sa_family=AF_UNIX, sun_path=\"{q}\"}}")
        }
        SockAddr::Other(family) => format!("{{sa_family={family}}}"),
    }
}

/// `{sa_handler=0x5555..., sa_mask=[INT], sa_flags=SA_RESTORER|SA_RESTART,
/// sa_restorer=0x7fff...}`, in strace's order of flags; the restorer only
/// with `SA_RESTORER`.
fn sigaction(sa: &Sigaction) -> String {
    let handler = match sa.handler {
        0 => "SIG_DFL".to_string(),
        1 => "SIG_IGN".to_string(),
        h => format!("{h:#x}"),
    };
    let (names, rest) = match crate::values::flags(sa.flags, crate::values::STRACE_SA_FLAGS) {
        Arg::Flags { names, rest } => (names, rest),
        _ => (Vec::new(), sa.flags),
    };
    let mut s = format!(
        "{{sa_handler={handler}, sa_mask={}, sa_flags={}",
        sigset(sa.mask),
        flags(&names, rest)
    );
    if sa.flags & crate::values::SA_RESTORER != 0 {
        let _ = write!(s, ", sa_restorer={:#x}", sa.restorer);
    }
    s.push('}');
    s
}

/// A signal set as strace prints it: `[INT TERM]`, or when two thirds of
/// the 64 signals or more are in it, those that are not, `~[KILL STOP]`.
fn sigset(mask: u64) -> String {
    let (bits, prefix) = if mask.count_ones() >= 64 * 2 / 3 {
        (!mask, "~")
    } else {
        (mask, "")
    };
    let names: Vec<String> = (0..64)
        .filter(|i| bits & (1 << i) != 0)
        .map(|i| {
            let name = signal_name(i + 1);
            name.strip_prefix("SIG").unwrap_or(&name).to_string()
        })
        .collect();
    format!("{prefix}[{}]", names.join(" "))
}

/// `= value (note)`, or `= -1 ERRNO (description)`.
fn outcome(name: &str, args: &[Arg], ret: Option<&Ret>) -> String {
    match ret {
        None => "= ?".to_string(),
        Some(Ret::Err(e)) if (512..=516).contains(e) => {
            let why = match e {
                512 => "To be restarted if SA_RESTART is set",
                514 => "To be restarted if no handler",
                516 => "Interrupted by signal",
                _ => "To be restarted",
            };
            format!("= ? {} ({why})", errno_name(*e))
        }
        Some(Ret::Err(e)) => format!(
            "= -1 {} ({})",
            errno_name(*e),
            nix::errno::Errno::from_raw(*e).desc()
        ),
        // As strace: the flags `fcntl` read, as a number and then by name.
        Some(Ret::Ok(Arg::Flags { names, rest }))
            if name == "fcntl" && args.get(1) == Some(&Arg::Sym("F_GETFL")) =>
        {
            let v = crate::values::open_flags_value(names, *rest);
            format!("= {} (flags {})", hex(v), flags(names, *rest))
        }
        Some(Ret::Ok(Arg::Int(v)))
            if name == "fcntl" && args.get(1) == Some(&Arg::Sym("F_GETFD")) && *v != 0 =>
        {
            let named = if *v == 1 {
                "FD_CLOEXEC".to_string()
            } else {
                format!("FD_CLOEXEC|{}", hex(*v as u64 & !1))
            };
            format!("= {} (flags {named})", hex(*v as u64))
        }
        Some(Ret::Ok(v)) => {
            let mut s = format!("= {}", value(v));
            let _ = write!(s, "{}", note(name, args, v));
            s
        }
    }
}

/// `0x802`, and `0` as strace's `%#x` prints it.
fn hex(v: u64) -> String {
    if v == 0 {
        "0".into()
    } else {
        format!("{v:#x}")
    }
}

fn value(v: &Arg) -> String {
    match v {
        Arg::Fd(x) | Arg::Tid(x) => x.to_string(),
        Arg::Int(x) => x.to_string(),
        Arg::Ptr(p) => format!("{p:#x}"),
        Arg::Flags { names, rest } => flags(names, *rest),
        other => arg_text("", 0, other),
    }
}

/// What strace adds after a readiness wait's result: the ready fds.
fn note(name: &str, args: &[Arg], v: &Arg) -> String {
    let n = matches!(v, Arg::Int(n) if *n > 0);
    match name {
        "poll" | "ppoll" => match args.first() {
            Some(Arg::PollFds(list)) if n => {
                let items: Vec<String> = list
                    .iter()
                    .filter_map(|p| {
                        let r = p.revents.as_ref()?;
                        (!r.is_empty()).then(|| format!("{{fd={}, revents={}}}", p.fd, flags(r, 0)))
                    })
                    .collect();
                format!(" ([{}])", items.join(", "))
            }
            _ if !n => " (Timeout)".to_string(),
            _ => String::new(),
        },
        "select" | "pselect6" => {
            if !n {
                return " (Timeout)".to_string();
            }
            let parts: Vec<String> = [(1, "in"), (2, "out"), (3, "except")]
                .iter()
                .filter_map(|&(i, key)| match args.get(i) {
                    Some(Arg::FdSet { ready: Some(r), .. }) if !r.is_empty() => {
                        Some(format!("{key} {}", fd_set(r)))
                    }
                    _ => None,
                })
                .collect();
            format!(" ({})", parts.join(", "))
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::Call;

    fn enter(tid: Tid, name: &str, args: Vec<Arg>) -> Event {
        let nr = crate::syscalls::number(name).expect("a syscall");
        Event {
            tid,
            pid: tid,
            at: Duration::ZERO,
            kind: EventKind::Enter(Call { nr, args }),
        }
    }

    /// The entry half strace prints when another task speaks.
    fn split(args: Vec<Arg>, name: &str) -> String {
        let mut f = Formatter::new();
        assert!(f.event(&enter(5, name, args)).is_empty());
        let lines = f.event(&enter(6, "getpid", Vec::new()));
        lines.into_iter().next().expect("the entry half")
    }

    #[test]
    fn unfinished_lines_end_as_strace_ends_them() {
        let write = split(
            vec![
                Arg::Fd(5),
                Arg::Bytes {
                    head: b"hi".to_vec(),
                    len: 2,
                },
                Arg::Int(2),
            ],
            "write",
        );
        assert!(
            write.ends_with("write(5, \"hi\", 2 <unfinished ...>"),
            "{write}"
        );
        let read = split(vec![Arg::Fd(3), Arg::Out(0), Arg::Int(16)], "read");
        assert!(read.ends_with("read(3,  <unfinished ...>"), "{read}");
    }

    #[test]
    fn a_split_clone_prints_its_tid_pointer_at_exit_as_strace() {
        // strace 6.1: `clone(child_stack=NULL, flags=... <unfinished ...>`,
        // then `<... clone resumed>, child_tidptr=0x7f...) = 12`.
        let args = vec![
            Arg::Flags {
                names: vec!["CLONE_CHILD_SETTID", "SIGCHLD"],
                rest: 0,
            },
            Arg::Members(vec![
                ("child_stack", Arg::Ptr(0)),
                ("child_tidptr", Arg::Ptr(0x7f00_0000_1000)),
            ]),
        ];
        let nr = crate::trace::syscall_nr("clone").expect("clone");
        let mut f = Formatter::new();
        assert!(f.event(&enter(5, "clone", args)).is_empty());
        let head = f.event(&enter(6, "getpid", Vec::new()));
        assert!(
            head[0].ends_with(
                "clone(child_stack=NULL, flags=CLONE_CHILD_SETTID|SIGCHLD <unfinished ...>"
            ),
            "{head:?}"
        );
        let tail = f.event(&Event {
            tid: 5,
            pid: 5,
            at: Duration::from_millis(2),
            kind: EventKind::Exit(crate::trace::Return {
                nr,
                ret: crate::trace::Ret::Ok(Arg::Tid(12)),
                outs: Vec::new(),
            }),
        });
        assert!(
            tail.iter()
                .any(|l| l.contains("<... clone resumed>, child_tidptr=0x7f0000001000) = 12")),
            "{tail:?}"
        );
    }

    #[test]
    fn signal_zero_is_a_number_and_real_time_signals_are_named() {
        assert_eq!(arg_text("kill", 1, &Arg::Int(0)), "0");
        assert_eq!(arg_text("kill", 1, &Arg::Int(34)), "SIGRT_2");
        assert_eq!(arg_text("tgkill", 2, &Arg::Int(32)), "SIGRTMIN");
        assert_eq!(arg_text("kill", 0, &Arg::Int(34)), "34", "a pid");
    }
}
