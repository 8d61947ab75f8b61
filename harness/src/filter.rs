//! Which system calls a trace stops on: strace's `-e trace=SET` syntax
//! (names, `%classes`, `all`, `none`, a leading `!`), parsed into a
//! [`SyscallSet`] of x86_64 syscall numbers.
//!
//! Both backends take the same set: the native tracer compiles it into a
//! seccomp-bpf program (see `tracer::seccomp`) so that every other syscall
//! runs at full speed, and the strace backend passes the expression on with
//! `--seccomp-bpf`. The classes are strace's, so that `-e trace=%net` means
//! the same thing under both tracers.

use std::fmt;

use crate::syscalls::{name as syscall_name, number as syscall_nr};

/// How many syscall numbers a set can hold: every x86_64 number (the x32
/// ones, with bit 30 set, are always traced).
pub const MAX_SYSCALLS: usize = 512;

/// A set of x86_64 syscall numbers, with the expression it came from.
#[derive(Clone, PartialEq, Eq)]
pub struct SyscallSet {
    bits: [u64; MAX_SYSCALLS / 64],
    /// The expression, as strace takes it (`%net,read`).
    expr: String,
}

/// Why a `-e trace=` expression was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("the syscall set is empty: give names or classes, e.g. `%net,read`")]
    Empty,
    #[error("unknown syscall {name:?} in the syscall set (x86_64 names, as strace prints them)")]
    UnknownSyscall { name: String },
    #[error("unknown syscall class %{class} in the syscall set; the classes are: {}", CLASS_NAMES.join(", "))]
    UnknownClass { class: String },
    #[error(
        "regular expressions (`{expr}`) are not supported in the syscall set: list the names, or use a %class"
    )]
    Regex { expr: String },
    #[error("only `trace=` is supported in -e (got `{expr}`)")]
    Qualifier { expr: String },
}

/// The classes `%name` takes, in the order help text lists them.
pub const CLASS_NAMES: [&str; 10] = [
    "desc", "file", "net", "network", "process", "signal", "ipc", "memory", "creds", "clock",
];

impl SyscallSet {
    /// The empty set.
    pub fn none() -> SyscallSet {
        SyscallSet {
            bits: [0; MAX_SYSCALLS / 64],
            expr: "none".into(),
        }
    }

    /// Every syscall.
    pub fn all() -> SyscallSet {
        SyscallSet {
            bits: [u64::MAX; MAX_SYSCALLS / 64],
            expr: "all".into(),
        }
    }

    /// Parses strace's syntax: `trace=SET` (what follows `-e`) or `SET`, where
    /// SET is a comma-separated list of syscall names, `%class` names,
    /// `all` and `none`, optionally negated as a whole by a leading `!`.
    /// A name with a leading `?` may be unknown (strace's rule).
    pub fn parse(expr: &str) -> Result<SyscallSet, FilterError> {
        let body = match expr.split_once('=') {
            Some(("trace" | "t", body)) => body,
            Some(_) => {
                return Err(FilterError::Qualifier {
                    expr: expr.to_string(),
                });
            }
            None => expr,
        };
        let (negate, list) = match body.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, body),
        };
        let mut set = SyscallSet::none();
        let mut any = false;
        for item in list.split(',').filter(|s| !s.is_empty()) {
            any = true;
            if item.starts_with('/') {
                return Err(FilterError::Regex {
                    expr: item.to_string(),
                });
            }
            match item {
                "all" => set.bits = [u64::MAX; MAX_SYSCALLS / 64],
                "none" => {}
                _ => {
                    if let Some(class) = item.strip_prefix('%') {
                        let names =
                            class_members(class).ok_or_else(|| FilterError::UnknownClass {
                                class: class.to_string(),
                            })?;
                        // A class lists names of every kernel; this one may
                        // lack a few (syscalls/names.rs stops at its kernel's last).
                        for nr in names.iter().filter_map(|n| syscall_nr(n)) {
                            set.insert(nr);
                        }
                    } else {
                        let (optional, name) = match item.strip_prefix('?') {
                            Some(n) => (true, n),
                            None => (false, item),
                        };
                        match syscall_nr(name) {
                            Some(nr) => set.insert(nr),
                            None if optional => {}
                            None => {
                                return Err(FilterError::UnknownSyscall {
                                    name: name.to_string(),
                                });
                            }
                        }
                    }
                }
            }
        }
        if !any {
            return Err(FilterError::Empty);
        }
        if negate {
            for w in &mut set.bits {
                *w = !*w;
            }
        }
        set.expr = body.to_string();
        Ok(set)
    }

    /// Adds syscall `nr` (numbers past the table are ignored).
    pub fn insert(&mut self, nr: u64) {
        if let Some(w) = self.bits.get_mut((nr / 64) as usize) {
            *w |= 1 << (nr % 64);
        }
    }

    /// Whether syscall `nr` is in the set. Numbers past the table (x32
    /// calls, garbage) are in every set but `none`: the tracer cannot know
    /// what they are, so it shows them. A 32-bit call with no x86_64 twin
    /// (`mmap2`, marked [`crate::syscalls::I386`]) has a name no set here
    /// lists, as strace's would: only `all` holds it.
    pub fn contains(&self, nr: u64) -> bool {
        if nr & crate::syscalls::I386 != 0 && crate::syscalls::name(nr) != "syscall_unknown" {
            return self.is_all();
        }
        match self.bits.get((nr / 64) as usize) {
            Some(w) => w & (1 << (nr % 64)) != 0,
            None => !self.is_empty(),
        }
    }

    /// Whether the set holds every syscall (no filter needed).
    pub fn is_all(&self) -> bool {
        self.bits.iter().all(|&w| w == u64::MAX)
    }

    pub fn is_empty(&self) -> bool {
        self.bits.iter().all(|&w| w == 0)
    }

    /// The 32 bits of syscalls `32 * word .. 32 * word + 32`, bit `i` for
    /// syscall `32 * word + i` (how the seccomp program tests them).
    pub fn word32(&self, word: usize) -> u32 {
        let w = self.bits[word / 2];
        if word % 2 == 0 {
            w as u32
        } else {
            (w >> 32) as u32
        }
    }

    /// The numbers in the set, in order.
    pub fn numbers(&self) -> impl Iterator<Item = u64> + '_ {
        (0..MAX_SYSCALLS as u64).filter(|&nr| self.contains(nr))
    }

    /// The expression the set came from, in strace's syntax.
    pub fn expr(&self) -> &str {
        &self.expr
    }
}

impl fmt::Debug for SyscallSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.numbers().map(syscall_name).collect();
        f.debug_struct("SyscallSet")
            .field("expr", &self.expr)
            .field("syscalls", &names.len())
            .finish()
    }
}

impl std::str::FromStr for SyscallSet {
    type Err = FilterError;

    fn from_str(s: &str) -> Result<SyscallSet, FilterError> {
        SyscallSet::parse(s)
    }
}

impl fmt::Display for SyscallSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.expr)
    }
}

/// The syscalls of strace's class `%class` (x86_64), or `None` if there is
/// no such class. These are strace's `TD`, `TF`, `TN`, `TP`, `TS`, `TI`,
/// `TM`, `TC` and `TCL` flags, written out by name.
pub fn class_members(class: &str) -> Option<&'static [&'static str]> {
    Some(match class {
        "desc" => DESC,
        "file" => FILE,
        "net" | "network" => NET,
        "process" => PROCESS,
        "signal" => SIGNAL,
        "ipc" => IPC,
        "memory" => MEMORY,
        "creds" => CREDS,
        "clock" => CLOCK,
        _ => return None,
    })
}

/// Syscalls that take or return a file descriptor.
const DESC: &[&str] = &[
    "read",
    "write",
    "open",
    "close",
    "fstat",
    "poll",
    "lseek",
    "mmap",
    "ioctl",
    "pread64",
    "pwrite64",
    "readv",
    "writev",
    "pipe",
    "select",
    "dup",
    "dup2",
    "sendfile",
    "fcntl",
    "flock",
    "fsync",
    "fdatasync",
    "ftruncate",
    "getdents",
    "fchdir",
    "creat",
    "fchmod",
    "fchown",
    "fstatfs",
    "readahead",
    "fsetxattr",
    "fgetxattr",
    "flistxattr",
    "fremovexattr",
    "epoll_create",
    "getdents64",
    "fadvise64",
    "epoll_wait",
    "epoll_ctl",
    "mq_open",
    "mq_timedsend",
    "mq_timedreceive",
    "mq_notify",
    "mq_getsetattr",
    "inotify_init",
    "inotify_add_watch",
    "inotify_rm_watch",
    "openat",
    "mkdirat",
    "mknodat",
    "fchownat",
    "futimesat",
    "newfstatat",
    "unlinkat",
    "renameat",
    "linkat",
    "symlinkat",
    "readlinkat",
    "fchmodat",
    "faccessat",
    "pselect6",
    "ppoll",
    "splice",
    "tee",
    "sync_file_range",
    "vmsplice",
    "utimensat",
    "epoll_pwait",
    "signalfd",
    "timerfd_create",
    "eventfd",
    "fallocate",
    "timerfd_settime",
    "timerfd_gettime",
    "signalfd4",
    "eventfd2",
    "epoll_create1",
    "dup3",
    "pipe2",
    "inotify_init1",
    "preadv",
    "pwritev",
    "perf_event_open",
    "fanotify_init",
    "fanotify_mark",
    "name_to_handle_at",
    "open_by_handle_at",
    "syncfs",
    "setns",
    "finit_module",
    "renameat2",
    "memfd_create",
    "kexec_file_load",
    "bpf",
    "execveat",
    "userfaultfd",
    "copy_file_range",
    "preadv2",
    "pwritev2",
    "statx",
    "pidfd_send_signal",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "open_tree",
    "move_mount",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "pidfd_open",
    "openat2",
    "pidfd_getfd",
    "faccessat2",
    "process_madvise",
    "epoll_pwait2",
    "mount_setattr",
    "quotactl_fd",
    "landlock_create_ruleset",
    "landlock_add_rule",
    "landlock_restrict_self",
    "memfd_secret",
    "process_mrelease",
    "cachestat",
    "fchmodat2",
];

/// Syscalls that take a file name.
const FILE: &[&str] = &[
    "open",
    "stat",
    "lstat",
    "access",
    "execve",
    "truncate",
    "getcwd",
    "chdir",
    "rename",
    "mkdir",
    "rmdir",
    "creat",
    "link",
    "unlink",
    "symlink",
    "readlink",
    "chmod",
    "chown",
    "lchown",
    "utime",
    "mknod",
    "uselib",
    "statfs",
    "pivot_root",
    "chroot",
    "acct",
    "mount",
    "umount2",
    "swapon",
    "swapoff",
    "quotactl",
    "setxattr",
    "lsetxattr",
    "getxattr",
    "lgetxattr",
    "listxattr",
    "llistxattr",
    "removexattr",
    "lremovexattr",
    "utimes",
    "inotify_add_watch",
    "openat",
    "mkdirat",
    "mknodat",
    "fchownat",
    "futimesat",
    "newfstatat",
    "unlinkat",
    "renameat",
    "linkat",
    "symlinkat",
    "readlinkat",
    "fchmodat",
    "faccessat",
    "utimensat",
    "fanotify_mark",
    "name_to_handle_at",
    "renameat2",
    "execveat",
    "statx",
    "open_tree",
    "move_mount",
    "fsconfig",
    "fspick",
    "openat2",
    "faccessat2",
    "mount_setattr",
    "fchmodat2",
];

/// Network syscalls.
const NET: &[&str] = &[
    "sendfile",
    "socket",
    "connect",
    "accept",
    "sendto",
    "recvfrom",
    "sendmsg",
    "recvmsg",
    "shutdown",
    "bind",
    "listen",
    "getsockname",
    "getpeername",
    "socketpair",
    "setsockopt",
    "getsockopt",
    "getpmsg",
    "putpmsg",
    "accept4",
    "recvmmsg",
    "sendmmsg",
];

/// Process management: creating, replacing, ending and waiting for tasks.
const PROCESS: &[&str] = &[
    "clone",
    "fork",
    "vfork",
    "execve",
    "exit",
    "wait4",
    "kill",
    "rt_sigqueueinfo",
    "tkill",
    "exit_group",
    "tgkill",
    "waitid",
    "rt_tgsigqueueinfo",
    "execveat",
    "pidfd_send_signal",
    "clone3",
];

/// Signal-related syscalls.
const SIGNAL: &[&str] = &[
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "pause",
    "kill",
    "rt_sigpending",
    "rt_sigtimedwait",
    "rt_sigqueueinfo",
    "rt_sigsuspend",
    "sigaltstack",
    "tkill",
    "tgkill",
    "signalfd",
    "rt_tgsigqueueinfo",
    "signalfd4",
    "pidfd_send_signal",
    "io_uring_enter",
];

/// System V IPC.
const IPC: &[&str] = &[
    "shmget",
    "shmat",
    "shmctl",
    "semget",
    "semop",
    "semctl",
    "shmdt",
    "msgget",
    "msgsnd",
    "msgrcv",
    "msgctl",
    "semtimedop",
];

/// Memory mapping.
const MEMORY: &[&str] = &[
    "mmap",
    "mprotect",
    "munmap",
    "brk",
    "mremap",
    "msync",
    "mincore",
    "madvise",
    "shmat",
    "shmdt",
    "mlock",
    "munlock",
    "mlockall",
    "munlockall",
    "io_setup",
    "io_destroy",
    "remap_file_pages",
    "mbind",
    "set_mempolicy",
    "get_mempolicy",
    "migrate_pages",
    "move_pages",
    "mlock2",
    "pkey_mprotect",
    "io_uring_register",
    "set_mempolicy_home_node",
    "map_shadow_stack",
    "mseal",
];

/// User and group ids, capabilities.
const CREDS: &[&str] = &[
    "getuid",
    "getgid",
    "setuid",
    "setgid",
    "geteuid",
    "getegid",
    "setreuid",
    "setregid",
    "getgroups",
    "setgroups",
    "setresuid",
    "getresuid",
    "setresgid",
    "getresgid",
    "setfsuid",
    "setfsgid",
    "capget",
    "capset",
    "prctl",
];

/// Reading or setting clocks.
const CLOCK: &[&str] = &[
    "gettimeofday",
    "adjtimex",
    "settimeofday",
    "time",
    "clock_settime",
    "clock_gettime",
    "clock_getres",
    "clock_adjtime",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn names(set: &SyscallSet) -> Vec<&'static str> {
        set.numbers().map(syscall_name).collect()
    }

    #[test]
    fn names_and_classes() {
        let set = SyscallSet::parse("trace=%net,read").unwrap();
        assert!(set.contains(syscall_nr("accept4").unwrap()));
        assert!(set.contains(syscall_nr("read").unwrap()));
        assert!(!set.contains(syscall_nr("write").unwrap()));
        assert_eq!(names(&set).len(), NET.len() + 1);
        assert_eq!(set.expr(), "%net,read");
    }

    #[test]
    fn negation_covers_the_whole_set() {
        let set = SyscallSet::parse("!%memory,getppid").unwrap();
        assert!(!set.contains(syscall_nr("mmap").unwrap()));
        assert!(!set.contains(syscall_nr("getppid").unwrap()));
        assert!(set.contains(syscall_nr("read").unwrap()));
        assert!(set.contains(600), "unknown numbers are traced");
        assert!(SyscallSet::parse("all").unwrap().is_all());
        assert!(SyscallSet::parse("!all").unwrap().is_empty());
        assert!(SyscallSet::parse("none").unwrap().is_empty());
    }

    #[test]
    fn bad_expressions_say_what_is_wrong() {
        assert_eq!(
            SyscallSet::parse("reed"),
            Err(FilterError::UnknownSyscall {
                name: "reed".into()
            })
        );
        assert!(SyscallSet::parse("?reed,read").is_ok());
        let e = SyscallSet::parse("%nett").unwrap_err().to_string();
        assert!(e.contains("%nett") && e.contains("net, network"), "{e}");
        assert!(matches!(
            SyscallSet::parse("/^read"),
            Err(FilterError::Regex { .. })
        ));
        assert_eq!(SyscallSet::parse(""), Err(FilterError::Empty));
        assert_eq!(SyscallSet::parse("trace=!"), Err(FilterError::Empty));
        assert!(matches!(
            SyscallSet::parse("signal=all"),
            Err(FilterError::Qualifier { .. })
        ));
    }

    #[test]
    fn every_class_member_is_a_syscall_strace_knows() {
        // syscalls/names.rs ends at syscall 450: these came later.
        let later = ["cachestat", "fchmodat2", "map_shadow_stack", "mseal"];
        for class in CLASS_NAMES {
            for name in class_members(class).unwrap() {
                assert!(
                    syscall_nr(name).is_some() || later.contains(name),
                    "%{class} lists {name}, which the syscall table lacks"
                );
            }
        }
    }

    #[test]
    fn words_hold_the_bits_the_seccomp_program_tests() {
        let set = SyscallSet::parse("read,write,accept4").unwrap();
        assert_eq!(set.word32(0), 0b11);
        // accept4 is 288 = 9 * 32: bit 0 of word 9.
        assert_eq!(set.word32(9), 1);
        assert_eq!(set.word32(8), 0);
    }
}
