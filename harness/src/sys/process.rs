//! What a traced program's child does between fork and exec, and the only
//! code of the library that runs there.
//!
//! std's `Command::pre_exec` is unsafe: its closure runs in the forked
//! child of a multi-threaded parent, where only async-signal-safe calls
//! may be made (no allocation, no locks). A [`ChildSetup`] holds every step
//! a backend asks for, all prepared before the fork, and
//! [`ChildSetup::apply`] gives the command the one closure that takes them,
//! in order: no new privileges, join the run's cgroup, set the rlimits,
//! confine the child
//! (sandboxed: new namespaces, an init, and natively the program's own
//! process, see [`super::sandbox`]), `PTRACE_TRACEME`, pin to a CPU, and,
//! for a filtered native trace, install the seccomp filter and exec the
//! program by hand ([`Launch`]).

use std::ffi::{CStr, CString, OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::process::Command;

use nix::fcntl::{OFlag, open};
use nix::sched::{CpuSet, sched_setaffinity};
use nix::sys::ptrace;
use nix::sys::resource::{Resource, setrlimit};
use nix::sys::stat::Mode;
use nix::unistd::{Pid, write};

use super::seccomp;

/// The steps a child takes between fork and exec, prepared before the fork.
#[derive(Debug, Default)]
pub(crate) struct ChildSetup {
    /// The `cgroup.procs` file of the run's cgroup, to join.
    cgroup_procs: Option<CString>,
    /// Limits to set, as (resource, soft, hard).
    rlimits: Vec<(Resource, u64, u64)>,
    /// Ask to be traced by the parent (`PTRACE_TRACEME`).
    traceme: bool,
    /// The one CPU to run on.
    cpu: Option<CpuSet>,
    /// Confine the child in a sandbox.
    confine: Option<super::sandbox::Confine>,
    /// Install a filter and exec the program by hand.
    launch: Option<Launch>,
}

impl ChildSetup {
    /// Joins the cgroup whose `cgroup.procs` is `cgroup_procs` (if any; a
    /// failure is not an error, the tracer is the fence that counts), sets
    /// `rlimits`, and asks to be traced if `traceme`.
    pub(crate) fn new(
        cgroup_procs: Option<CString>,
        rlimits: Vec<(Resource, u64, u64)>,
        traceme: bool,
    ) -> ChildSetup {
        ChildSetup {
            cgroup_procs,
            rlimits,
            traceme,
            ..ChildSetup::default()
        }
    }

    /// Then pins the child to `cpu` (best effort).
    pub(crate) fn pin(&mut self, cpu: CpuSet) {
        self.cpu = Some(cpu);
    }

    /// Then confines the child (see [`super::sandbox`]).
    pub(crate) fn confine(&mut self, confine: super::sandbox::Confine) {
        self.confine = Some(confine);
    }

    /// Then installs the launch's filter and execs its program: the
    /// command's own program and arguments are not used.
    pub(crate) fn launch(&mut self, launch: Launch) {
        self.launch = Some(launch);
    }

    /// Makes `command` take these steps in its child, before exec. A step
    /// that fails (a limit, `PTRACE_TRACEME`, the filter) fails the spawn
    /// with its error.
    pub(crate) fn apply(self, command: &mut Command) {
        // SAFETY: the closure runs in the forked child before exec. It only
        // makes async-signal-safe system calls (open, write and close to
        // join the cgroup; rt_sigprocmask; setrlimit; ptrace(PTRACE_TRACEME);
        // sched_setaffinity; the mounts and prctls of `Confine::apply`;
        // prctl, seccomp, execve and exit_group in `Launch::exec`) on data prepared before the fork, and allocates
        // nothing: errors are `io::Error`s made from an errno.
        unsafe {
            command.pre_exec(move || self.run());
        }
    }

    fn run(&self) -> io::Result<()> {
        // No new privileges on any path, sandboxed or not: a setuid program
        // the traced one execs gains nothing.
        // SAFETY: prctl with integer arguments.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } == -1 {
            return Err(io::Error::last_os_error());
        }
        // Every program starts with no signal blocked, whatever mask the
        // harness was started with: its SIGTERM must reach it.
        nix::sys::signal::pthread_sigmask(
            nix::sys::signal::SigmaskHow::SIG_SETMASK,
            Some(&nix::sys::signal::SigSet::empty()),
            None,
        )?;
        if let Some(procs) = &self.cgroup_procs {
            join_cgroup(procs);
        }
        for &(resource, soft, hard) in &self.rlimits {
            setrlimit(resource, soft, hard)?;
        }
        if let Some(confine) = &self.confine {
            confine.enter()?;
            let init = confine.start_init(!self.traceme)?;
            if self.traceme {
                // SAFETY: getpid and getpgid take nothing that can fail.
                let leader = unsafe { libc::getpgid(0) == libc::getpid() };
                let program = confine.clone_parent()?;
                if program > 0 {
                    // This process's part is done: the harness traces the
                    // program, its own child. It stays, as the init's
                    // parent, until the run ends.
                    confine.report(init, program);
                    confine.hold();
                }
                if leader {
                    // The program leads a process group of its own, as
                    // this process did.
                    // SAFETY: setpgid on this process.
                    unsafe { libc::setpgid(0, 0) };
                }
            } else {
                confine.report(init, 0);
            }
            confine.finish(self.traceme)?;
        }
        if self.traceme {
            ptrace::traceme()?;
        }
        if let Some(cpu) = &self.cpu {
            let _ = sched_setaffinity(Pid::from_raw(0), cpu);
        }
        if let Some(confine) = &self.confine {
            confine.deny()?;
        }
        match &self.launch {
            // Execs the program itself, or ends the child.
            Some(launch) => Err(launch.exec()),
            None => Ok(()),
        }
    }
}

/// Joins the cgroup whose `cgroup.procs` is `procs`: open, write, close.
fn join_cgroup(procs: &CStr) {
    if let Ok(fd) = open(procs, OFlag::O_WRONLY | OFlag::O_CLOEXEC, Mode::empty()) {
        let _ = write(&fd, b"0");
    }
}

/// A seccomp filter to install and a program to exec by hand (no `PATH`
/// search), all allocated before the fork: the path, the argument and
/// environment strings, and the pointer arrays `execve` takes.
#[derive(Debug)]
pub(crate) struct Launch {
    filter: Vec<libc::sock_filter>,
    path: CString,
    /// The C strings `argv` and `envp` point into, kept alive here.
    _strings: Vec<CString>,
    /// Addresses of the argument and environment strings, each list ending
    /// with 0 (plain integers, so the closure that holds them can be sent
    /// to the child).
    argv: Vec<usize>,
    envp: Vec<usize>,
    /// The high 32 bits of the `exit_group` argument if the exec fails (the
    /// low bits are the errno, and the exit status its low byte).
    failed_mark: u32,
}

impl Launch {
    /// Prepares to run the file `path` as `arg0 args` with the harness's
    /// environment (the variables `inherit` keeps) plus `env`, ending with `exit_group(failed_mark << 32 |
    /// errno)` if the exec fails. The filter comes next ([`Launch::filter`]),
    /// once it can name the path's address.
    pub(crate) fn new(
        path: &OsStr,
        arg0: &OsStr,
        args: &[OsString],
        env: &[(OsString, OsString)],
        failed_mark: u32,
        inherit: fn(&OsStr) -> bool,
    ) -> io::Result<Launch> {
        let c = |bytes: &[u8]| {
            CString::new(bytes).map_err(|_| {
                io::Error::new(io::ErrorKind::InvalidInput, "a NUL byte in an argument")
            })
        };
        let path = c(path.as_bytes())?;
        let mut vars: Vec<(OsString, OsString)> = std::env::vars_os()
            .filter(|(k, _)| inherit(k) && !env.iter().any(|(e, _)| e == k))
            .collect();
        vars.extend(env.iter().cloned());
        let mut strings = vec![c(arg0.as_bytes())?];
        for a in args {
            strings.push(c(a.as_bytes())?);
        }
        let argc = strings.len();
        for (k, v) in &vars {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            strings.push(c(&kv)?);
        }
        let address = |s: &CString| s.as_ptr() as usize;
        let argv = strings[..argc].iter().map(address).chain([0]).collect();
        let envp = strings[argc..].iter().map(address).chain([0]).collect();
        Ok(Launch {
            filter: Vec::new(),
            path,
            _strings: strings,
            argv,
            envp,
            failed_mark,
        })
    }

    /// The address the child's `execve` gets as its path: the one a filter
    /// may let through (it stays put: the string is on the heap).
    pub(crate) fn path_address(&self) -> u64 {
        self.path.as_ptr() as u64
    }

    /// The seccomp filter to install just before the exec.
    pub(crate) fn filter(mut self, filter: Vec<libc::sock_filter>) -> Launch {
        self.filter = filter;
        self
    }

    /// In the child, last before exec: installs the filter and execs the
    /// program. Returns only if the filter cannot be installed; if the exec
    /// fails, the child exits with the errno as its status.
    /// Async-signal-safe: system calls on data prepared before the fork.
    fn exec(&self) -> io::Error {
        if let Err(e) = seccomp::install(&self.filter) {
            return e;
        }
        // SAFETY: `path`, `argv` and `envp` point at NUL-terminated strings
        // and 0-terminated pointer arrays owned by `self`, alive here.
        unsafe {
            libc::execve(
                self.path.as_ptr(),
                self.argv.as_ptr().cast::<*const libc::c_char>(),
                self.envp.as_ptr().cast::<*const libc::c_char>(),
            );
        }
        let errno = io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO);
        let status = (u64::from(self.failed_mark) << 32) | (errno as u64 & 0xff);
        // SAFETY: exit_group ends the process; the argument is an integer.
        unsafe {
            libc::syscall(libc::SYS_exit_group, status);
        }
        io::Error::from_raw_os_error(errno)
    }
}

/// Makes `command`'s child, the watchdog's harness, start with the signal
/// mask `mask` (the watchdog blocks signals to take them from a signalfd,
/// and exec keeps the mask) and die with the watchdog (`PR_SET_PDEATHSIG`;
/// if the watchdog died before that took hold, the child exits at once).
pub(crate) fn exec_as_watched(command: &mut Command, mask: nix::sys::signal::SigSet) {
    // SAFETY: getpid takes nothing.
    let watchdog = unsafe { libc::getpid() };
    // SAFETY: the closure runs in the forked child before exec and makes
    // async-signal-safe calls only (rt_sigprocmask, prctl, getppid,
    // _exit) on values copied before the fork; it allocates nothing.
    unsafe {
        command.pre_exec(move || {
            nix::sys::signal::pthread_sigmask(
                nix::sys::signal::SigmaskHow::SIG_SETMASK,
                Some(&mask),
                None,
            )?;
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) == -1 {
                return Err(io::Error::last_os_error());
            }
            if libc::getppid() != watchdog {
                libc::_exit(2);
            }
            Ok(())
        });
    }
}
