//! What one row of the syscall table says: a call's class, its argument
//! kinds, and the typed values (a futex operation) checks read from them.

use super::flags;

/// What a system call does, as far as the checks, the transcripts and the
/// explanations care. Several calls share a class (`accept` and
/// `accept4`; `read`, `readv`, `recvfrom`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Class {
    /// Reads bytes from an fd: `read`, `readv`, `recvfrom`, `recvmsg`, `recvmmsg`.
    Read,
    /// Writes bytes to an fd: `write`, `writev`, `sendto`, `sendmsg`, `sendmmsg`.
    Write,
    /// Moves bytes between two fds inside the kernel, through no buffer of
    /// the program's: `splice`, `tee`, `sendfile`, `copy_file_range` (Go's
    /// `io.Copy` between connections, a file server's `sendfile`).
    Splice,
    /// Takes a connection off a listening socket: `accept`, `accept4`.
    Accept,
    /// `connect`.
    Connect,
    /// `bind`.
    Bind,
    /// `listen`.
    Listen,
    /// Creates sockets: `socket`, `socketpair`.
    Socket,
    /// A socket's own or its peer's address: `getsockname`, `getpeername`.
    SockName,
    /// `setsockopt`, `getsockopt`.
    SockOpt,
    /// `shutdown`.
    Shutdown,
    /// `close`.
    Close,
    /// `dup`, `dup2`, `dup3`.
    Dup,
    /// `fcntl`.
    Fcntl,
    /// `ioctl`.
    Ioctl,
    /// `open`, `openat`.
    Open,
    /// `pipe`, `pipe2`.
    Pipe,
    /// The `select` family: `select`, `pselect6`.
    Select,
    /// The `poll` family: `poll`, `ppoll`.
    Poll,
    /// The `epoll_wait` family: `epoll_wait`, `epoll_pwait`, `epoll_pwait2`.
    EpollWait,
    /// `epoll_ctl`.
    EpollCtl,
    /// `epoll_create`, `epoll_create1`.
    EpollCreate,
    /// The obsolete `epoll_ctl_old` and `epoll_wait_old` (never
    /// implemented on x86_64).
    EpollOld,
    /// Sleeps for a time: `nanosleep`, `clock_nanosleep`.
    Sleep,
    /// `sched_yield`.
    Yield,
    /// `futex`.
    Futex,
    /// Creates a thread or process: `clone`, `clone3`, `fork`, `vfork`.
    Spawn,
    /// Replaces the program: `execve`, `execveat`.
    Exec,
    /// Reaps a child: `wait4`, `waitid`.
    Reap,
    /// Ends a thread or the process: `exit`, `exit_group`.
    Exit,
    /// Sends a signal: `kill`, `tgkill`, `tkill`.
    Kill,
    /// Signal dispositions and masks: `rt_sigaction`, `rt_sigprocmask`, `pause`.
    Signal,
    /// Who am I: `getpid`, `getppid`, `gettid`.
    Identity,
    /// `ptrace`.
    Ptrace,
    /// Everything else (every call without a row in the table).
    Other,
}

impl Class {
    /// The readiness waits: the select, poll and epoll_wait families.
    pub const READINESS: [Class; 3] = [Class::Select, Class::Poll, Class::EpollWait];

    /// Whether calls of this class wait for fds to become ready.
    pub fn is_readiness_wait(self) -> bool {
        Class::READINESS.contains(&self)
    }

    /// Whether calls of this class are part of the epoll API (`epoll_*`).
    pub fn is_epoll(self) -> bool {
        matches!(
            self,
            Class::EpollWait | Class::EpollCtl | Class::EpollCreate | Class::EpollOld
        )
    }
}

/// A `futex` operation: its command (libc's `FUTEX_WAIT`, `FUTEX_WAKE`,
/// ...) and the flags beside it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FutexOp {
    pub cmd: u32,
    /// `FUTEX_PRIVATE_FLAG`: the word is not shared between processes.
    pub private: bool,
    /// `FUTEX_CLOCK_REALTIME`: a timeout counts on the real-time clock.
    pub realtime: bool,
}

impl FutexOp {
    /// The operation an `op` argument holds.
    pub fn from_raw(op: u64) -> FutexOp {
        FutexOp {
            cmd: flags::futex_cmd(op) as u32,
            private: op & flags::FUTEX_PRIVATE_FLAG != 0,
            realtime: op & flags::FUTEX_CLOCK_REALTIME != 0,
        }
    }

    /// The operation named `FUTEX_WAIT_PRIVATE` (and the like), with the
    /// other names of its flag set (`FUTEX_CLOCK_REALTIME`).
    pub fn from_names(names: &[&str]) -> Option<FutexOp> {
        let (first, more) = names.split_first()?;
        let (cmd, private) =
            flags::FUTEX_OPS
                .iter()
                .enumerate()
                .find_map(|(cmd, &(plain, private))| {
                    (*first == plain || *first == private).then_some((cmd, *first == private))
                })?;
        Some(FutexOp {
            cmd: cmd as u32,
            private,
            realtime: more.contains(&"FUTEX_CLOCK_REALTIME"),
        })
    }

    /// Whether it is `FUTEX_WAIT`, relative to now.
    pub fn is_plain_wait(self) -> bool {
        self.cmd == libc::FUTEX_WAIT as u32
    }

    /// Whether it waits, of any kind (`FUTEX_WAIT`, `FUTEX_WAIT_BITSET`,
    /// `FUTEX_WAIT_REQUEUE_PI`).
    pub fn is_wait(self) -> bool {
        [
            libc::FUTEX_WAIT,
            libc::FUTEX_WAIT_BITSET,
            libc::FUTEX_WAIT_REQUEUE_PI,
        ]
        .contains(&(self.cmd as i32))
    }

    /// Whether it wakes waiters (`FUTEX_WAKE`, `FUTEX_WAKE_OP`,
    /// `FUTEX_WAKE_BITSET`).
    pub fn is_wake(self) -> bool {
        [
            libc::FUTEX_WAKE,
            libc::FUTEX_WAKE_OP,
            libc::FUTEX_WAKE_BITSET,
        ]
        .contains(&(self.cmd as i32))
    }
}

/// How a relative time is passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeUnit {
    /// An `int` of milliseconds, -1 for forever (`poll`, `epoll_wait`).
    Millis,
    /// A pointer to a `struct timespec`, `NULL` for forever.
    Timespec,
    /// A pointer to a `struct timeval`, `NULL` for forever (`select`).
    Timeval,
}

/// A flag or constant table: each value's bit (or number) and name.
pub type Names = &'static [(u64, &'static str)];

/// What one argument is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A file descriptor.
    Fd,
    /// How many bytes the call moves or asks to move, in one number.
    Len,
    /// Any other number that is a C `int` (a count, a backlog, a length).
    Int,
    /// A number that is a `size_t` or a `long` (a struct's or a signal
    /// set's size, a file offset).
    Long,
    /// A set of flags named by the table.
    Flags(Names),
    /// A socket type and its `SOCK_*` flags.
    SocketType,
    /// Open flags: the access mode and the `O_*` flags.
    OpenFlags,
    /// `clone` flags and the exit signal.
    CloneFlags,
    /// A constant named by the table.
    Sym(Names),
    /// The call's timeout, or (for a sleep) its length.
    Timeout(TimeUnit),
    /// A buffer (given at entry, or filled in at exit).
    Buf,
    /// A socket address.
    Addr,
    /// A pointer the decoders do not follow, or an output read at exit.
    Ptr,
    /// A path.
    Path,
    /// A string array (`argv`).
    Argv,
    /// A task id, or a negative process selector.
    Pid,
    /// A signal number.
    SignalNr,
    /// A futex word's address.
    Word,
    /// Depends on another argument (`fcntl`'s and `ioctl`'s third, the
    /// futex operation's arguments).
    Varies,
}

/// How many bits of its register the kernel reads for an argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Width {
    /// A C `int`: the low 32 bits, signed.
    Int,
    /// An `unsigned int` (flags, constants): the low 32 bits.
    Uint,
    /// The whole register: a pointer, a `long`, a `size_t`.
    Long,
}

impl Kind {
    /// How many bits of its register the kernel reads for this argument.
    pub fn width(self) -> Width {
        match self {
            Kind::Fd | Kind::Int | Kind::Pid | Kind::SignalNr => Width::Int,
            Kind::Timeout(TimeUnit::Millis) => Width::Int,
            // `ptrace`'s request is a `long`.
            Kind::Sym(names) if std::ptr::eq(names, flags::PTRACE_REQUESTS) => Width::Long,
            Kind::Flags(_) | Kind::Sym(_) | Kind::SocketType | Kind::OpenFlags => Width::Uint,
            Kind::Len
            | Kind::Long
            | Kind::CloneFlags
            | Kind::Timeout(_)
            | Kind::Buf
            | Kind::Addr
            | Kind::Ptr
            | Kind::Path
            | Kind::Argv
            | Kind::Word
            | Kind::Varies => Width::Long,
        }
    }
}

/// One row of the table.
#[derive(Debug)]
pub struct Syscall {
    /// The x86_64 number (libc's `SYS_*`).
    pub nr: u64,
    /// The name, as strace prints it.
    pub name: &'static str,
    pub class: Class,
    /// Each argument's kind, in order.
    pub args: &'static [Kind],
}

impl Syscall {
    /// The raw arguments as the kernel reads them: each `int` argument
    /// cut to its 32 bits (and a signed one extended back), whatever the
    /// caller left in the upper half of its register.
    pub fn as_kernel_reads(&self, a: &[u64; 6]) -> [u64; 6] {
        let mut out = *a;
        for (v, kind) in out.iter_mut().zip(self.args) {
            *v = match kind.width() {
                Width::Int => *v as i32 as i64 as u64,
                Width::Uint => *v as u32 as u64,
                Width::Long => *v,
            };
        }
        out
    }

    /// Which argument is the call's (first) fd.
    pub fn fd_index(&self) -> Option<usize> {
        self.args.iter().position(|k| *k == Kind::Fd)
    }

    /// Which argument says how many bytes the call moves, in one number
    /// (`read`, `write`, `recvfrom`, `sendto`; not the vectored and
    /// message forms, whose count is of buffers).
    pub fn len_index(&self) -> Option<usize> {
        self.args.iter().position(|k| *k == Kind::Len)
    }

    /// Which argument holds the call's timeout (of a sleep: its length),
    /// and how it is passed. A futex's is one only for its wait commands.
    pub fn timeout_index(&self) -> Option<(usize, TimeUnit)> {
        self.args.iter().enumerate().find_map(|(i, k)| match k {
            Kind::Timeout(unit) => Some((i, *unit)),
            _ => None,
        })
    }

    /// The flag names argument `i` can hold, and their bits.
    pub fn flag_names(&self, i: usize) -> Option<Names> {
        match self.args.get(i)? {
            Kind::Flags(names) => Some(names),
            Kind::SocketType => Some(flags::SOCK_FLAGS),
            Kind::OpenFlags => Some(flags::O_FLAGS),
            Kind::CloneFlags => Some(flags::CLONE_FLAGS),
            _ => None,
        }
    }
}
