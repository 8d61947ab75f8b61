//! The trace model: what a tracer saw, as plain data.
//!
//! Every later stage (scenario driver, normalizer, grader) reads these types
//! and nothing else, so a second backend (strace) only has to produce them.

use std::collections::HashMap;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use crate::syscalls::{self, Class, FutexOp, Names, Syscall};

/// A kernel task id (thread id); the thread-group leader's tid is the pid.
pub type Tid = i32;

/// A syscall argument or result, decoded as far as the decoder knows how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Arg {
    /// A file descriptor, renamed by role in transcripts.
    Fd(i32),
    /// A task id (thread or process), renamed by birth order in transcripts.
    Tid(i32),
    /// A plain signed integer (counts, lengths, backlogs).
    Int(i64),
    /// A value best shown in hex (unknown flags, ioctl requests).
    Hex(u64),
    /// A file mode, shown in octal (`0644`).
    Mode(u64),
    /// A pointer the decoder does not follow; never shown by value, as it varies run to run.
    Ptr(u64),
    /// A symbolic constant such as `AF_INET` or `F_SETFL`.
    Sym(&'static str),
    /// A flag set; `names` joined by `|`, `rest` is any unknown leftover bits.
    Flags { names: Vec<&'static str>, rest: u64 },
    /// A socket address read out of the tracee.
    Addr(SockAddr),
    /// The first bytes of a buffer and its full length.
    Bytes { head: Vec<u8>, len: u64 },
    /// A NUL-terminated string (paths).
    Str(String),
    /// A string array (argv). One more than [`ARGV_SHOWN`] strings says
    /// the array goes on: shown are the first `ARGV_SHOWN` and `...`.
    Strs(Vec<String>),
    /// An integer passed by reference, shown `[v]` like strace.
    IntRef(i64),
    /// Two fds written by `pipe`/`socketpair`.
    FdPair(i32, i32),
    /// An array of `pollfd`s: (fd, events, revents).
    PollFds(Vec<PollFd>),
    /// A `select` fd set: the members given, and once the call returned
    /// successfully, the members the kernel left in it (the ready ones).
    FdSet {
        given: Vec<i32>,
        ready: Option<Vec<i32>>,
    },
    /// One `struct epoll_event` (the interest given to `epoll_ctl`).
    Epoll(EpollEvent),
    /// The events `epoll_wait` returned.
    EpollEvents(Vec<EpollEvent>),
    /// A futex word's address, renamed `W1`, `W2`, ... in transcripts like
    /// fds are, since addresses vary run to run.
    Word(u64),
    /// What `waitid` said about the child it reaped.
    ChildInfo {
        /// `CLD_EXITED`, `CLD_KILLED`, `CLD_DUMPED`, ...
        code: &'static str,
        pid: Tid,
        /// The exit code, or the signal's name.
        status: String,
    },
    /// A `struct timespec` or `struct timeval` passed by value (a timeout,
    /// a sleep's length).
    Time(Time),
    /// A signal mask (bit `n - 1` for signal `n`), shown `[INT TERM]`.
    SigSet(u64),
    /// An environment (`execve`'s `envp`): its address and how many
    /// variables it holds, shown `0x7ffd... /* 23 vars */`.
    Env { addr: u64, vars: u64 },
    /// A `struct sigaction` given to `rt_sigaction`.
    Sigaction(Sigaction),
    /// Named values strace prints beside a call's arguments or in its
    /// struct, and transcripts leave out: `clone`'s stack and tid pointers,
    /// `clone3`'s members after its flags (`exit_signal`, `stack`, ...).
    Members(Vec<(&'static str, Arg)>),
    /// Text the decoder composed (a wait status, say) that holds no fd or tid.
    Text(String),
    /// An output pointer at entry: filled in at exit if the call succeeds.
    Out(u64),
    /// An argument that could not be read.
    Unknown,
}

pub use crate::syscalls::flags::ARGV_SHOWN;

/// A `struct sigaction` as the kernel reads it: the handler (0 is
/// `SIG_DFL`, 1 `SIG_IGN`, else its address), the signals blocked while it
/// runs (bit `n - 1` for signal `n`), the `SA_*` flags, and the restorer
/// (meaningful with `SA_RESTORER`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sigaction {
    pub handler: u64,
    pub mask: u64,
    pub flags: u64,
    pub restorer: u64,
}

/// A `struct timespec` or `struct timeval` as the call gave it: the
/// seconds and the sub-second field, unchecked (a transcript shows what was
/// passed, as strace does).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Time {
    pub secs: u64,
    /// Nanoseconds (a timespec), or microseconds (a timeval).
    pub frac: u64,
    /// Whether it is a timeval.
    pub micros: bool,
}

impl Time {
    pub fn timespec(secs: u64, nanos: u64) -> Time {
        Time {
            secs,
            frac: nanos,
            micros: false,
        }
    }

    pub fn timeval(secs: u64, micros: u64) -> Time {
        Time {
            secs,
            frac: micros,
            micros: true,
        }
    }

    /// How long it is (`None` if that overflows a `Duration`).
    pub fn duration(&self) -> Option<Duration> {
        let sub = if self.micros {
            Duration::from_micros(self.frac)
        } else {
            Duration::from_nanos(self.frac)
        };
        Duration::from_secs(self.secs).checked_add(sub)
    }
}

/// strace's notation: `{tv_sec=0, tv_nsec=1000000}`, `{tv_sec=2, tv_usec=5}`.
impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let field = if self.micros { "tv_usec" } else { "tv_nsec" };
        // `time_t` is signed.
        write!(f, "{{tv_sec={}, {field}={}}}", self.secs as i64, self.frac)
    }
}

/// One `struct pollfd` as seen by the tracer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PollFd {
    pub fd: i32,
    pub events: Vec<&'static str>,
    /// Event bits `events` has no name for.
    pub rest: u64,
    /// `None` until the syscall returned.
    pub revents: Option<Vec<&'static str>>,
}

/// One `struct epoll_event`: event flags and the caller's 64-bit data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EpollEvent {
    pub events: Vec<&'static str>,
    /// Unknown leftover event bits.
    pub rest: u64,
    pub data: u64,
}

/// A socket address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SockAddr {
    Inet(Ipv4Addr, u16),
    Inet6(Ipv6Addr, u16),
    Unix(String),
    Other(u16),
}

impl SockAddr {
    /// The TCP/UDP port, for internet addresses.
    pub fn port(&self) -> Option<u16> {
        match self {
            SockAddr::Inet(_, p) | SockAddr::Inet6(_, p) => Some(*p),
            _ => None,
        }
    }
}

/// A syscall as seen at its entry: number and decoded arguments (inputs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    pub nr: u64,
    pub args: Vec<Arg>,
}

impl Call {
    pub fn name(&self) -> &'static str {
        syscall_name(self.nr)
    }

    /// The call's row in the syscall table, if it has one.
    pub fn syscall(&self) -> Option<&'static Syscall> {
        syscalls::by_nr(self.nr)
    }

    /// What kind of call it is ([`Class::Other`] when the table has no row).
    pub fn class(&self) -> Class {
        syscalls::class_of(self.nr)
    }
}

/// What a syscall returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ret {
    /// Success, with the value decoded (an `Fd`, `Tid`, `Int`, `Flags`, ...).
    Ok(Arg),
    /// Failure with this errno (including the kernel's restart codes, 512..=516).
    Err(i32),
}

/// A syscall as seen at its exit: the result, and output arguments read out
/// of the tracee then (by argument index), which replace the entry's values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Return {
    pub nr: u64,
    pub ret: Ret,
    pub outs: Vec<(usize, Arg)>,
}

/// How a task ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Termination {
    Exited(i32),
    Killed { signal: i32, core: bool },
}

impl Termination {
    /// The same, without whether a core was dumped: that depends on the
    /// machine's `core_pattern`, not on the program, so transcripts leave it
    /// out.
    pub fn without_core(self) -> Termination {
        match self {
            Termination::Killed { signal, .. } => Termination::Killed {
                signal,
                core: false,
            },
            other => other,
        }
    }
}

impl fmt::Display for Termination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Termination::Exited(code) => write!(f, "exited with {code}"),
            Termination::Killed { signal, core } => {
                write!(f, "killed by {}", signal_name(*signal))?;
                if *core {
                    f.write_str(" (core dumped)")?;
                }
                Ok(())
            }
        }
    }
}

/// Whether a new task shares its parent's address space and thread group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpawnKind {
    Thread,
    Process,
}

/// One thing that happened, in the order the consumer received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// The task it happened to (for scenario marks: 0).
    pub tid: Tid,
    /// Its thread group (process) id.
    pub pid: Tid,
    /// Monotonic time since the trace started.
    pub at: Duration,
    pub kind: EventKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// Syscall entry.
    Enter(Call),
    /// Syscall exit.
    Exit(Return),
    /// A signal is being delivered to the task.
    Signal(i32),
    /// The task created `child`.
    Spawn { child: Tid, kind: SpawnKind },
    /// The task's process image was replaced; `former` is the tid that called
    /// `execve` (it differs from `tid` when a non-leader thread exec'd).
    Exec { former: Tid, program: String },
    /// The task is gone.
    Gone(Termination),
    /// A scenario step happened here (a client action).
    Step(String),
    /// The scenario observed this task blocked in its pending syscall.
    Blocked,
    /// The task's last call ran this many more times in a row, with the
    /// same arguments and the same `EAGAIN` (folded by the tracer: see
    /// `tracer::Spec::collapse`).
    Repeat(u64),
}

/// A syscall from entry to exit: the unit transcripts and checks talk about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub tid: Tid,
    pub pid: Tid,
    pub nr: u64,
    /// Arguments, with the exit's outputs merged in.
    pub args: Vec<Arg>,
    /// `None` while the call has not returned (or never did).
    pub ret: Option<Ret>,
    /// Event index of the entry (`None` for an exit seen without its entry).
    pub enter: Option<usize>,
    /// Event index of the exit.
    pub exit: Option<usize>,
    /// Entry and exit times.
    pub entered_at: Option<Duration>,
    pub exited_at: Option<Duration>,
    /// The scenario saw this call blocked (entered, not returning, task asleep).
    pub blocked: bool,
    /// How many more times it ran right after, identically (see
    /// [`EventKind::Repeat`]): the record stands for `1 + repeats` calls.
    pub repeats: u64,
}

impl Record {
    /// Task `tid`'s call `nr`, with nothing of it seen yet.
    fn new(tid: Tid, pid: Tid, nr: u64) -> Record {
        Record {
            tid,
            pid,
            nr,
            args: Vec::new(),
            ret: None,
            enter: None,
            exit: None,
            entered_at: None,
            exited_at: None,
            blocked: false,
            repeats: 0,
        }
    }

    pub fn name(&self) -> &'static str {
        syscall_name(self.nr)
    }

    /// The call's row in the syscall table, if it has one.
    pub fn syscall(&self) -> Option<&'static Syscall> {
        syscalls::by_nr(self.nr)
    }

    /// What kind of call it is ([`Class::Other`] when the table has no row).
    pub fn class(&self) -> Class {
        syscalls::class_of(self.nr)
    }

    /// Whether the call is of one of `classes`.
    pub fn is_a(&self, classes: &[Class]) -> bool {
        classes.contains(&self.class())
    }

    /// The fd the call works on (its first fd argument), per the table.
    pub fn fd(&self) -> Option<i32> {
        self.fd_arg(self.syscall()?.fd_index()?)
    }

    /// Whether argument `i` is a flag set holding `bit` (a libc constant
    /// such as `libc::SOCK_NONBLOCK`), named by the flag table the syscall
    /// table gives that argument.
    pub fn has_flag(&self, i: usize, bit: u64) -> bool {
        let Some(Arg::Flags { names, rest }) = self.args.get(i) else {
            return false;
        };
        let Some(table) = self.flag_names(i) else {
            return false;
        };
        let bits = names
            .iter()
            .filter_map(|n| table.iter().find(|(_, name)| name == n).map(|(b, _)| *b))
            .fold(*rest, |all, b| all | b);
        bit != 0 && bits & bit == bit
    }

    /// The flag table naming argument `i`: the syscall table's, or for
    /// `fcntl`'s third argument the one its command takes.
    fn flag_names(&self, i: usize) -> Option<Names> {
        let row = self.syscall()?;
        match (row.class, i, self.args.get(1)) {
            (Class::Fcntl, 2, Some(Arg::Sym("F_SETFL"))) => Some(syscalls::flags::O_FLAGS),
            (Class::Fcntl, 2, Some(Arg::Sym("F_SETFD"))) => Some(syscalls::flags::FD_FLAGS),
            _ => row.flag_names(i),
        }
    }

    /// How many calls the record stands for: itself and its repeats.
    pub fn times(&self) -> u64 {
        1 + self.repeats
    }

    /// The fd in argument `i`, if it is one.
    pub fn fd_arg(&self, i: usize) -> Option<i32> {
        match self.args.get(i) {
            Some(Arg::Fd(fd)) => Some(*fd),
            _ => None,
        }
    }

    /// The errno, if the call failed.
    pub fn errno(&self) -> Option<i32> {
        match self.ret {
            Some(Ret::Err(e)) => Some(e),
            _ => None,
        }
    }

    /// Whether this call is one of `names`.
    pub fn is(&self, names: &[&str]) -> bool {
        names.contains(&self.name())
    }

    /// How many bytes a read or write asked for, where the call says so in
    /// one number (`read`, `write`, `recvfrom`, `sendto`; not the vectored
    /// and message forms): the table's [`Syscall::len_index`] argument.
    pub fn asked_len(&self) -> Option<i64> {
        match self.args.get(self.syscall()?.len_index()?) {
            Some(Arg::Int(n)) => Some(*n),
            _ => None,
        }
    }

    /// How many bytes it moved, if it succeeded.
    pub fn done_len(&self) -> Option<i64> {
        match self.ret {
            Some(Ret::Ok(Arg::Int(n))) => Some(n),
            _ => None,
        }
    }

    /// Which argument holds the call's timeout, for the calls that can end
    /// by themselves: the sleeps, the readiness waits and the futex waits.
    fn timeout_arg(&self) -> Option<usize> {
        let (i, _) = self.syscall()?.timeout_index()?;
        match self.class() {
            Class::Futex if !self.is_futex_wait() => None,
            _ => Some(i),
        }
    }

    /// The relative timeout the call asked for: of a sleep, a readiness
    /// wait or a futex wait, after which it returns by itself (give or take
    /// the kernel's timer slack). `None` when it has none (it may wait
    /// forever), when the timeout is absolute (`TIMER_ABSTIME`, the futex
    /// `_BITSET` waits), when it counts on a clock other than
    /// `CLOCK_REALTIME` and `CLOCK_MONOTONIC` (a CPU-time clock, say), or
    /// when it was not decoded (strace shows an `epoll_wait`'s timeout only
    /// when it returns).
    pub fn timeout(&self) -> Option<Duration> {
        let relative = match self.syscall().map(|s| s.nr as libc::c_long) {
            Some(libc::SYS_clock_nanosleep) => matches!(
                (self.args.first(), self.args.get(1)),
                (
                    Some(Arg::Sym("CLOCK_REALTIME" | "CLOCK_MONOTONIC")),
                    Some(Arg::Flags { names, .. }),
                ) if !names.contains(&"TIMER_ABSTIME")
            ),
            Some(libc::SYS_futex) => self.futex().is_some_and(|(op, _)| op.is_plain_wait()),
            _ => true,
        };
        if !relative {
            return None;
        }
        match self.args.get(self.timeout_arg()?)? {
            Arg::Int(ms) => u64::try_from(*ms).ok().map(Duration::from_millis),
            Arg::Time(time) => time.duration(),
            _ => None,
        }
    }

    /// Whether the call ends by itself, whatever happens on its fds: a
    /// sleep (on any clock, relative or absolute), or a futex or readiness
    /// wait whose timeout is not "forever" (`NULL`, or -1 for `poll` and
    /// `epoll_wait`), relative or absolute. Wider than [`Record::timeout`],
    /// which reads only the timeouts it can count from the call's entry. A
    /// timeout that was not decoded (strace shows a pending `epoll_wait`'s
    /// only when it returns) counts as one: a task is called stuck only
    /// when nothing but its fds can wake it.
    pub fn has_timeout(&self) -> bool {
        self.timeout_arg()
            .is_some_and(|i| !matches!(self.args.get(i), Some(Arg::Ptr(0) | Arg::Int(-1))))
    }

    /// Whether the call returned and achieved nothing: it failed with
    /// `EAGAIN`, a readiness wait timed out with nothing ready, or it was a
    /// sleep or a yield. A server that makes only such calls is spinning
    /// idle, and a run of them is a storm. (A futex wait failing with
    /// `EAGAIN` is not: the lock word changed under it, which is progress.)
    pub fn is_idle(&self) -> bool {
        match &self.ret {
            Some(Ret::Err(e)) => *e == libc::EAGAIN && self.class() != Class::Futex,
            Some(Ret::Ok(v)) => match self.class() {
                Class::Sleep | Class::Yield => true,
                class if class.is_readiness_wait() => *v == Arg::Int(0),
                _ => false,
            },
            None => false,
        }
    }
}

impl Record {
    /// The child a successful `wait4` or `waitid` reaped.
    pub fn reaped(&self) -> Option<Tid> {
        match (self.name(), &self.ret, self.args.get(2)) {
            ("wait4", Some(Ret::Ok(Arg::Tid(pid))), _) => Some(*pid),
            ("waitid", Some(Ret::Ok(_)), Some(Arg::ChildInfo { pid, .. })) if *pid > 0 => {
                Some(*pid)
            }
            _ => None,
        }
    }

    /// For a `futex` call: its operation and its word.
    pub fn futex(&self) -> Option<(FutexOp, u64)> {
        if self.class() != Class::Futex {
            return None;
        }
        let word = match self.args.first() {
            Some(Arg::Word(w)) => *w,
            _ => return None,
        };
        let op = match self.args.get(1) {
            Some(Arg::Flags { names, .. }) => FutexOp::from_names(names)?,
            Some(Arg::Sym(s)) => FutexOp::from_names(&[s])?,
            _ => return None,
        };
        Some((op, word))
    }

    /// Whether this is a read that returned the start of `data` (the kept
    /// head of its buffer, or as much of it as `data` has): a request the
    /// server took in.
    pub fn read_the_start_of(&self, data: &[u8]) -> bool {
        self.is_a(&[Class::Read])
            && self.args.iter().any(|a| {
                matches!(a, Arg::Bytes { head, .. }
                    if !head.is_empty() && data.starts_with(&head[..head.len().min(data.len())]))
            })
    }

    /// Whether this is a futex wait, of any kind (`FUTEX_WAIT`,
    /// `FUTEX_WAIT_BITSET`, `FUTEX_WAIT_REQUEUE_PI`, private or not).
    pub fn is_futex_wait(&self) -> bool {
        self.futex().is_some_and(|(op, _)| op.is_wait())
    }
}

/// A whole trace: the events, and the syscall records paired from them.
#[derive(Clone, Debug, Default)]
pub struct Trace {
    pub events: Vec<Event>,
    pub records: Vec<Record>,
    /// Record index by event index, for entry and exit events.
    record_of_event: HashMap<usize, usize>,
    /// The record each task is inside right now.
    pending: HashMap<Tid, usize>,
    /// The last record each task completed.
    last: HashMap<Tid, usize>,
}

impl Trace {
    pub fn new() -> Trace {
        Trace::default()
    }

    /// Builds a trace from events in order.
    pub fn from_events(events: impl IntoIterator<Item = Event>) -> Trace {
        let mut trace = Trace::new();
        for e in events {
            trace.push(e);
        }
        trace
    }

    /// Appends an event, pairing syscall entries with their exits per task.
    pub fn push(&mut self, event: Event) {
        let index = self.events.len();
        match &event.kind {
            EventKind::Enter(call) => {
                let rec = Record {
                    args: call.args.clone(),
                    enter: Some(index),
                    entered_at: Some(event.at),
                    ..Record::new(event.tid, event.pid, call.nr)
                };
                self.records.push(rec);
                let r = self.records.len() - 1;
                self.record_of_event.insert(index, r);
                self.pending.insert(event.tid, r);
            }
            EventKind::Exit(ret) => {
                let r = match self.pending.remove(&event.tid) {
                    Some(r) if self.records[r].nr == ret.nr => r,
                    other => {
                        if let Some(r) = other {
                            self.pending.insert(event.tid, r);
                        }
                        self.records.push(Record::new(event.tid, event.pid, ret.nr));
                        self.records.len() - 1
                    }
                };
                let rec = &mut self.records[r];
                rec.ret = Some(ret.ret.clone());
                rec.exit = Some(index);
                rec.exited_at = Some(event.at);
                merge_outs(&mut rec.args, &ret.outs);
                self.record_of_event.insert(index, r);
                self.last.insert(event.tid, r);
            }
            EventKind::Repeat(n) => {
                if let Some(&r) = self.last.get(&event.tid) {
                    self.records[r].repeats += n;
                }
            }
            EventKind::Blocked => {
                if let Some(&r) = self.pending.get(&event.tid) {
                    self.records[r].blocked = true;
                }
            }
            EventKind::Exec { former, .. } if *former != event.tid => {
                if let Some(r) = self.pending.remove(former) {
                    self.records[r].tid = event.tid;
                    self.pending.insert(event.tid, r);
                }
            }
            EventKind::Gone(_) => {
                self.pending.remove(&event.tid);
            }
            _ => {}
        }
        self.events.push(event);
    }

    /// The first `listen` that succeeded: where a server begins to serve
    /// (the launcher analysis, the checks' main task, port discovery and
    /// explain all start from it).
    pub fn first_listen(&self) -> Option<&Record> {
        self.records
            .iter()
            .find(|r| r.is_a(&[Class::Listen]) && matches!(r.ret, Some(Ret::Ok(_))))
    }

    /// The record an entry or exit event belongs to.
    pub fn record_of_event(&self, event: usize) -> Option<usize> {
        self.record_of_event.get(&event).copied()
    }

    /// The record `tid` is inside right now, if any.
    pub fn pending(&self, tid: Tid) -> Option<usize> {
        self.pending.get(&tid).copied()
    }

    /// Index of the first event of a scenario step whose text starts with `prefix`.
    pub fn step(&self, prefix: &str) -> Option<usize> {
        self.events
            .iter()
            .position(|e| matches!(&e.kind, EventKind::Step(s) if s.starts_with(prefix)))
    }

    /// Every futex wait that another task's wake ended: a `FUTEX_WAIT*`
    /// that returned 0, paired with the last `FUTEX_WAKE*` that woke
    /// someone on the same word of the same process, entered by another
    /// task while it waited. `(wait record, wake record)`, in wait order.
    pub fn futex_handoffs(&self) -> Vec<(usize, usize)> {
        // Wakes by (process, word), in entry order.
        let mut wakes: HashMap<(Tid, u64), Vec<(usize, usize)>> = HashMap::new();
        for (r, rec) in self.records.iter().enumerate() {
            if let (Some((op, word)), Some(enter)) = (rec.futex(), rec.enter)
                && op.is_wake()
                && rec.done_len().is_some_and(|n| n > 0)
            {
                wakes.entry((rec.pid, word)).or_default().push((enter, r));
            }
        }
        let mut out = Vec::new();
        for (r, rec) in self.records.iter().enumerate() {
            let (Some((_, word)), Some(enter), Some(exit)) = (rec.futex(), rec.enter, rec.exit)
            else {
                continue;
            };
            if !rec.is_futex_wait() || rec.ret != Some(Ret::Ok(Arg::Int(0))) {
                continue;
            }
            let Some(list) = wakes.get(&(rec.pid, word)) else {
                continue;
            };
            let before_exit = list.partition_point(|&(e, _)| e < exit);
            let waker = list[..before_exit]
                .iter()
                .rev()
                .take_while(|&&(e, _)| e > enter)
                .find(|&&(_, w)| self.records[w].tid != rec.tid);
            if let Some(&(_, w)) = waker {
                out.push((r, w));
            }
        }
        out
    }

    /// How the first traced process (the one the harness started) ended.
    pub fn root_termination(&self) -> Option<Termination> {
        let root = self.events.iter().find(|e| e.tid != 0)?.pid;
        self.events.iter().find_map(|e| match e.kind {
            EventKind::Gone(t) if e.tid == root => Some(t),
            _ => None,
        })
    }
}

/// Merges an exit's output arguments into the entry's arguments.
pub fn merge_outs(args: &mut Vec<Arg>, outs: &[(usize, Arg)]) {
    for (i, arg) in outs {
        if args.len() <= *i {
            args.resize(*i + 1, Arg::Unknown);
        }
        match (&mut args[*i], arg) {
            // An fd set is both input and output: keep both.
            (Arg::FdSet { ready, .. }, Arg::FdSet { ready: out, .. }) => {
                ready.clone_from(out);
            }
            (slot, _) => *slot = arg.clone(),
        }
    }
}

/// How many of an entry's arguments are known at entry: those before the
/// first output.
pub fn known_at_entry(args: &[Arg]) -> usize {
    args.iter()
        .take_while(|a| !matches!(a, Arg::Out(_)))
        .count()
}

/// The name of syscall `nr` on x86_64 (`syscall_N` when unknown).
pub fn syscall_name(nr: u64) -> &'static str {
    syscalls::name(nr)
}

/// The syscall number for `name`, if it exists on x86_64.
pub fn syscall_nr(name: &str) -> Option<u64> {
    syscalls::number(name)
}

/// The symbolic name of an errno value (`E123` when unknown).
pub fn errno_name(errno: i32) -> String {
    match usize::try_from(errno)
        .ok()
        .and_then(|i| syscalls::ERRNO_NAMES.get(i))
    {
        Some(name) if !name.is_empty() => (*name).to_string(),
        _ => format!("E{errno}"),
    }
}

/// The number of an errno by its name (`EAGAIN`, `ERESTARTSYS`).
pub fn errno_number(name: &str) -> Option<i32> {
    syscalls::ERRNO_NAMES
        .iter()
        .position(|n| *n == name)
        .and_then(|i| i32::try_from(i).ok())
}

/// The name of a signal as strace prints it: `SIGINT`, and for the
/// real-time ones (which have no fixed names) `SIGRTMIN` for 32 and
/// `SIGRT_2` for 34 (glibc's `SIGRTMIN`); `SIG99` when out of range.
pub fn signal_name(signal: i32) -> String {
    match signal {
        32 => "SIGRTMIN".to_string(),
        33..=64 => format!("SIGRT_{}", signal - 32),
        _ => match nix::sys::signal::Signal::try_from(signal) {
            Ok(s) => s.as_str().to_string(),
            Err(_) => format!("SIG{signal}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, args: Vec<Arg>) -> Record {
        Record {
            args,
            ..Record::new(1, 1, syscall_nr(name).expect("a known syscall"))
        }
    }

    fn flags(names: &[&'static str]) -> Arg {
        Arg::Flags {
            names: names.to_vec(),
            rest: 0,
        }
    }

    #[test]
    fn relative_timeouts_are_read_and_the_rest_are_none() {
        let nap = Arg::Time(Time::timespec(0, 1_000_000));
        let ms = Duration::from_millis;
        let monotonic = Arg::Sym("CLOCK_MONOTONIC");
        let relative = call(
            "clock_nanosleep",
            vec![monotonic.clone(), flags(&[]), nap.clone()],
        );
        assert_eq!(relative.timeout(), Some(ms(1)));
        let absolute = call(
            "clock_nanosleep",
            vec![monotonic, flags(&["TIMER_ABSTIME"]), nap.clone()],
        );
        assert_eq!(absolute.timeout(), None);
        let cpu_clock = call(
            "clock_nanosleep",
            vec![Arg::Int(2), flags(&[]), nap.clone()],
        );
        assert_eq!(cpu_clock.timeout(), None, "CPU time, not time passing");
        let futex = |op: &'static str, timeout| {
            call(
                "futex",
                vec![Arg::Word(8), flags(&[op]), Arg::Int(0), timeout],
            )
        };
        assert_eq!(
            futex("FUTEX_WAIT_PRIVATE", nap.clone()).timeout(),
            Some(ms(1))
        );
        assert_eq!(futex("FUTEX_WAIT", Arg::Ptr(0)).timeout(), None);
        assert_eq!(
            futex("FUTEX_WAIT_BITSET_PRIVATE", Arg::Ptr(1)).timeout(),
            None
        );
        let poll = |timeout| call("poll", vec![Arg::Ptr(1), Arg::Int(1), timeout]);
        assert_eq!(poll(Arg::Int(0)).timeout(), Some(ms(0)));
        assert_eq!(poll(Arg::Int(-1)).timeout(), None);
        let select = vec![
            Arg::Int(4),
            Arg::Ptr(0),
            Arg::Ptr(0),
            Arg::Ptr(0),
            Arg::Time(Time::timeval(2, 500_000)),
        ];
        assert_eq!(call("select", select).timeout(), Some(ms(2500)));
        let epoll = |timeout| {
            call(
                "epoll_wait",
                vec![Arg::Fd(3), Arg::Out(0), Arg::Int(8), timeout],
            )
        };
        assert_eq!(epoll(Arg::Int(40)).timeout(), Some(ms(40)));
        assert_eq!(epoll(Arg::Int(-1)).timeout(), None, "no timeout: forever");
        assert_eq!(call("read", vec![Arg::Fd(3)]).timeout(), None);
    }

    #[test]
    fn a_call_has_a_timeout_unless_only_its_fds_can_end_it() {
        let when = || Arg::Time(Time::timespec(1_700_000_000, 0));
        let abstime = call(
            "clock_nanosleep",
            vec![
                Arg::Sym("CLOCK_REALTIME"),
                flags(&["TIMER_ABSTIME"]),
                when(),
            ],
        );
        assert!(abstime.has_timeout(), "an absolute sleep ends by itself");
        assert_eq!(abstime.timeout(), None, "though it is not counted");
        let futex = |op: &'static str, timeout| {
            call(
                "futex",
                vec![Arg::Word(8), flags(&[op]), Arg::Int(0), timeout],
            )
        };
        assert!(futex("FUTEX_WAIT_PRIVATE", when()).has_timeout());
        assert!(
            futex("FUTEX_WAIT_BITSET_PRIVATE", Arg::Ptr(1)).has_timeout(),
            "an absolute futex timeout: both decoders show it as a pointer"
        );
        assert!(!futex("FUTEX_WAIT_PRIVATE", Arg::Ptr(0)).has_timeout());
        assert!(!futex("FUTEX_WAKE_PRIVATE", Arg::Int(1)).has_timeout());
        let epoll = |args: Vec<Arg>| call("epoll_wait", args);
        let head = || vec![Arg::Fd(3), Arg::Out(0), Arg::Int(8)];
        assert!(!epoll([head(), vec![Arg::Int(-1)]].concat()).has_timeout());
        assert!(epoll([head(), vec![Arg::Int(0)]].concat()).has_timeout());
        assert!(
            epoll(vec![Arg::Fd(3)]).has_timeout(),
            "undecoded: not known to wait forever"
        );
        let select = |timeout| {
            let mut args = vec![Arg::Int(4), Arg::Ptr(1), Arg::Ptr(0), Arg::Ptr(0)];
            args.push(timeout);
            call("pselect6", args)
        };
        assert!(!select(Arg::Ptr(0)).has_timeout());
        assert!(select(Arg::Time(Time::timespec(0, 0))).has_timeout());
        assert!(!call("accept4", vec![Arg::Fd(3)]).has_timeout());
    }
}
