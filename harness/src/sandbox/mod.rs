//! Where a graded program runs: a sandbox it cannot reach the harness from.
//!
//! A grader runs hostile code as root (Gradescope's autograders do): code
//! that may try to trace or read the harness, forge `results.json`, poison
//! the machine for the next grading or carry secrets out in its output.
//! Judges trusted with such code (IOI's isolate, nsjail, bubblewrap) give it
//! namespaces of its own, a read-only view of the files, private scratch
//! space and no privileges; so does this, through the steps in
//! [`crate::sys::sandbox`]. A grading is sandboxed whenever the machine
//! allows it ([`Mode::Auto`], found by trying once), and the report says
//! how ([`Status`]).
//!
//! The program runs in a pid namespace of its own, as its second process
//! (an init of the harness's is the first): it can neither see, signal nor
//! trace the harness or strace, `kill(-1)` reaches only its own processes,
//! and nothing it starts outlives the run ([`Namespace`]).
//!
//! System calls no lab needs are refused ([`DENIED`]).
//!
//! What it reads of the files is planned in [`view`]: the tool tree's
//! directories, home directories' projects and secrets are covered, and
//! only what the run needs is bound back.
//!
//! As root, the program runs as `nobody` (uid 65534) where the machine can
//! id-map the mounts it needs ([`Runs`]): the homes root owns and the
//! working directory appear as its own, so a toolchain under a 0700
//! `/root` or a tree built as root works as before, while the kernel's
//! checks on root (`/proc/sys`, cgroup files, other root processes) no
//! longer pass. Where it cannot (an overlayfs root, as in a container), it
//! runs as root without capabilities, and the report says why.
//!
//! What it does not do yet: a `/proc` of the namespace's own (the host's
//! is mounted read-only: the program can read other processes' command
//! lines).

use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::sys::sandbox::{Confine, Ids, Step};

mod view;

use crate::trace::Tid;
use view::{Places, Plan};

/// System calls no lab needs, which a sandboxed program is refused with
/// `EPERM` (by a seccomp filter, under either backend): the ways to do I/O
/// the trace cannot see (io_uring), to reach past its namespaces (mounts,
/// `unshare`, `setns`), to load code into the kernel, or to reach its
/// keyrings. `clone` with `CLONE_UNTRACED` (a child the tracer would not
/// follow) is refused too. `clone3`'s flags are in memory, where a filter
/// cannot read them: refusing it would change what every threaded program
/// does (C libraries fall back to `clone`), so it is allowed, and a
/// `clone3` with `CLONE_UNTRACED` is a finding of its own; its child cannot
/// outlive the run's pid namespace.
pub const DENIED: &[&str] = &[
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "keyctl",
    "add_key",
    "request_key",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    "unshare",
    "setns",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "swapon",
    "swapoff",
    "reboot",
    "acct",
];

/// The seccomp program that refuses [`DENIED`]: every call of another ABI
/// than x86_64's (i386's `int 0x80`, x32) with `EPERM`, each listed call
/// with `EPERM`, `clone` with `CLONE_UNTRACED` with `EPERM`; everything else is allowed (the tracer's own filter, when it
/// has one, still decides which calls stop).
pub(crate) fn deny_filter() -> Vec<libc::sock_filter> {
    const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
    const X32_SYSCALL_BIT: u32 = 0x4000_0000;
    let stmt = |code: u32, k: u32| libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    };
    let jump = |code: u32, k: u32, jt: u8, jf: u8| libc::sock_filter {
        code: (libc::BPF_JMP | code | libc::BPF_K) as u16,
        jt,
        jf,
        k,
    };
    let load = |offset: u32| stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, offset);
    let ret = |action: u32| stmt(libc::BPF_RET | libc::BPF_K, action);
    let errno = |e: i32| ret(libc::SECCOMP_RET_ERRNO | (e as u32 & libc::SECCOMP_RET_DATA));
    // Offsets into `struct seccomp_data`.
    let (nr, arch, arg0_low) = (0, 4, 16);
    let mut f = vec![
        load(arch),
        jump(libc::BPF_JEQ, AUDIT_ARCH_X86_64, 1, 0),
        errno(libc::EPERM),
        load(nr),
        jump(libc::BPF_JGE, X32_SYSCALL_BIT, 0, 1),
        errno(libc::EPERM),
    ];
    for n in DENIED.iter().filter_map(|n| crate::trace::syscall_nr(n)) {
        f.push(jump(libc::BPF_JEQ, n as u32, 0, 1));
        f.push(errno(libc::EPERM));
    }
    f.extend([
        jump(libc::BPF_JEQ, libc::SYS_clone as u32, 0, 3),
        load(arg0_low),
        jump(libc::BPF_JSET, libc::CLONE_UNTRACED as u32, 0, 1),
        errno(libc::EPERM),
        ret(libc::SECCOMP_RET_ALLOW),
    ]);
    f
}

/// The harness's side of a sandboxed run's pid namespace: the write end of
/// the pipe that keeps its init alive, and where the child reports the
/// pids. Dropping it ends every process in the namespace.
#[derive(Debug)]
pub(crate) struct Namespace {
    keepalive: Option<std::os::fd::OwnedFd>,
    report: std::fs::File,
    /// The init, when it is the harness's own child (under strace: strace
    /// waits for every child it has, so the init cannot be one of them).
    own_init: Option<Tid>,
    /// Keeps that init registered as the harness's own (see
    /// `crate::fence::spawn_then`) until it is reaped.
    init_registered: Option<crate::fence::Started>,
}

impl Namespace {
    /// The pids (as the harness sees them) of the namespace's init and of
    /// the program's process (0 when the program is the child of the
    /// command's own exec, as under strace), as the child reported them.
    /// Call it once the command is dropped (it holds the pipe's other end).
    pub(crate) fn pids(&mut self) -> std::io::Result<(Tid, Tid)> {
        use std::io::Read;
        let mut bytes = [0u8; 8];
        self.report.read_exact(&mut bytes).map_err(|e| {
            std::io::Error::other(format!("the sandbox did not report its processes: {e}"))
        })?;
        let int = |b: &[u8]| Tid::from_ne_bytes(b.try_into().expect("4 bytes"));
        let (init, program) = (int(&bytes[..4]), int(&bytes[4..]));
        if program == 0 && init > 0 {
            self.own_init = Some(init);
        }
        Ok((init, program))
    }

    /// Ends the namespace: its init sees the pipe's end of file and exits,
    /// and the kernel kills every process left in it. An init of the
    /// harness's own is killed at once and reaped (its pid cannot have been
    /// reused: it is an unreaped child until then).
    pub(crate) fn end(&mut self) {
        self.keepalive = None;
        if let Some(init) = self.own_init.take() {
            let pid = nix::unistd::Pid::from_raw(init);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(pid, Some(nix::sys::wait::WaitPidFlag::__WALL));
        }
        self.init_registered = None;
    }

    /// Holds `started` (the init's registration) until the init is reaped.
    pub(crate) fn hold_registration(&mut self, started: Option<crate::fence::Started>) {
        self.init_registered = started;
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        self.end();
    }
}

/// Whether gradings run sandboxed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Sandboxed wherever the machine allows it (root, namespaces and
    /// mounts permitted); otherwise not, and the report says why.
    #[default]
    Auto,
    /// Never: for debugging a program that behaves differently inside.
    Off,
}

impl std::str::FromStr for Mode {
    type Err = String;

    fn from_str(s: &str) -> Result<Mode, String> {
        match s {
            "auto" | "on" => Ok(Mode::Auto),
            "off" => Ok(Mode::Off),
            other => Err(format!("unknown sandbox mode {other:?}: use auto or off")),
        }
    }
}

/// The size and file-count bounds of each private directory.
pub const TMP_MIB: u64 = 64;
pub const TMP_FILES: u64 = 16_384;

/// Whom a sandboxed program runs as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Runs {
    /// An unprivileged uid of its own.
    As(u32),
    /// Root without capabilities, and why not a uid of its own.
    Root(String),
}

impl std::fmt::Display for Runs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Runs::As(uid) => write!(f, "uid {uid}"),
            Runs::Root(why) => write!(f, "uid 0 ({why})"),
        }
    }
}

/// How a grading ran, for its report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    On(Runs),
    /// Not sandboxed, and why (`--sandbox off`, not root, a refusal).
    Off(String),
}

impl Status {
    pub fn is_on(&self) -> bool {
        matches!(self, Status::On(_))
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Status::On(runs) => write!(
                f,
                "pid, mount, network, IPC and UTS namespaces; {runs}, no capabilities, no new privileges; \
                 every file read-only but a private /tmp, /dev/shm and /var/tmp \
                 ({TMP_MIB} MiB, {TMP_FILES} files each) and the working directory's private overlay; \
                 the tool tree and home directories hidden but what the command needs; \
                 calls no lab needs refused; environment from an allowlist"
            ),
            Status::Off(why) => write!(f, "off: {why}"),
        }
    }
}

/// What `mode` comes to on this machine.
pub fn status(mode: Mode) -> Status {
    match mode {
        Mode::Off => Status::Off("--sandbox off".into()),
        Mode::Auto => match available() {
            Ok((_, runs)) => Status::On(runs.clone()),
            Err(why) => Status::Off(why.clone()),
        },
    }
}

/// The ids a sandboxed program gets on this machine, if any (see
/// [`Runs`]).
pub(crate) fn program_ids() -> Option<Ids> {
    available().as_ref().ok().and_then(|(ids, _)| *ids)
}

/// The user a sandboxed program runs as, when it is not root.
pub const USER: &str = "nobody";

/// Whether the sandbox can be built here, and as whom the program runs:
/// tried once, by confining a child that runs `true` (as [`USER`], then,
/// if that fails, as root).
fn available() -> &'static Result<(Option<Ids>, Runs), String> {
    static AVAILABLE: OnceLock<Result<(Option<Ids>, Runs), String>> = OnceLock::new();
    AVAILABLE.get_or_init(|| {
        if !crate::sys::sandbox::is_root() {
            return Err("not run as root (namespaces and mounts need it)".into());
        }
        let cwd = std::env::current_dir().map_err(|e| format!("no working directory: {e}"))?;
        let why_root = match machine_ids() {
            Ok(ids) => match probe(&cwd, Some(ids)) {
                Ok(()) => return Ok((Some(ids), Runs::As(ids.uid))),
                Err(why) => format!("the sandbox as uid {} failed: {why}", ids.uid),
            },
            Err(why) => why,
        };
        probe(&cwd, None).map(|()| (None, Runs::Root(why_root)))
    })
}

/// [`USER`]'s ids, and an id mapping of root's files to them, if every
/// home root owns can be id-mapped here.
fn machine_ids() -> Result<Ids, String> {
    let user = nix::unistd::User::from_name(USER)
        .ok()
        .flatten()
        .ok_or_else(|| format!("no user {USER} here"))?;
    let (uid, gid) = (user.uid.as_raw(), user.gid.as_raw());
    if uid == 0 {
        return Err(format!("{USER} is root here"));
    }
    let userns = crate::sys::sandbox::idmap_namespace(uid, gid)
        .map_err(|e| format!("no user namespace for its id mapping: {e}"))?;
    for home in root_homes() {
        crate::sys::sandbox::can_idmap(&home, std::os::fd::AsRawFd::as_raw_fd(&userns)).map_err(
            |e| {
                format!(
                    "{}'s filesystem cannot be id-mapped: {e}",
                    String::from_utf8_lossy(home.as_bytes())
                )
            },
        )?;
    }
    Ok(Ids {
        uid,
        gid,
        // Held for the harness's lifetime: every sandboxed run maps with it.
        userns: std::os::fd::IntoRawFd::into_raw_fd(userns),
    })
}

/// The home directories root owns (id-mapped for [`USER`]).
fn root_homes() -> Vec<CString> {
    use std::os::unix::fs::MetadataExt;
    Places::here()
        .homes
        .iter()
        .filter(|h| std::fs::metadata(h).is_ok_and(|m| m.is_dir() && m.uid() == 0))
        .filter_map(|h| CString::new(h.as_os_str().as_bytes()).ok())
        .collect()
}

/// Confines a child that runs `true` in `cwd`, with `ids` or as root.
fn probe(cwd: &Path, ids: Option<Ids>) -> Result<(), String> {
    let (confine, mut namespace) = confine_with(cwd, &[], ids).map_err(|e| e.to_string())?;
    let mut command = std::process::Command::new("true");
    command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut setup = crate::sys::process::ChildSetup::default();
    setup.confine(confine);
    setup.apply(&mut command);
    // The init is the harness's child (as under strace): registered, then
    // reaped when the namespace ends, like a run's.
    let spawned =
        crate::fence::spawn_then(&mut command, || namespace.pids().ok().map(|(init, _)| init));
    drop(command);
    let output = spawned.and_then(|(child, started, init)| {
        namespace.hold_registration(init);
        let output = child.wait_with_output();
        drop(started);
        output
    });
    drop(namespace);
    match output {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(format!(
            "this machine refused it ({}{})",
            out.status,
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .next()
                .map(|l| format!(": {l}"))
                .unwrap_or_default()
        )),
        Err(e) => Err(format!("this machine refused it: {e}")),
    }
}

/// The harness's side of a sandboxed run: make itself undumpable (once).
pub(crate) fn harden_harness() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(crate::sys::sandbox::harden_self);
}

/// Names the program's environment keeps from the harness's: what
/// toolchains and launchers need to find themselves. Everything else (an
/// `AUTOGRADER_SECRET`, tokens, the harness's own settings) is left out;
/// the run's own variables are added after.
pub(crate) fn allowed_env(name: &OsStr) -> bool {
    const NAMES: &[&str] = &[
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "LANG",
        "LANGUAGE",
        "TERM",
        "TZ",
        "PWD",
        "TMPDIR",
        "CLASSPATH",
        "VIRTUAL_ENV",
        "LD_LIBRARY_PATH",
    ];
    const PREFIXES: &[&str] = &[
        "LC_", "PYENV", "PYTHON", "CONDA", "CARGO", "RUSTUP", "RUST", "GO", "JAVA", "JDK_", "NODE",
        "NVM_",
    ];
    let Some(name) = name.to_str() else {
        return false;
    };
    NAMES.contains(&name) || PREFIXES.iter().any(|p| name.starts_with(p))
}

/// The confinement of a program run in `cwd` with the command line `argv`
/// (its program and arguments): the directories under `/tmp` they name stay
/// visible, read-only. With the harness's side of its pid namespace.
pub(crate) fn confine(cwd: &Path, argv: &[&OsStr]) -> std::io::Result<(Confine, Namespace)> {
    confine_with(cwd, argv, program_ids())
}

/// [`confine`], the program given `ids` (or left root).
fn confine_with(
    cwd: &Path,
    argv: &[&OsStr],
    ids: Option<Ids>,
) -> std::io::Result<(Confine, Namespace)> {
    let c = |p: &Path| {
        CString::new(p.as_os_str().as_bytes()).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "a NUL byte in a path")
        })
    };
    let cwd = cwd.canonicalize()?;
    let kept = view::kept_dirs(
        &cwd,
        argv,
        std::env::vars_os()
            .filter(|(k, _)| allowed_env(k))
            .collect::<Vec<_>>()
            .iter()
            .map(|(k, v)| (k.as_os_str(), v.as_os_str())),
    );
    let plan = Plan::new(&cwd, &kept, &Places::here());
    if plan.sources.len() > crate::sys::sandbox::MAX_SOURCES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "the command names {} directories to keep visible, more than {}",
                plan.sources.len(),
                crate::sys::sandbox::MAX_SOURCES
            ),
        ));
    }
    let sources = plan
        .sources
        .iter()
        .map(|p| c(p))
        .collect::<Result<Vec<_>, _>>()?;
    let steps = plan
        .steps
        .iter()
        .map(|step| step.try_map(|p| c(p)))
        .collect::<Result<Vec<Step>, std::io::Error>>()?;
    // An overlay hides the mounts below its directory (`/`, `/dev`): none
    // then.
    let overlay = !mounts_below(&cwd) && !plan.mounts_below(&cwd);
    if let Some(ids) = &ids
        && overlay
        && let Err(e) = crate::sys::sandbox::can_idmap(&c(&cwd)?, ids.userns)
    {
        return Err(std::io::Error::other(format!(
            "the working directory {} is on a filesystem that cannot be id-mapped to the \
             sandbox's uid {} ({e}): grade from another directory, or with --sandbox off",
            cwd.display(),
            ids.uid
        )));
    }
    let (keep_read, keep_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let (report_read, report_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let confine = Confine {
        cwd: c(&cwd)?,
        tmpfs: CString::new(format!("size={TMP_MIB}m,nr_inodes={TMP_FILES},mode=1777"))
            .expect("no NUL"),
        overlay,
        ids,
        homes: if ids.is_some() {
            root_homes()
        } else {
            Vec::new()
        },
        sources,
        steps,
        keepalive: keep_read,
        report: report_write,
        deny: deny_filter(),
    };
    let namespace = Namespace {
        keepalive: Some(keep_write),
        report: std::fs::File::from(report_read),
        own_init: None,
        init_registered: None,
    };
    Ok((confine, namespace))
}

/// Whether a mount point lies strictly below `dir` (an overlay on `dir`
/// would hide it).
fn mounts_below(dir: &Path) -> bool {
    let Ok(mountinfo) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return true;
    };
    mountinfo
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4))
        .map(|m| PathBuf::from(unescape(m)))
        .any(|m| m != dir && m.starts_with(dir))
}

/// A mountinfo path, its `\040`-style escapes undone.
fn unescape(field: &str) -> OsString {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && let Ok(n) = u8::from_str_radix(&field[i + 1..i + 4], 8)
        {
            out.push(n);
            i += 4;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    OsStr::from_bytes(&out).to_os_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_keeps_toolchains_and_drops_secrets() {
        for name in [
            "PATH",
            "HOME",
            "PYENV_ROOT",
            "CARGO_HOME",
            "RUSTUP_HOME",
            "LC_ALL",
            "GOPATH",
        ] {
            assert!(allowed_env(OsStr::new(name)), "{name}");
        }
        for name in [
            "AUTOGRADER_SECRET",
            "AWS_SECRET_ACCESS_KEY",
            "GITHUB_TOKEN",
            "IOLAB_BACKEND",
        ] {
            assert!(!allowed_env(OsStr::new(name)), "{name}");
        }
    }

    #[test]
    fn directories_under_tmp_the_command_names_stay_visible() {
        let dir = tempfile::tempdir_in("/tmp").expect("a directory in /tmp");
        let script = dir.path().join("server.py");
        std::fs::write(&script, "").unwrap();
        let (confine, _) = confine(Path::new("/"), &[OsStr::new("python3"), script.as_os_str()])
            .expect("a confinement");
        let real = dir.path().canonicalize().unwrap();
        assert!(
            confine
                .sources
                .iter()
                .any(|k| k.as_bytes() == real.as_os_str().as_bytes()),
            "{:?}",
            confine.sources
        );
        assert!(!confine.overlay, "no overlay over / (it would hide /proc)");
    }

    #[test]
    fn every_denied_call_is_known_and_filtered() {
        for name in DENIED {
            assert!(crate::trace::syscall_nr(name).is_some(), "{name}");
        }
        // Six for the ABI, two per call, five for clone.
        assert_eq!(deny_filter().len(), 6 + 2 * DENIED.len() + 5);
    }

    #[test]
    fn modes_read_as_the_flag_says() {
        assert_eq!("off".parse::<Mode>(), Ok(Mode::Off));
        assert_eq!("auto".parse::<Mode>(), Ok(Mode::Auto));
        assert!("maybe".parse::<Mode>().is_err());
        assert_eq!(status(Mode::Off), Status::Off("--sandbox off".into()));
    }
}
