//! The labs: each one's scenarios and rubric, and helpers their checks share.

mod lab1;
mod lab2;
mod lab3;
mod lab4;
mod lab5;
mod lab6;
mod lab7;

use std::time::Duration;

use crate::filter::SyscallSet;
use crate::grade::{Lab, Run, Runs, Verdict};
use crate::scenario::{Observed, Scenario, Settled, Step, burst_data, upper};
use crate::trace::{Arg, EventKind, READS, Record, Ret, Termination, Tid, WAITS, WRITES};

/// Every lab, in order.
pub fn all() -> Vec<Lab> {
    vec![
        lab1::lab(),
        lab2::lab(),
        lab3::lab(),
        lab4::lab(),
        lab5::lab(),
        lab6::lab(),
        lab7::lab(),
    ]
}

/// The lab called `id` (`lab1`, or just `1`).
pub fn find(id: &str) -> Option<Lab> {
    let id = id.strip_prefix("lab").unwrap_or(id);
    all()
        .into_iter()
        .find(|l| l.id.strip_prefix("lab") == Some(id))
}

/// The syscalls every lab's scenarios stop on, in strace's syntax: what
/// the checks, the transcripts and the findings look at (sockets and fds,
/// processes and threads, signals, locks and sleeps, and the memory calls
/// whose `ENOMEM` a finding names). A solution's other calls (a runtime's
/// clocks, random numbers, thread-local set-up) run at full speed, so a
/// Python or Go solution's start-up costs no more than a Rust one's.
pub const SERVER_SYSCALLS: &str = "%net,%desc,%process,%signal,futex,sched_yield,nanosleep,clock_nanosleep,gettid,getpid,mmap,mremap,mprotect,brk,ptrace,restart_syscall";

/// [`SERVER_SYSCALLS`] as a set.
pub fn server_syscalls() -> SyscallSet {
    // A test parses it; were it ever broken, grading would stop on every
    // syscall rather than fail.
    SyscallSet::parse(SERVER_SYSCALLS).unwrap_or_else(|_| SyscallSet::all())
}

/// The indices of the records of `run` that satisfy `pred`.
fn records_where(run: &Run, pred: impl Fn(&Record) -> bool) -> Vec<usize> {
    run.outcome
        .trace
        .records
        .iter()
        .enumerate()
        .filter(|(_, rec)| pred(rec))
        .map(|(r, _)| r)
        .collect()
}

/// Calls to a readiness API (`select`, `poll`, `epoll_*`) after start-up.
fn readiness_calls(run: &Run) -> Vec<usize> {
    from_first_socket(run)
        .filter(|(_, r)| r.is(WAITS) || r.name().starts_with("epoll_"))
        .map(|(i, _)| i)
        .collect()
}

/// Whether a read got everything it asked for (so more may be waiting).
fn full_read(rec: &Record) -> bool {
    matches!((rec.done_len(), rec.asked_len()), (Some(n), Some(asked)) if n > 0 && n == asked)
}

/// Whether a write sent less than it was given (or nothing, with EAGAIN).
fn short_write(rec: &Record) -> bool {
    rec.errno() == Some(libc::EAGAIN)
        || matches!((rec.done_len(), rec.asked_len()), (Some(n), Some(given)) if n < given)
}

/// At most this many trace lines back a verdict.
const EVIDENCE_LINES: usize = 6;

/// The transcript lines of records, without repeats, bounded.
pub(crate) fn evidence(run: &Run, records: impl IntoIterator<Item = usize>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut more = 0;
    for r in records {
        let text = run.transcript.record_text(r).to_string();
        if out.contains(&text) {
            continue;
        }
        if out.len() < EVIDENCE_LINES {
            out.push(text);
        } else {
            more += 1;
        }
    }
    if more > 0 {
        out.push(format!("... and {more} more"));
    }
    out
}

/// What the server was doing at a settle step, in words and trace lines.
fn describe_settle(run: &Run, label: &str) -> (String, Vec<String>) {
    match run.outcome.observed(label) {
        Some(Observed::Settled(Settled::Blocked(records))) => (
            "it was blocked in:".to_string(),
            evidence(run, records.iter().copied()),
        ),
        Some(Observed::Settled(Settled::Busy { calls, recent })) => (
            format!(
                "it never blocked: it kept running ({calls} syscalls while the clients held still); the last ones:"
            ),
            evidence(run, recent.iter().copied()),
        ),
        Some(Observed::Settled(Settled::Spinning { calls, recent })) => (
            format!(
                "it never blocked: it kept polling, {calls} syscalls that found nothing to do while the clients held still; the last ones:"
            ),
            evidence(run, recent.iter().copied()),
        ),
        Some(Observed::Settled(Settled::Gone)) => {
            (format!("the server was gone ({}).", ended(run)), Vec::new())
        }
        _ => ("the scenario did not get that far.".to_string(), Vec::new()),
    }
}

/// How the server ended on its own, for messages.
fn ended(run: &Run) -> String {
    match run.outcome.ended_by_itself {
        Some(t @ Termination::Exited(_)) => format!("the server {t}"),
        Some(t) => format!("the server was {t}"),
        None => "the server was still running".to_string(),
    }
}

/// The blocked records of a settle step that are `names` on the fd named `fd`.
fn blocked_in(run: &Run, label: &str, names: &[&str], fd: &str) -> bool {
    run.outcome.blocked_at(label).is_some_and(|records| {
        records.iter().any(|&r| {
            let rec = &run.outcome.trace.records[r];
            rec.is(names) && rec.fd_arg(0).and_then(|f| run.transcript.fd_name(r, f)) == Some(fd)
        })
    })
}

/// Records that created a thread or process.
fn spawns(run: &Run) -> Vec<usize> {
    records_where(run, |r| {
        r.is(&["clone", "clone3", "fork", "vfork"])
            && matches!(r.ret, Some(Ret::Ok(Arg::Tid(t))) if t > 0)
    })
}

/// A thread or process a task created, from the call that created it.
pub(crate) struct Spawned {
    pub(crate) record: usize,
    pub(crate) parent: Tid,
    pub(crate) child: Tid,
    /// Created with `CLONE_VM|CLONE_THREAD`: a thread sharing memory.
    pub(crate) thread: bool,
}

/// Every thread and process created, in trace order.
pub(crate) fn spawned(run: &Run) -> Vec<Spawned> {
    spawns(run)
        .into_iter()
        .filter_map(|r| {
            let rec = &run.outcome.trace.records[r];
            let Some(Ret::Ok(Arg::Tid(child))) = rec.ret else {
                return None;
            };
            Some(Spawned {
                record: r,
                parent: rec.tid,
                child,
                thread: has_flag(rec, 0, "CLONE_THREAD") && has_flag(rec, 0, "CLONE_VM"),
            })
        })
        .collect()
}

/// The task the harness started (the first process's first thread).
pub(crate) fn root_task(run: &Run) -> Tid {
    run.outcome
        .trace
        .events
        .iter()
        .find(|e| e.tid != 0)
        .map_or(0, |e| e.tid)
}

/// The name a task has in the transcript (`main`, `T1`, `P1`).
pub(crate) fn task_name(run: &Run, tid: Tid) -> String {
    run.transcript.task_name(tid).unwrap_or("?").to_string()
}

/// The thread created for each connection: of the threads the main thread
/// created after accepting it (and before its next accept), the one that
/// read it first, else the first one. `(accept record, connection name,
/// thread)`.
pub(super) fn connection_threads(run: &Run) -> Vec<(usize, String, Option<Tid>)> {
    let main = root_task(run);
    let spawned = spawned(run);
    let records = &run.outcome.trace.records;
    let accepts: Vec<usize> = from_first_socket(run)
        .filter(|(r, rec)| {
            rec.tid == main && rec.is(&["accept", "accept4"]) && returned_name(run, *r).is_some()
        })
        .map(|(r, _)| r)
        .collect();
    accepts
        .iter()
        .enumerate()
        .map(|(i, &a)| {
            let next = accepts.get(i + 1).copied().unwrap_or(usize::MAX);
            let name = returned_name(run, a).unwrap_or("?").to_string();
            let created: Vec<Tid> = spawned
                .iter()
                .filter(|s| s.parent == main && s.thread && s.record > a && s.record < next)
                .map(|s| s.child)
                .collect();
            let reader = (a..records.len()).find_map(|r| {
                let rec = &records[r];
                (created.contains(&rec.tid)
                    && rec.is(READS)
                    && fd_name(run, r, 0) == Some(name.as_str()))
                .then_some(rec.tid)
            });
            (a, name, reader.or(created.first().copied()))
        })
        .collect()
}

/// The main thread accepted every connection of `scenarios` and created a
/// thread (not a process) for each.
fn thread_per_connection(runs: &Runs, scenarios: &[&str]) -> Verdict {
    for &name in scenarios {
        let run = runs.get(name);
        let main = root_task(run);
        let others: Vec<usize> = from_first_socket(run)
            .filter(|(r, rec)| {
                rec.tid != main
                    && rec.is(&["accept", "accept4"])
                    && returned_name(run, *r).is_some()
            })
            .map(|(r, _)| r)
            .collect();
        if !others.is_empty() {
            return Verdict::fail(
                "connections were accepted by other tasks than the main thread:",
                evidence(run, others),
            );
        }
        let processes: Vec<usize> = spawned(run)
            .iter()
            .filter(|s| !s.thread)
            .map(|s| s.record)
            .collect();
        if !processes.is_empty() {
            return Verdict::fail(
                "the server created processes (no CLONE_VM|CLONE_THREAD), which share no memory with main; this lab is about threads:",
                evidence(run, processes),
            );
        }
        let threads = connection_threads(run);
        if threads.is_empty() {
            return Verdict::fail(
                format!("the main thread accepted no connection in the \"{name}\" scenario"),
                Vec::new(),
            );
        }
        if let Some((a, conn, _)) = threads.iter().find(|(_, _, t)| t.is_none()) {
            let serving = from_first_socket(run)
                .filter(|(r, rec)| rec.is(READS) && fd_name(run, *r, 0) == Some(conn.as_str()))
                .map(|(r, _)| r)
                .take(1);
            return Verdict::fail(
                format!(
                    "main accepted {conn} but created no thread for it before accepting again (the main thread served it itself):"
                ),
                evidence(run, std::iter::once(*a).chain(serving)),
            );
        }
    }
    Verdict::pass("main accepted every connection and created a thread for each")
}

/// Whether any task was spawned during the run.
fn spawned_anything(run: &Run) -> bool {
    run.outcome
        .trace
        .events
        .iter()
        .any(|e| matches!(e.kind, EventKind::Spawn { .. }))
}

/// Describes how received bytes differ from the expected ones.
fn diff(got: &[u8], expected: &[u8]) -> String {
    if got == expected {
        return "identical".to_string();
    }
    let first = got
        .iter()
        .zip(expected)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(expected.len()));
    let show = |b: &[u8]| {
        let end = (first + 16).min(b.len());
        format!("{:?}", String::from_utf8_lossy(&b[first.min(end)..end]))
    };
    format!(
        "expected {} bytes, got {}; first difference at byte {first}: expected {}, got {}",
        expected.len(),
        got.len(),
        show(expected),
        show(got)
    )
}

/// The size of the message that takes several reads (labs 2–4 read 4096
/// bytes at a time).
const BIG_MESSAGE: usize = 12 * 1024;
/// The largest send buffer Linux gives a TCP socket by default
/// (`tcp_wmem`'s third field), for a machine whose `/proc` cannot say.
const DEFAULT_WMEM_MAX: usize = 4 * 1024 * 1024;
/// Room above the largest send buffer: the client's narrow receive buffer
/// (64 KiB asked, 128 KiB given) and its share of the kernel's bookkeeping,
/// twice over.
const SLOW_BURST_MARGIN: usize = 512 * 1024;

/// The size of the slow-read burst of labs 2–5: more than the server's send
/// buffer can hold (`tcp_wmem`'s maximum, which autotuning reaches on a
/// loaded machine) plus the client's receive buffer. A server that sets a
/// larger `SO_SNDBUF` itself (up to twice `net.core.wmem_max`) is not
/// covered; the labs' servers do not, and neither should a student's. The client reads only
/// when the server has stopped, so the whole reply can never fit in the
/// buffers and the server's writes must wait for room: certain, whatever
/// the kernel's autotuning does, not likely (a 1 MiB burst fitted in a send
/// buffer grown under CPU load about one run in fifteen).
pub fn slow_burst_size() -> usize {
    static SIZE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *SIZE.get_or_init(|| {
        let wmem_max = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem")
            .ok()
            .and_then(|s| s.split_whitespace().nth(2)?.parse::<usize>().ok())
            .unwrap_or(DEFAULT_WMEM_MAX);
        slow_burst_for(wmem_max)
    })
}

/// The slow burst's size for a given largest send buffer: that (at least
/// 512 KiB) plus the margin, so never under 1 MiB, rounded up to the
/// client's 64 KiB writes.
fn slow_burst_for(wmem_max: usize) -> usize {
    const CHUNK: usize = 64 * 1024;
    (wmem_max.max(512 * 1024) + SLOW_BURST_MARGIN).div_ceil(CHUNK) * CHUNK
}

/// A byte count for a student: `4.5 MiB`, `12 KiB`.
pub fn size_text(bytes: usize) -> String {
    const MIB: usize = 1024 * 1024;
    if bytes >= MIB {
        let tenths = (bytes * 10).div_ceil(MIB);
        if tenths % 10 == 0 {
            format!("{} MiB", tenths / 10)
        } else {
            format!("{}.{} MiB", tenths / 10, tenths % 10)
        }
    } else {
        format!("{} KiB", bytes.div_ceil(1024))
    }
}
/// How long an idle server is watched for the spin figures.
const IDLE_WINDOW: Duration = Duration::from_millis(300);
/// More waits per second than this while idle is polling, not sleeping:
/// a timeout under 50 ms in a loop.
const MAX_IDLE_WAITS_PER_SEC: f64 = 20.0;

/// The standard scenario of the labs where one thread serves many clients:
/// an idle period (measured), A served, B served while A is connected and
/// silent, a message larger than one read, and B served after A left.
fn many_clients(name: &'static str, args: &'static [&'static str]) -> Scenario {
    let big = burst_data(BIG_MESSAGE);
    Scenario {
        name,
        args,
        steps: vec![
            Step::Settle("idle"),
            Step::Measure("idle spin", IDLE_WINDOW),
            Step::Connect("A"),
            Step::Settle("A connected"),
            Step::Send("A", b"hello".to_vec()),
            Step::Expect("A echo", "A", b"HELLO".to_vec()),
            Step::Settle("A silent"),
            Step::Connect("B"),
            Step::Send("B", b"world".to_vec()),
            Step::Expect("B served while A is silent", "B", b"WORLD".to_vec()),
            Step::Send("A", big.clone()),
            Step::Expect("A big message", "A", upper(&big)),
            Step::Close("A"),
            Step::Settle("A closed"),
            Step::Send("B", b"again".to_vec()),
            Step::Expect("B after A left", "B", b"AGAIN".to_vec()),
            Step::Close("B"),
            Step::Settle("all closed"),
        ],
    }
}

/// One client sends more than the server's send buffer can hold
/// ([`slow_burst_size`]) and reads the reply only when the server settles.
fn slow_burst(name: &'static str, args: &'static [&'static str]) -> Scenario {
    Scenario {
        name,
        args,
        steps: vec![
            Step::Settle("idle"),
            Step::ConnectNarrow("A"),
            Step::Settle("A connected"),
            Step::SlowBurst("burst", "A", slow_burst_size()),
            Step::Close("A"),
            Step::Settle("all closed"),
        ],
    }
}

/// The records from the first `socket` call on: what came before is the
/// language runtime starting up (Rust's polls its standard fds, say).
pub(crate) fn from_first_socket(run: &Run) -> impl Iterator<Item = (usize, &Record)> {
    let records = &run.outcome.trace.records;
    let start = records
        .iter()
        .position(|r| r.is(&["socket", "socketpair"]))
        .unwrap_or(records.len());
    records.iter().enumerate().skip(start)
}

/// The name of the fd in argument `i` of record `r`.
pub(crate) fn fd_name(run: &Run, r: usize, i: usize) -> Option<&str> {
    let fd = run.outcome.trace.records[r].fd_arg(i)?;
    run.transcript.fd_name(r, fd)
}

/// Whether a name is the listening socket's or a connection's.
fn is_served(name: &str) -> bool {
    name.starts_with('L') || is_conn(name)
}

pub(crate) fn is_conn(name: &str) -> bool {
    name.starts_with('C') && name[1..].chars().all(|c| c.is_ascii_digit()) && name.len() > 1
}

/// The fd a successful call returned, by name.
pub(crate) fn returned_name(run: &Run, r: usize) -> Option<&str> {
    match run.outcome.trace.records[r].ret {
        Some(Ret::Ok(Arg::Fd(fd))) => run.transcript.fd_name(r, fd),
        _ => None,
    }
}

fn has_flag(rec: &Record, i: usize, flag: &str) -> bool {
    matches!(rec.args.get(i), Some(Arg::Flags { names, .. }) if names.contains(&flag))
}

/// A call that switched a socket between blocking and non-blocking.
struct Switch {
    record: usize,
    /// The socket's name (`L`, `C1`, ...).
    name: String,
    /// Whether it became non-blocking.
    on: bool,
}

/// Every call that made a socket non-blocking (`SOCK_NONBLOCK` at `socket`
/// or `accept4`, `O_NONBLOCK` set with `fcntl(F_SETFL)`, `FIONBIO`) or
/// blocking again (`F_SETFL` without `O_NONBLOCK`, `FIONBIO` 0).
fn nonblocking_switches(run: &Run) -> Vec<Switch> {
    let mut out = Vec::new();
    for (r, rec) in run.outcome.trace.records.iter().enumerate() {
        if !matches!(rec.ret, Some(Ret::Ok(_))) {
            continue;
        }
        let switch = match rec.name() {
            "socket" if has_flag(rec, 1, "SOCK_NONBLOCK") => {
                returned_name(run, r).map(|n| (n, true))
            }
            "accept4" if has_flag(rec, 3, "SOCK_NONBLOCK") => {
                returned_name(run, r).map(|n| (n, true))
            }
            "fcntl" if rec.args.get(1) == Some(&Arg::Sym("F_SETFL")) => {
                fd_name(run, r, 0).map(|n| (n, has_flag(rec, 2, "O_NONBLOCK")))
            }
            "ioctl" if rec.args.get(1) == Some(&Arg::Sym("FIONBIO")) => {
                fd_name(run, r, 0).map(|n| (n, !matches!(rec.args.get(2), Some(Arg::IntRef(0)))))
            }
            _ => None,
        };
        if let Some((name, on)) = switch
            && name.starts_with(['L', 'C', 'S'])
        {
            out.push(Switch {
                record: r,
                name: name.to_string(),
                on,
            });
        }
    }
    out
}

/// Calls that accept or read on `L` or a connection while it was blocking:
/// the first such call per socket.
fn blocking_uses(run: &Run) -> Vec<usize> {
    let switches = nonblocking_switches(run);
    let mut nonblocking: Vec<&str> = Vec::new();
    let mut reported: Vec<String> = Vec::new();
    let mut out = Vec::new();
    let mut next = switches.iter().peekable();
    for (r, rec) in run.outcome.trace.records.iter().enumerate() {
        while let Some(s) = next.next_if(|s| s.record <= r) {
            nonblocking.retain(|n| *n != s.name);
            if s.on {
                nonblocking.push(&s.name);
            }
        }
        if !(rec.is(READS) || rec.is(&["accept", "accept4"])) {
            continue;
        }
        if let Some(name) = fd_name(run, r, 0)
            && is_served(name)
            && !nonblocking.contains(&name)
            && !reported.iter().any(|n| n == name)
        {
            reported.push(name.to_string());
            out.push(r);
        }
    }
    out
}

/// Records that a settle found blocked, other than sleeps.
fn blocked_records(run: &Run) -> Vec<usize> {
    records_where(run, |rec| {
        rec.blocked && !rec.is(&["nanosleep", "clock_nanosleep"])
    })
}

/// Records a settle found blocked in a write: a reply that waited for room
/// in the kernel instead of in the lab's readiness API.
fn blocked_writes(run: &Run) -> Vec<usize> {
    records_where(run, |rec| rec.blocked && rec.is(WRITES))
}

/// Whether some readiness wait reported a connection writable.
fn reported_writable(run: &Run) -> Option<usize> {
    (0..run.outcome.trace.records.len()).find(|&w| {
        run.transcript
            .ready(w)
            .is_some_and(|ready| ready.iter().any(|x| is_conn(&x.name) && x.writable()))
    })
}

/// One task did everything, in every run.
fn single_task(runs: &Runs) -> Verdict {
    let mut lines = Vec::new();
    for run in runs.iter() {
        if spawned_anything(run) {
            lines.extend(evidence(run, spawns(run)));
        }
    }
    lines.dedup();
    if lines.is_empty() && !runs.iter().any(spawned_anything) {
        Verdict::pass("one task did everything")
    } else {
        Verdict::fail("the server created threads or processes:", lines)
    }
}

/// That expectation `label` of `run` got what it expected; else a failure
/// saying what the client (`what`: "client A sent ...") got instead.
fn received(run: &Run, label: &str, what: &str) -> Result<(), Verdict> {
    match run.outcome.observed(label) {
        Some(Observed::Received { got, expected }) if got == expected => Ok(()),
        Some(Observed::Received { got, expected }) => Err(Verdict::fail(
            format!("{what}: {} ({})", diff(got, expected), ended(run)),
            Vec::new(),
        )),
        _ => Err(Verdict::fail(
            format!(
                "the scenario did not get as far as \"{label}\" ({})",
                ended(run)
            ),
            Vec::new(),
        )),
    }
}

/// Clients A and B both served, B while A was connected and silent.
fn concurrent(runs: &Runs, scenarios: &[&str]) -> Verdict {
    for name in scenarios {
        let run = runs.get(name);
        if let Err(v) = received(run, "A echo", "client A sent \"hello\"") {
            return v;
        }
        if let Err(v) = received(
            run,
            "B served while A is silent",
            "client B sent \"world\" while client A stayed connected and silent; B must be answered at once",
        ) {
            return v;
        }
    }
    Verdict::pass("B was answered while A was connected and silent")
}

/// The message larger than one read, and the slow-read burst, came
/// back whole.
fn large_replies(runs: &Runs, standard: &[&str], bursts: &[&str]) -> Verdict {
    for name in standard {
        let what = format!("client A sent {BIG_MESSAGE} bytes in one go");
        if let Err(v) = received(runs.get(name), "A big message", &what) {
            return v;
        }
    }
    for name in bursts {
        let what = format!(
            "a client sent {} bytes and read the reply slowly (only when the server had settled)",
            slow_burst_size()
        );
        if let Err(v) = received(runs.get(name), "burst", &what) {
            return v;
        }
    }
    Verdict::pass("every byte came back upper-cased and in order")
}

/// The records of a run's `Measure` step and what it saw.
fn idle_usage(run: &Run) -> Option<&crate::scenario::Usage> {
    match run.outcome.observed("idle spin") {
        Some(Observed::Measured(u)) => Some(u),
        _ => None,
    }
}

/// How often calls of `names` (or any call, for an empty list) happened per
/// second while idle, and the records.
fn idle_rate(run: &Run, names: &[&str]) -> Option<(f64, Vec<usize>)> {
    let usage = idle_usage(run)?;
    let records: Vec<usize> = usage
        .records
        .clone()
        .filter(|&r| names.is_empty() || run.outcome.trace.records[r].is(names))
        .collect();
    Some((records.len() as f64 / usage.wall.as_secs_f64(), records))
}

/// The server waits in a readiness call while idle, and does not wake up
/// more than a few times per second.
fn idle_sleeps(run: &Run, waits: &[&str], shown: &str) -> Result<(), Verdict> {
    let (rate, records) = idle_rate(run, WAITS).unwrap_or((0.0, Vec::new()));
    if rate > MAX_IDLE_WAITS_PER_SEC {
        let sample = records.iter().rev().take(3).rev().copied();
        return Err(Verdict::fail(
            format!(
                "while idle the server woke up {rate:.0} times per second ({} waits in {} ms): a wait with a zero or tiny timeout in a loop is polling, not sleeping",
                records.len(),
                idle_usage(run).map_or(0, |u| u.wall.as_millis())
            ),
            evidence(run, sample),
        ));
    }
    let blocked = run
        .outcome
        .blocked_at("idle")
        .is_some_and(|rs| rs.iter().any(|&r| run.outcome.trace.records[r].is(waits)));
    if !blocked {
        let (what, lines) = describe_settle(run, "idle");
        return Err(Verdict::fail(
            format!(
                "while no client was connected, the server should sit blocked in {shown}; instead {what}"
            ),
            lines,
        ));
    }
    Ok(())
}

/// The idle figures of each run that measured them, for reports.
fn idle_facts(runs: &Runs) -> Vec<String> {
    runs.iter()
        .filter_map(|run| {
            let usage = idle_usage(run)?;
            let secs = usage.wall.as_secs_f64();
            let count = |f: &dyn Fn(&Record) -> bool| {
                usage
                    .records
                    .clone()
                    .filter(|&r| f(&run.outcome.trace.records[r]))
                    .count() as f64
                    / secs
            };
            Some(format!(
                "idle ({}, traced, {} ms): {:.0} syscalls/s, {:.0} EAGAIN/s, {:.0} waits/s, CPU {:.0}% of one core",
                run.outcome.scenario,
                usage.wall.as_millis(),
                count(&|_| true),
                count(&|r| r.errno() == Some(libc::EAGAIN)),
                count(&|r| r.is(WAITS)),
                100.0 * usage.cpu.as_secs_f64() / secs
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slow_burst_outgrows_the_largest_send_buffer() {
        // Linux's default tcp_wmem maximum, a small one, and a large one.
        assert_eq!(slow_burst_for(4 * 1024 * 1024), 4608 * 1024);
        assert_eq!(slow_burst_for(64 * 1024), 1024 * 1024);
        assert_eq!(slow_burst_for(6_000_000), 6_553_600);
        let here = slow_burst_size();
        assert!(here % (64 * 1024) == 0 && here >= 1024 * 1024, "{here}");
        assert_eq!(size_text(4608 * 1024), "4.5 MiB");
        assert_eq!(size_text(1024 * 1024), "1 MiB");
        assert_eq!(size_text(12 * 1024), "12 KiB");
    }

    #[test]
    fn the_server_syscall_set_parses_and_holds_what_checks_read() {
        let set = SyscallSet::parse(SERVER_SYSCALLS).expect("SERVER_SYSCALLS parses");
        assert!(!set.is_all());
        let names = [
            READS,
            WRITES,
            WAITS,
            &["accept", "accept4", "clone", "clone3", "futex"],
        ];
        for name in names.iter().flat_map(|n| n.iter()) {
            let nr = crate::trace::syscall_nr(name).expect("a syscall");
            assert!(set.contains(nr), "{name} is not in SERVER_SYSCALLS");
        }
        for lab in all() {
            assert_eq!(lab.syscalls, set, "{} stops on the server set", lab.id);
        }
    }
}
