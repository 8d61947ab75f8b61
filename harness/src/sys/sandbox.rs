//! The system calls that confine a program under test, made in its child
//! between fork and exec ([`Confine::enter`] and what follows), and the two the harness
//! makes about itself and the program's network ([`harden_self`],
//! [`in_namespace`]).
//!
//! What [`Confine`] builds, in order (each step a plain system call on
//! strings prepared before the fork, as `pre_exec` requires):
//! 1. new pid, mount, network, IPC and UTS namespaces (`unshare`), mounts
//!    made private so nothing propagates back; loopback brought up, host
//!    name `iolab`; the pid namespace's init ([`Confine::start_init`]), so
//!    that the program is never pid 1, and the program's own process
//!    ([`Confine::clone_parent`]);
//! 2. every mount read-only (`mount_setattr(AT_RECURSIVE)`): the tool tree,
//!    the references, results, `/proc/sys` and the cgroup files;
//! 3. the view's [`Step`]s (planned in `crate::sandbox::view`): a private
//!    `/tmp` (a size- and inode-bounded tmpfs), empty covers over what the
//!    program must not read, and the directories it needs bound back
//!    read-only on them;
//! 4. the working directory made writable through an overlay whose upper
//!    layer is a private tmpfs (writes land there and vanish with the
//!    namespace), then `/dev/shm` and `/var/tmp` private too;
//! 5. no new privileges, and no capabilities: the bounding and ambient sets
//!    emptied, so the program's `execve` as root gains none; with [`Ids`],
//!    the program runs as an unprivileged uid, and the home directories
//!    and the working directory's lower layer are id-mapped mounts on
//!    which root's files are that uid's (so toolchains under a 0700 `/root`
//!    and a tree built as root work as they did); strace, which starts the
//!    program under that uid itself (`-u`), keeps only the capabilities
//!    that takes;
//! 6. a seccomp filter refusing the calls no lab needs
//!    (`crate::sandbox::DENIED`).

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, OwnedFd};

/// The mount flags and attributes used here (`linux/mount.h`).
const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;
const AT_RECURSIVE: libc::c_uint = 0x8000;
const OPEN_TREE_CLONE: libc::c_uint = 1;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;

/// The capabilities strace keeps to start the program as [`Ids`]' uid
/// (`-u`): `CAP_SETGID`, `CAP_SETUID`, `CAP_SYS_PTRACE` to seize a child
/// that is no longer its uid, and `CAP_DAC_READ_SEARCH` to find the program
/// first, as root, through a home whose id-mapped mount shows it as the
/// program's uid's (a 0700 `/root` with a pyenv in it). All of it read-only.
const STRACE_CAPS: u64 = (1 << 2) | (1 << 6) | (1 << 7) | (1 << 19);

/// The unprivileged ids a program runs as, and the user namespace whose
/// mapping (`0 uid 1`, `0 gid 1`) id-maps the mounts it must own.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ids {
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    /// An open `/proc/PID/ns/user`, held for the harness's lifetime.
    pub(crate) userns: libc::c_int,
}

/// `struct mount_attr` of `mount_setattr(2)`.
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// The most directories a view binds back (descriptors opened at once).
pub(crate) const MAX_SOURCES: usize = 64;

/// The options of a cover: an empty, read-only directory once sealed.
const COVER: &std::ffi::CStr = c"size=1m,nr_inodes=4096,mode=0755";

/// One mount (or the directory it needs) of the program's view of the
/// files: planned on paths (`crate::sandbox::view`), taken here on C
/// strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step<P = CString> {
    /// An empty tmpfs over a directory: the private `/tmp` (writable), or
    /// a cover (sealed read-only once what it shows is bound on it).
    Cover { dir: P, writable: bool },
    /// `/dev/null` bound over a file.
    Blank { file: P },
    /// A directory made on a cover: a mount point, or on the way to one.
    Dir(P),
    /// `sources[source]` (opened before any cover) bound read-only on
    /// `target`, the same path.
    Bind { source: usize, target: P },
    /// A cover made read-only.
    Seal { dir: P },
}

impl<P> Step<P> {
    /// The same step on other paths (`f` of each), or `f`'s first error.
    pub(crate) fn try_map<Q, E>(
        &self,
        mut f: impl FnMut(&P) -> Result<Q, E>,
    ) -> Result<Step<Q>, E> {
        Ok(match self {
            Step::Cover { dir, writable } => Step::Cover {
                dir: f(dir)?,
                writable: *writable,
            },
            Step::Blank { file } => Step::Blank { file: f(file)? },
            Step::Dir(dir) => Step::Dir(f(dir)?),
            Step::Bind { source, target } => Step::Bind {
                source: *source,
                target: f(target)?,
            },
            Step::Seal { dir } => Step::Seal { dir: f(dir)? },
        })
    }
}

/// Everything the child's confinement needs, prepared before the fork.
#[derive(Debug)]
pub(crate) struct Confine {
    /// The program's working directory (absolute).
    pub(crate) cwd: CString,
    /// tmpfs options for each private directory (`size=...,nr_inodes=...`).
    pub(crate) tmpfs: CString,
    /// Whether an overlay makes the working directory writable (not when
    /// it would hide mounts below it).
    pub(crate) overlay: bool,
    /// The program's unprivileged ids, if it gets them.
    pub(crate) ids: Option<Ids>,
    /// The home directories owned by root, id-mapped (read-only) to
    /// [`Ids`]' uid.
    pub(crate) homes: Vec<CString>,
    /// The directories the view binds back, opened before any mount.
    pub(crate) sources: Vec<CString>,
    pub(crate) steps: Vec<Step>,
    /// The read end of the pipe whose end of file ends the namespace's
    /// init: the harness holds the only write end.
    pub(crate) keepalive: OwnedFd,
    /// Where the child writes the pids (as the harness sees them) of the
    /// init and of the program's process: two native-endian `i32`s.
    pub(crate) report: OwnedFd,
    /// The seccomp program refusing the calls no lab needs.
    pub(crate) deny: Vec<libc::sock_filter>,
}

/// `-1` as an error from the last call.
fn check(r: libc::c_int) -> io::Result<()> {
    if r == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn mount(
    source: &[u8],
    target: *const libc::c_char,
    fstype: &[u8],
    flags: libc::c_ulong,
    data: *const libc::c_char,
) -> io::Result<()> {
    // SAFETY: every pointer is a NUL-terminated string (or null for data),
    // alive for the call.
    check(unsafe {
        libc::mount(
            source.as_ptr().cast(),
            target,
            fstype.as_ptr().cast(),
            flags,
            data.cast(),
        )
    })
}

/// `/proc/self/fd/N` for descriptor `fd`, written into `buf` (no
/// allocation: this runs between fork and exec).
fn fd_path(fd: libc::c_int, buf: &mut [u8; 32]) -> *const libc::c_char {
    let prefix = b"/proc/self/fd/";
    buf[..prefix.len()].copy_from_slice(prefix);
    let mut digits = [0u8; 12];
    let (mut n, mut len) = (fd as u32, 0);
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for i in 0..len {
        buf[prefix.len() + i] = digits[len - 1 - i];
    }
    buf[prefix.len() + len] = 0;
    buf.as_ptr().cast()
}

/// A detached clone of the mount tree at `path` (relative to `dirfd`; not
/// its submounts), as a descriptor (`open_tree(OPEN_TREE_CLONE)`).
fn clone_tree(
    dirfd: libc::c_int,
    path: &std::ffi::CStr,
    flags: libc::c_uint,
) -> io::Result<libc::c_int> {
    // SAFETY: a descriptor, a NUL-terminated path and flags.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            dirfd,
            path.as_ptr(),
            OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint | flags,
        )
    };
    if fd < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(fd as libc::c_int)
    }
}

/// Sets `attrs` on the detached mount `fd`, with `userns` as its id
/// mapping when `attrs` has `MOUNT_ATTR_IDMAP`.
fn set_attr(fd: libc::c_int, attrs: u64, userns: libc::c_int) -> io::Result<()> {
    mount_setattr(fd, c"", libc::AT_EMPTY_PATH as libc::c_uint, attrs, userns)
}

/// `mount_setattr(2)`: sets `attrs` on the mount at `path` (relative to
/// `dirfd`), with `userns` as its id mapping for `MOUNT_ATTR_IDMAP`.
fn mount_setattr(
    dirfd: libc::c_int,
    path: &std::ffi::CStr,
    flags: libc::c_uint,
    attrs: u64,
    userns: libc::c_int,
) -> io::Result<()> {
    let attr = MountAttr {
        attr_set: attrs,
        attr_clr: 0,
        propagation: 0,
        userns_fd: userns as u64,
    };
    // SAFETY: a descriptor, a NUL-terminated path, flags, and a `struct
    // mount_attr` with its size.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            dirfd,
            path.as_ptr(),
            flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Attaches the detached mount `fd` on `target`.
fn move_onto(fd: libc::c_int, target: &std::ffi::CStr) -> io::Result<()> {
    // SAFETY: a descriptor, an empty path, and a NUL-terminated target.
    let r = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            fd,
            c"".as_ptr(),
            libc::AT_FDCWD,
            target.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    };
    if r == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// A raw `clone(flags)` without a new stack, like fork (`SIGCHLD` added):
/// the child's pid here, 0 in the child.
///
/// # Safety
/// The child shares nothing but a copy of the caller's memory, and in a
/// multi-threaded process (the harness, or its child before exec) it must
/// make only async-signal-safe calls until it execs or exits.
unsafe fn fork_with(flags: libc::c_int) -> io::Result<libc::pid_t> {
    // SAFETY: clone's flags and null stack, parent-tid, child-tid and tls
    // arguments: a fork, whose child the caller's contract governs.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    if pid < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(pid as libc::pid_t)
    }
}

/// A user namespace whose only ids are `uid` and `gid`, seen as 0 inside:
/// as a mount's id mapping, it shows root's files as `uid`'s, and writes
/// `uid`'s as root's. Made by a child that waits on a pipe while its maps
/// are written, and ends once the namespace is open.
pub(crate) fn idmap_namespace(uid: u32, gid: u32) -> io::Result<OwnedFd> {
    use std::os::fd::AsRawFd;
    let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    // SAFETY: the child makes only the raw system calls below, then exits.
    let pid = unsafe { fork_with(libc::CLONE_NEWUSER)? };
    if pid == 0 {
        // SAFETY: closes, a one-byte read into a stack buffer, an exit.
        unsafe {
            libc::close(write.as_raw_fd());
            let mut byte = 0u8;
            libc::read(read.as_raw_fd(), (&mut byte as *mut u8).cast(), 1);
            libc::_exit(0)
        }
    }
    let opened = (|| {
        std::fs::write(format!("/proc/{pid}/uid_map"), format!("0 {uid} 1"))?;
        std::fs::write(format!("/proc/{pid}/gid_map"), format!("0 {gid} 1"))?;
        std::fs::File::open(format!("/proc/{pid}/ns/user"))
    })();
    drop(write);
    let _ = nix::sys::wait::waitpid(
        nix::unistd::Pid::from_raw(pid as libc::pid_t),
        Some(nix::sys::wait::WaitPidFlag::__WALL),
    );
    opened.map(OwnedFd::from)
}

/// Whether the mount at `path` can be id-mapped with `userns` (tried on a
/// detached clone, which vanishes with its descriptor).
pub(crate) fn can_idmap(path: &std::ffi::CStr, userns: libc::c_int) -> io::Result<()> {
    let tree = clone_tree(libc::AT_FDCWD, path, 0)?;
    let set = set_attr(tree, MOUNT_ATTR_IDMAP, userns);
    // SAFETY: closing the clone's descriptor.
    unsafe { libc::close(tree) };
    set
}

impl Confine {
    /// In the child: confines it (see the module's steps). Async-signal-
    /// safe: system calls on data prepared before the fork, and a few
    /// stack buffers.
    pub(crate) fn enter(&self) -> io::Result<()> {
        // SAFETY: unshare takes flags only.
        check(unsafe {
            libc::unshare(
                libc::CLONE_NEWPID
                    | libc::CLONE_NEWNS
                    | libc::CLONE_NEWNET
                    | libc::CLONE_NEWIPC
                    | libc::CLONE_NEWUTS,
            )
        })?;
        mount(
            b"none\0",
            c"/".as_ptr(),
            b"none\0",
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        )?;
        // The directories bound back, opened while nothing covers them
        // (in the new mount namespace: a bind mount takes its source from
        // there).
        let mut sources = [-1 as libc::c_int; MAX_SOURCES];
        for (slot, source) in sources.iter_mut().zip(&self.sources) {
            // SAFETY: a NUL-terminated path.
            *slot = unsafe {
                libc::open(
                    source.as_ptr(),
                    libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
                )
            };
        }
        // SAFETY: a NUL-terminated path.
        let cwd = unsafe {
            libc::open(
                self.cwd.as_ptr(),
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        let name = b"iolab";
        // SAFETY: a buffer and its length.
        check(unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) })?;
        loopback_up()?;
        mount_setattr(libc::AT_FDCWD, c"/", AT_RECURSIVE, MOUNT_ATTR_RDONLY, 0)?;
        if let Some(ids) = &self.ids {
            // The homes root owns, id-mapped: the program may pass through
            // a 0700 `/root` to the toolchains there, and write nothing.
            for home in &self.homes {
                let tree = clone_tree(libc::AT_FDCWD, home, 0)?;
                let placed = set_attr(tree, MOUNT_ATTR_IDMAP | MOUNT_ATTR_RDONLY, ids.userns)
                    .and_then(|()| move_onto(tree, home));
                // SAFETY: closing the clone's descriptor.
                unsafe { libc::close(tree) };
                placed?;
            }
        }
        let tmpfs = |target: &std::ffi::CStr| {
            mount(
                b"tmpfs\0",
                target.as_ptr(),
                b"tmpfs\0",
                libc::MS_NOSUID | libc::MS_NODEV,
                self.tmpfs.as_ptr(),
            )
        };
        let ro_bind = |target: *const libc::c_char| {
            // SAFETY: a NUL-terminated path; no data.
            check(unsafe {
                libc::mount(
                    std::ptr::null(),
                    target,
                    std::ptr::null(),
                    libc::MS_BIND
                        | libc::MS_REMOUNT
                        | libc::MS_RDONLY
                        | libc::MS_NOSUID
                        | libc::MS_NODEV,
                    std::ptr::null(),
                )
            })
        };
        for step in &self.steps {
            match step {
                Step::Cover { dir, writable } => mount(
                    b"tmpfs\0",
                    dir.as_ptr(),
                    b"tmpfs\0",
                    libc::MS_NOSUID | libc::MS_NODEV,
                    if *writable {
                        self.tmpfs.as_ptr()
                    } else {
                        COVER.as_ptr()
                    },
                )?,
                Step::Blank { file } => {
                    mount(
                        b"/dev/null\0",
                        file.as_ptr(),
                        b"\0",
                        libc::MS_BIND,
                        std::ptr::null(),
                    )?;
                    ro_bind(file.as_ptr())?;
                }
                Step::Dir(dir) => {
                    // SAFETY: a NUL-terminated path; EEXIST is fine.
                    unsafe { libc::mkdir(dir.as_ptr(), 0o755) };
                }
                Step::Bind { source, target } => {
                    let fd = sources.get(*source).copied().unwrap_or(-1);
                    if fd < 0 {
                        // Gone since it was planned: it stays covered.
                        continue;
                    }
                    let mut buf = [0u8; 32];
                    let from = fd_path(fd, &mut buf);
                    // SAFETY: NUL-terminated paths; no data.
                    check(unsafe {
                        libc::mount(
                            from,
                            target.as_ptr(),
                            std::ptr::null(),
                            libc::MS_BIND | libc::MS_REC,
                            std::ptr::null(),
                        )
                    })?;
                    // SAFETY: as above.
                    check(unsafe {
                        libc::mount(
                            std::ptr::null(),
                            target.as_ptr(),
                            std::ptr::null(),
                            libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY,
                            std::ptr::null(),
                        )
                    })?;
                }
                Step::Seal { dir } => ro_bind(dir.as_ptr())?,
            }
        }
        for &fd in sources.iter().filter(|fd| **fd >= 0) {
            // SAFETY: closing a descriptor opened above.
            unsafe { libc::close(fd) };
        }
        if self.overlay {
            // The upper layer on a scratch tmpfs at /dev/shm, then hidden
            // under the program's own /dev/shm; the lower layer a clone of
            // the working directory as it was before any cover (id-mapped
            // with `Ids`: the program owns what root owns there). A
            // working directory an overlay cannot sit on stays read-only.
            if tmpfs(c"/dev/shm").is_ok() {
                // SAFETY: NUL-terminated paths.
                unsafe {
                    libc::mkdir(c"/dev/shm/upper".as_ptr(), 0o755);
                    libc::mkdir(c"/dev/shm/work".as_ptr(), 0o755);
                    libc::mkdir(c"/dev/shm/lower".as_ptr(), 0o755);
                }
                if let Some(ids) = &self.ids {
                    // SAFETY: a NUL-terminated path and two ids.
                    check(unsafe { libc::chown(c"/dev/shm/upper".as_ptr(), ids.uid, ids.gid) })?;
                }
                let lower = clone_tree(cwd, c"", libc::AT_EMPTY_PATH as libc::c_uint)?;
                let placed = match &self.ids {
                    Some(ids) => set_attr(lower, MOUNT_ATTR_IDMAP, ids.userns),
                    None => Ok(()),
                }
                .and_then(|()| move_onto(lower, c"/dev/shm/lower"));
                // SAFETY: closing the clone's descriptor.
                unsafe { libc::close(lower) };
                placed?;
                let _ = mount(
                    b"overlay\0",
                    self.cwd.as_ptr(),
                    b"overlay\0",
                    0,
                    c"lowerdir=/dev/shm/lower,upperdir=/dev/shm/upper,workdir=/dev/shm/work"
                        .as_ptr(),
                );
            }
        }
        if cwd >= 0 {
            // SAFETY: closing the descriptor opened above.
            unsafe { libc::close(cwd) };
        }
        let _ = tmpfs(c"/dev/shm");
        let _ = tmpfs(c"/var/tmp");
        Ok(())
    }

    /// Forks the pid namespace's init (pid 1, its first process): it holds
    /// no descriptor but the keepalive pipe's read end, ignores `SIGCHLD`
    /// (so the orphans it inherits are reaped), cannot be signalled from
    /// inside its namespace (the kernel lets no signal without a handler
    /// reach an init from there) nor traced (undumpable, and it keeps the
    /// capabilities the program loses), and exits when the harness closes
    /// or loses the pipe's write end, which ends every process in the
    /// namespace. `beside`: the init is a child of this process's parent
    /// (`CLONE_PARENT`), not of this process, which goes on to exec a
    /// program that waits for all its children (strace does). Returns its
    /// pid.
    pub(crate) fn start_init(&self, beside: bool) -> io::Result<libc::pid_t> {
        let flags = if beside { libc::CLONE_PARENT } else { 0 };
        // SAFETY: the new process makes only the raw system calls below,
        // then exits.
        let pid = unsafe { fork_with(flags)? };
        if pid != 0 {
            return Ok(pid);
        }
        // SAFETY: system calls on integers; a zeroed sigaction with
        // SIG_IGN is a valid one.
        unsafe {
            libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
            let mut ignore: libc::sigaction = std::mem::zeroed();
            ignore.sa_sigaction = libc::SIG_IGN;
            libc::sigaction(libc::SIGCHLD, &ignore, std::ptr::null_mut());
        }
        self.hold()
    }

    /// Closes every descriptor but the keepalive pipe's read end (the
    /// program's output pipes, the harness's spawn pipe), waits for its
    /// end of file, and exits.
    pub(crate) fn hold(&self) -> ! {
        use std::os::fd::AsRawFd;
        // SAFETY: system calls on integers and a one-byte stack buffer.
        unsafe {
            libc::dup2(self.keepalive.as_raw_fd(), 0);
            libc::syscall(libc::SYS_close_range, 1u32, u32::MAX, 0u32);
            let mut byte = 0u8;
            loop {
                let n = libc::read(0, (&mut byte as *mut u8).cast(), 1);
                if n == 0 || (n < 0 && *libc::__errno_location() != libc::EINTR) {
                    break;
                }
            }
            libc::_exit(0)
        }
    }

    /// Creates the program's process, the second of the pid namespace, as
    /// a child of this process's parent (`CLONE_PARENT`: the harness, whose
    /// tracer thread can then trace it as it traces any child). Returns its
    /// pid here, 0 in it.
    pub(crate) fn clone_parent(&self) -> io::Result<libc::pid_t> {
        // SAFETY: the child goes on with the caller's async-signal-safe
        // steps.
        unsafe { fork_with(libc::CLONE_PARENT) }
    }

    /// Tells the harness the init's and the program's pids (`program` 0:
    /// the program is a child of this process's exec, as under strace).
    pub(crate) fn report(&self, init: libc::pid_t, program: libc::pid_t) {
        let mut bytes = [0u8; 8];
        bytes[..4].copy_from_slice(&init.to_ne_bytes());
        bytes[4..].copy_from_slice(&program.to_ne_bytes());
        let _ = nix::unistd::write(&self.report, &bytes);
    }

    /// Installs the filter refusing the calls no lab needs (after
    /// `PTRACE_TRACEME`, which is not one of them).
    pub(crate) fn deny(&self) -> io::Result<()> {
        super::seccomp::install(&self.deny)
    }

    /// Last, in the process that execs: into the working directory (the
    /// overlay; the old descriptor of the directory is below it), and no
    /// privileges from here on.
    /// `program`: this process execs the program itself (it takes
    /// [`Ids`]), not strace (which keeps what it needs to give them).
    pub(crate) fn finish(&self, program: bool) -> io::Result<()> {
        // SAFETY: a NUL-terminated path.
        check(unsafe { libc::chdir(self.cwd.as_ptr()) })?;
        match (&self.ids, program) {
            (Some(ids), true) => drop_privileges(0, Some(ids)),
            (Some(_), false) => drop_privileges(STRACE_CAPS, None),
            (None, _) => drop_privileges(0, None),
        }
    }
}

/// Brings up `lo` in the new network namespace: `SIOCGIFFLAGS`, then
/// `SIOCSIFFLAGS` with `IFF_UP`.
fn loopback_up() -> io::Result<()> {
    // SAFETY: a socket call with constant arguments.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: an all-zero ifreq is valid; the name fits in IFNAMSIZ.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(b"lo") {
        *d = *s as libc::c_char;
    }
    // SAFETY: `req` is an ifreq the two ioctls read and write.
    let r = unsafe {
        if libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req) == -1 {
            -1
        } else {
            req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            libc::ioctl(fd, libc::SIOCSIFFLAGS, &req)
        }
    };
    let error = io::Error::last_os_error();
    // SAFETY: closing the socket made above.
    unsafe { libc::close(fd) };
    if r == -1 { Err(error) } else { Ok(()) }
}

/// No new privileges, empty ambient and bounding sets, and the
/// capabilities `keep` only (then `ids`, if any): what execs as root gains
/// no more. `keep` is inheritable too, which is how root's `execve` passes
/// it on under an empty bounding set (to strace; a process that changes
/// its uid then loses it, and no new privileges bars every way back).
fn drop_privileges(keep: u64, ids: Option<&Ids>) -> io::Result<()> {
    // SAFETY: prctl with integer arguments.
    check(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) })?;
    // SAFETY: as above.
    unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        );
    }
    // Inheritable first, while the bounding set still holds it.
    let (_, permitted, _) = capabilities()?;
    set_capabilities(permitted, permitted, keep)?;
    for cap in 0..64 {
        // SAFETY: prctl with integers; EINVAL past the last capability
        // this kernel knows.
        if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) } == -1 {
            break;
        }
    }
    if let Some(ids) = ids {
        // SAFETY: setgroups with its one group (as strace's `-u` leaves
        // it: the user's own), then ids; each checked.
        unsafe {
            check(libc::setgroups(1, &ids.gid))?;
            check(libc::setresgid(ids.gid, ids.gid, ids.gid))?;
            check(libc::setresuid(ids.uid, ids.uid, ids.uid))?;
        }
    }
    set_capabilities(keep, keep, keep)
}

/// `capget(2)`'s header and data (`_LINUX_CAPABILITY_VERSION_3`: two data
/// words, the low and high 32 capabilities).
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const CAP_VERSION_3: u32 = 0x2008_0522;

/// This thread's effective, permitted and inheritable sets.
fn capabilities() -> io::Result<(u64, u64, u64)> {
    let mut header = CapHeader {
        version: CAP_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: a version-3 header and room for its two data words.
    let r = unsafe {
        libc::syscall(
            libc::SYS_capget,
            &mut header as *mut CapHeader,
            data.as_mut_ptr(),
        )
    };
    if r == -1 {
        return Err(io::Error::last_os_error());
    }
    let join = |lo: u32, hi: u32| u64::from(lo) | (u64::from(hi) << 32);
    Ok((
        join(data[0].effective, data[1].effective),
        join(data[0].permitted, data[1].permitted),
        join(data[0].inheritable, data[1].inheritable),
    ))
}

/// Sets this thread's three capability sets.
fn set_capabilities(effective: u64, permitted: u64, inheritable: u64) -> io::Result<()> {
    let header = CapHeader {
        version: CAP_VERSION_3,
        pid: 0,
    };
    let word = |set: u64, high: bool| if high { (set >> 32) as u32 } else { set as u32 };
    let data = [false, true].map(|high| CapData {
        effective: word(effective, high),
        permitted: word(permitted, high),
        inheritable: word(inheritable, high),
    });
    // SAFETY: a version-3 header and its two data words.
    let r = unsafe { libc::syscall(libc::SYS_capset, &header as *const CapHeader, data.as_ptr()) };
    if r == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Makes the harness undumpable: a process without `CAP_SYS_PTRACE` can
/// then neither attach to it nor open its `/proc/PID/fd`, `mem` or
/// `environ`, even as the same user.
pub(crate) fn harden_self() {
    let _ = nix::sys::prctl::set_dumpable(false);
}

/// Runs `f` on a thread that has joined the network namespace `ns` (a
/// socket made there stays in it). Fails if the namespace cannot be joined.
pub(crate) fn in_namespace<T: Send>(
    ns: &OwnedFd,
    f: impl FnOnce() -> io::Result<T> + Send,
) -> io::Result<T> {
    std::thread::scope(|s| {
        s.spawn(|| {
            nix::sched::setns(ns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)?;
            f()
        })
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("the namespace thread panicked")))
    })
}

/// Whether this process runs with effective uid 0.
pub(crate) fn is_root() -> bool {
    // SAFETY: geteuid takes nothing and cannot fail.
    unsafe { libc::geteuid() == 0 }
}
