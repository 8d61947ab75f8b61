//! What a run showed beyond the checks: the limits the program hit and the
//! rules it broke, as values the report renders.
//!
//! A finding is data (which call, which limit, which processes); only its
//! `Display` makes the sentence a student reads, so a check or a test can
//! ask what happened without matching text.

use std::fmt;
use std::time::Duration;

use crate::limits::{LimitHit, Resources, bytes, seconds};
use crate::syscalls::Class;
use crate::trace::{Arg, EventKind, Ret, SockAddr, Termination, Tid, Trace, errno_name};

/// One limit hit or rule broken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    /// A limit the tracer enforced itself (too many tasks).
    Limit(LimitHit),
    /// `SIGXCPU`: the CPU time limit ran out.
    CpuTimeUsedUp { limit: Duration },
    /// `SIGXFSZ`: a file grew past the file size limit.
    FileTooLarge { limit: u64 },
    /// The first process exec'd another program before it listened.
    ReplacedItself { program: String },
    /// A memory call failed with `ENOMEM`, and the program died.
    OutOfMemory { call: &'static str, limit: u64 },
    /// A call failed with `EMFILE`.
    OutOfFiles { call: &'static str, limit: u64 },
    /// A clone-family call failed with `EAGAIN`.
    CannotSpawn { call: &'static str },
    /// The program called one of the calls the sandbox refuses.
    Denied { call: String },
    /// The program made a process or thread with `clone3(CLONE_UNTRACED)`,
    /// which the tracer does not follow.
    Untraced,
    /// The program called `ptrace`, which fails under a tracer.
    UsedPtrace { request: String, errno: i32 },
    /// `bind` failed with `EADDRINUSE`.
    PortTaken { addr: Option<SockAddr> },
    /// It bound the wildcard address.
    ListensEverywhere { addr: SockAddr },
    /// It bound an IPv6 address.
    ListensOnIpv6 { addr: SockAddr },
    /// It died of `SIGSEGV`.
    Segfault,
    /// Processes still running when it ended by itself.
    LeftRunning { pids: Vec<Tid> },
    /// It wrote more output than iolab keeps.
    OutputCapped { stdout: u64, stderr: u64, cap: u64 },
    /// The listen timeout ran out while it computed outside any call.
    ComputingBeforeListen { cpu: Duration, waited: Duration },
    /// A launcher did more than fork, exec and wait.
    OpaqueLauncher {
        launchers: String,
        call: &'static str,
    },
    /// Threads that never touched the server's sockets (a runtime's).
    HelperThreads { tasks: Vec<String> },
    /// The scenario's time limit ran out before its last step.
    OutOfTime {
        limit: Duration,
        done: usize,
        steps: usize,
    },
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::Limit(hit) => write!(f, "{hit}"),
            Finding::CpuTimeUsedUp { limit } => write!(
                f,
                "it used up its {} of CPU time (the cpu limit) and was killed: an endless loop?",
                seconds(*limit)
            ),
            Finding::FileTooLarge { limit } => write!(
                f,
                "it wrote a file past the {} file size limit (fsize)",
                bytes(*limit)
            ),
            Finding::ReplacedItself { program } => write!(
                f,
                "it replaced itself with another program: execve(\"{program}\")"
            ),
            Finding::OutOfMemory { call, limit } => write!(
                f,
                "it ran out of memory: {call}() failed with ENOMEM at the {} memory limit (address space); a runtime that reserves address space up front (a JVM's heap, its code cache and thread stacks) needs more: raise the limit with --limit memory=8G (an instructor's grading script passes it too), or cap the reservation (java -Xmx256m)",
                bytes(*limit)
            ),
            Finding::OutOfFiles { call, limit } => write!(
                f,
                "it ran out of file descriptors: {call}() failed with EMFILE at the {limit} open files limit (nofile); are connections closed when their clients leave?"
            ),
            Finding::CannotSpawn { call } => write!(
                f,
                "it could not create another thread or process: {call}() failed with EAGAIN"
            ),
            Finding::Denied { call } => write!(
                f,
                "it called {call}, which failed with EPERM: no lab needs it, and iolab's sandbox refuses it to graded programs (I/O the trace cannot see, or a way past the sandbox)"
            ),
            Finding::Untraced => write!(
                f,
                "it called clone3 with CLONE_UNTRACED: what that child does is not in the trace, so this grade cannot vouch for it (no lab needs it)"
            ),
            Finding::UsedPtrace { request, errno } => write!(
                f,
                "it called ptrace({request}), which failed with {}: a program has one tracer, and under iolab that is iolab; solutions must not use ptrace",
                errno_name(*errno)
            ),
            Finding::PortTaken { addr } => write!(
                f,
                "bind({}) failed with EADDRINUSE: another program already listens on that port; bind the port you are given (--port; 0 means any free port)",
                addr.as_ref().map_or_else(|| "?".to_string(), addr_text)
            ),
            Finding::ListensEverywhere { addr } => write!(
                f,
                "it listens on every interface ({}), where other machines can reach it; iolab connected to 127.0.0.1 (labs listen on 127.0.0.1)",
                addr_text(addr)
            ),
            Finding::ListensOnIpv6 { addr } => write!(
                f,
                "it listens on an IPv6 address ({}); iolab connected over IPv6 (labs listen on 127.0.0.1)",
                addr_text(addr)
            ),
            Finding::Segfault => write!(
                f,
                "it crashed with SIGSEGV (a segmentation fault: it touched memory it does not own)"
            ),
            Finding::LeftRunning { pids } => {
                let listed: Vec<String> = pids.iter().map(Tid::to_string).collect();
                write!(
                    f,
                    "when it ended it left {} running in the background (pid {}), which iolab killed: a lab server must stay in the foreground and not daemonize",
                    if pids.len() == 1 {
                        "a process".to_string()
                    } else {
                        format!("{} processes", pids.len())
                    },
                    listed.join(", ")
                )
            }
            Finding::OutputCapped {
                stdout,
                stderr,
                cap,
            } => write!(
                f,
                "it wrote {} to stdout and {} to stderr; iolab kept the first {} of each",
                bytes(*stdout),
                bytes(*stderr),
                bytes(*cap)
            ),
            Finding::ComputingBeforeListen { cpu, waited } => write!(
                f,
                "when the time ran out it was computing, outside any system call ({:.1} s of CPU in those {}): a loop that never reaches listen()?",
                cpu.as_secs_f64(),
                seconds(*waited)
            ),
            Finding::OpaqueLauncher { launchers, call } => write!(
                f,
                "the program that started the server ({launchers}) called {call}() itself: a launcher only forks, execs and waits, so iolab graded it with the server"
            ),
            Finding::HelperThreads { tasks } => write!(
                f,
                "it created {} that never touched the listening socket or a connection ({}): a runtime's or a logger's, say; the one-task checks leave {} out",
                if tasks.len() == 1 {
                    "a thread".to_string()
                } else {
                    format!("{} threads", tasks.len())
                },
                tasks.join(", "),
                if tasks.len() == 1 { "it" } else { "them" }
            ),
            Finding::OutOfTime { limit, done, steps } => write!(
                f,
                "the scenario ran out of time: it may take {} (the time limit), and iolab stopped the server after {done} of its {steps} steps",
                seconds(*limit)
            ),
        }
    }
}

/// Adds `finding` unless an equal one is there already.
pub fn add(findings: &mut Vec<Finding>, finding: Finding) {
    if !findings.contains(&finding) {
        findings.push(finding);
    }
}

/// What a run shows beyond the checks: the limits the program hit and the
/// rules it broke. `left_behind` are the processes still running when the
/// program ended by itself; `listened` whether it got as far as listening
/// (an `execve` into another program is named only when it did not:
/// wrappers such as `env python3` are fine).
pub fn of_run(
    trace: &Trace,
    resources: &Resources,
    hit: Option<LimitHit>,
    left_behind: &[Tid],
    listened: bool,
) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::new();
    let mut say = |finding: Finding| add(&mut out, finding);
    if let Some(hit) = hit {
        say(Finding::Limit(hit));
    }
    let root = trace.events.iter().find(|e| e.tid != 0).map(|e| e.tid);
    let crashed = matches!(
        trace.root_termination(),
        Some(Termination::Killed { signal, .. }) if signal != libc::SIGTERM
    ) || matches!(trace.root_termination(), Some(Termination::Exited(code)) if code != 0);
    let mut execs = 0;
    for e in &trace.events {
        match &e.kind {
            EventKind::Signal(s) if *s == libc::SIGXCPU => say(Finding::CpuTimeUsedUp {
                limit: resources.cpu,
            }),
            EventKind::Signal(s) if *s == libc::SIGXFSZ => say(Finding::FileTooLarge {
                limit: resources.file_size,
            }),
            EventKind::Exec { program, .. } => {
                execs += 1;
                if execs > 1 && Some(e.pid) == root && !listened {
                    say(Finding::ReplacedItself {
                        program: program.clone(),
                    });
                }
            }
            _ => {}
        }
    }
    for rec in &trace.records {
        let errno = rec.errno();
        match (rec.name(), errno) {
            // Named only when it died: glibc survives a failed arena mmap.
            ("mmap" | "mremap" | "mprotect", Some(libc::ENOMEM)) if crashed => {
                say(Finding::OutOfMemory {
                    call: rec.name(),
                    limit: resources.address_space,
                })
            }
            (_, Some(libc::EMFILE)) => say(Finding::OutOfFiles {
                call: rec.name(),
                limit: resources.open_files,
            }),
            (_, Some(libc::EAGAIN)) if rec.is_a(&[Class::Spawn]) => {
                say(Finding::CannotSpawn { call: rec.name() })
            }
            (name, Some(libc::EPERM)) if crate::sandbox::DENIED.contains(&name) => {
                say(Finding::Denied {
                    call: format!("{name}()"),
                })
            }
            ("clone", Some(libc::EPERM)) if rec.has_flag(0, libc::CLONE_UNTRACED as u64) => {
                say(Finding::Denied {
                    call: "clone(CLONE_UNTRACED)".into(),
                })
            }
            ("clone3", _) if rec.has_flag(0, libc::CLONE_UNTRACED as u64) => say(Finding::Untraced),
            ("ptrace", Some(e)) => say(Finding::UsedPtrace {
                request: ptrace_request(rec.args.first()),
                errno: e,
            }),
            ("bind", Some(libc::EADDRINUSE)) => say(Finding::PortTaken {
                addr: match rec.args.get(1) {
                    Some(Arg::Addr(a)) => Some(a.clone()),
                    _ => None,
                },
            }),
            ("bind", None) if matches!(rec.ret, Some(Ret::Ok(_))) => {
                if let Some(Arg::Addr(a)) = rec.args.get(1) {
                    match a {
                        SockAddr::Inet(ip, _) if ip.is_unspecified() => {
                            say(Finding::ListensEverywhere { addr: a.clone() })
                        }
                        // `::ffff:127.0.0.1` is 127.0.0.1 (a JVM binds it so).
                        SockAddr::Inet6(ip, _)
                            if ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()) => {}
                        SockAddr::Inet6(..) => say(Finding::ListensOnIpv6 { addr: a.clone() }),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(Termination::Killed { signal, .. }) = trace.root_termination()
        && signal == libc::SIGSEGV
    {
        say(Finding::Segfault);
    }
    if !left_behind.is_empty() {
        say(Finding::LeftRunning {
            pids: left_behind.to_vec(),
        });
    }
    out
}

/// The name of a ptrace request, as the decoders give its first argument.
fn ptrace_request(arg: Option<&Arg>) -> String {
    match arg {
        Some(Arg::Sym(s)) => s.to_string(),
        Some(Arg::Int(n)) => n.to_string(),
        _ => "?".to_string(),
    }
}

/// `127.0.0.1:8080`, `[::1]:8080`.
fn addr_text(a: &SockAddr) -> String {
    match a {
        SockAddr::Inet(ip, port) => std::net::SocketAddr::from((*ip, *port)).to_string(),
        SockAddr::Inet6(ip, port) => std::net::SocketAddr::from((*ip, *port)).to_string(),
        SockAddr::Unix(path) => path.clone(),
        SockAddr::Other(family) => format!("family {family}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_finding_is_said_once() {
        let mut all = Vec::new();
        add(&mut all, Finding::Segfault);
        add(&mut all, Finding::CannotSpawn { call: "clone3" });
        add(&mut all, Finding::Segfault);
        assert_eq!(all.len(), 2);
    }

    #[test]
    fn findings_name_the_call_and_the_limit() {
        let f = Finding::OutOfFiles {
            call: "accept4",
            limit: 64,
        };
        assert_eq!(
            f.to_string(),
            "it ran out of file descriptors: accept4() failed with EMFILE at the 64 open files limit (nofile); are connections closed when their clients leave?"
        );
        let f = Finding::LeftRunning { pids: vec![7, 9] };
        assert!(
            f.to_string()
                .contains("left 2 processes running in the background (pid 7, 9)")
        );
        let f = Finding::PortTaken { addr: None };
        assert!(f.to_string().starts_with("bind(?) failed with EADDRINUSE"));
        // A JVM at the default limit is told how to get past it.
        let f = Finding::OutOfMemory {
            call: "mmap",
            limit: 2 << 30,
        };
        assert!(
            f.to_string().starts_with(
                "it ran out of memory: mmap() failed with ENOMEM at the 2 GiB memory limit"
            ) && f.to_string().contains("--limit memory=8G"),
            "{f}"
        );
    }
}
