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
//! What it does not do yet: a uid of its own, a `/proc` of the namespace's
//! own (the host's is mounted read-only: the program can read other
//! processes' command lines), and hiding the tool tree's files rather than
//! making them read-only.

use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::sys::sandbox::{Confine, Keep};
use crate::trace::Tid;

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

/// How a grading ran, for its report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    On,
    /// Not sandboxed, and why (`--sandbox off`, not root, a refusal).
    Off(String),
}

impl Status {
    pub fn is_on(&self) -> bool {
        matches!(self, Status::On)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Status::On => write!(
                f,
                "pid, mount, network, IPC and UTS namespaces; no capabilities, no new privileges; \
                 every file read-only but a private /tmp, /dev/shm and /var/tmp \
                 ({TMP_MIB} MiB, {TMP_FILES} files each) and the working directory's private overlay; \
                 environment from an allowlist"
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
            Ok(()) => Status::On,
            Err(why) => Status::Off(why.clone()),
        },
    }
}

/// Whether the sandbox can be built here: tried once, by confining a child
/// that runs `true`.
fn available() -> &'static Result<(), String> {
    static AVAILABLE: OnceLock<Result<(), String>> = OnceLock::new();
    AVAILABLE.get_or_init(|| {
        if !crate::sys::sandbox::is_root() {
            return Err("not run as root (namespaces and mounts need it)".into());
        }
        let cwd = std::env::current_dir().map_err(|e| format!("no working directory: {e}"))?;
        let (confine, _namespace) = confine(&cwd, &[]).map_err(|e| e.to_string())?;
        let mut command = std::process::Command::new("true");
        command
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        let mut setup = crate::sys::process::ChildSetup::default();
        setup.confine(confine);
        setup.apply(&mut command);
        match command.output() {
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
    })
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
    let c = |p: &Path| {
        CString::new(p.as_os_str().as_bytes()).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "a NUL byte in a path")
        })
    };
    let cwd = cwd.canonicalize()?;
    let tmp = Path::new("/tmp");
    let mut dirs: Vec<PathBuf> = Vec::new();
    let mut keep = |dir: PathBuf| {
        if dir.starts_with(tmp) && dir != tmp && !dirs.iter().any(|d| dir.starts_with(d)) {
            dirs.retain(|d| !d.starts_with(&dir));
            dirs.push(dir);
        }
    };
    keep(cwd.clone());
    for arg in argv {
        let path = Path::new(arg);
        let path = if path.is_absolute() {
            path.to_path_buf()
        } else {
            cwd.join(path)
        };
        if let Ok(real) = path.canonicalize() {
            let dir = if real.is_dir() {
                real
            } else {
                real.parent().map(Path::to_path_buf).unwrap_or(real)
            };
            keep(dir);
        }
    }
    let mut keeps = Vec::new();
    for dir in dirs.iter().take(8) {
        let prefixes = dir
            .ancestors()
            .filter(|a| a.starts_with(tmp) && *a != tmp)
            .map(c)
            .collect::<Result<Vec<_>, _>>()?;
        keeps.push(Keep {
            path: c(dir)?,
            prefixes: prefixes.into_iter().rev().collect(),
        });
    }
    // An overlay hides the mounts below its directory (`/`, `/dev`): none
    // then; and its options cannot quote a `,`, `:` or `\` in a path.
    let plain = !cwd
        .as_os_str()
        .as_bytes()
        .iter()
        .any(|b| b",:\\".contains(b));
    let overlay = (plain && !mounts_below(&cwd))
        .then(|| {
            CString::new(format!(
                "lowerdir={},upperdir=/dev/shm/upper,workdir=/dev/shm/work",
                cwd.display()
            ))
        })
        .transpose()
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "a NUL byte"))?;
    let (keep_read, keep_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let (report_read, report_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let confine = Confine {
        cwd: c(&cwd)?,
        tmpfs: CString::new(format!("size={TMP_MIB}m,nr_inodes={TMP_FILES},mode=1777"))
            .expect("no NUL"),
        overlay,
        keeps,
        keepalive: keep_read,
        report: report_write,
    };
    let namespace = Namespace {
        keepalive: Some(keep_write),
        report: std::fs::File::from(report_read),
        own_init: None,
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
        let kept: Vec<&[u8]> = confine.keeps.iter().map(|k| k.path.as_bytes()).collect();
        assert_eq!(kept, [real.as_os_str().as_bytes()]);
        assert!(
            confine.overlay.is_none(),
            "no overlay over / (it would hide /proc)"
        );
    }

    #[test]
    fn modes_read_as_the_flag_says() {
        assert_eq!("off".parse::<Mode>(), Ok(Mode::Off));
        assert_eq!("auto".parse::<Mode>(), Ok(Mode::Auto));
        assert!("maybe".parse::<Mode>().is_err());
        assert_eq!(status(Mode::Off), Status::Off("--sandbox off".into()));
    }
}
