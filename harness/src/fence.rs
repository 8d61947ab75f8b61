//! What keeps a run's processes from escaping the harness.
//!
//! The tracer follows every thread and process a program creates and kills
//! them all at the end. Two fences back it up:
//! - the harness is a *child subreaper*: a process whose parent died (a
//!   double-forked daemon) is re-parented to the harness rather than to
//!   init, so its exit status comes back here and is reaped;
//! - where cgroup v2 lets the harness make a group, each run gets its own,
//!   so that whatever escapes the tracer (a clone with `CLONE_UNTRACED`, the
//!   tracees strace leaves behind when it dies) is still found and killed
//!   with one write to `cgroup.kill`. It is never required: without it the
//!   tracer's own accounting is the fence.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use crate::procfs::{Stat, status_field};
use crate::trace::Tid;

/// Makes this process the reaper of its descendants' orphans (once).
pub(crate) fn adopt_orphans() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Best effort: without it orphans go to init, which reaps them; the
        // tracer still kills every one it followed.
        let _ = nix::sys::prctl::set_child_subreaper(true);
    });
}

/// The children the harness started itself (each run's program, or its
/// strace), which their own threads wait for: never reaped by a sweep. The
/// lock is held from fork to registration, so a sweep never sees one of
/// them unregistered.
static STARTED: Mutex<Vec<Tid>> = Mutex::new(Vec::new());

/// Starts `command` as a child the harness waits for itself; it stays
/// registered as such until the returned guard is dropped. Then `then`,
/// under the same lock: the process it returns (one the child made before
/// it exec'd: a sandbox's init under strace, the program natively) is
/// registered too, so no sweep takes it for an orphan.
pub(crate) fn spawn_then(
    command: &mut Command,
    then: impl FnOnce() -> Option<Tid>,
) -> std::io::Result<(Child, Started, Option<Started>)> {
    let mut started = STARTED.lock().unwrap_or_else(|e| e.into_inner());
    let child = command.spawn()?;
    let pid = child.id() as Tid;
    started.push(pid);
    let also = then().map(|other| {
        started.push(other);
        Started(other)
    });
    Ok((child, Started(pid), also))
}

/// A child started with [`spawn_then`]; dropped once it has been waited for (or
/// killed and left for a sweep to reap).
#[derive(Debug)]
pub(crate) struct Started(Tid);

impl Drop for Started {
    fn drop(&mut self) {
        STARTED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|&p| p != self.0);
    }
}

/// Whether `pid` is an orphan the harness adopted from a run and may kill
/// and reap: a child of this process it did not start, in a process group
/// other than its own (runs get groups of their own), that no tracer
/// follows (a traced one is its tracer's to wait for: any thread's
/// `waitpid` would take that tracer's events). Checked under the lock that
/// spawns take, so a child being started is never mistaken for one.
fn adopted(started: &[Tid], pid: Tid) -> Option<Stat> {
    if started.contains(&pid) {
        return None;
    }
    let stat = Stat::of(pid)?;
    let ours = stat.parent == std::process::id() as Tid
        && stat.group != nix::unistd::getpgrp().as_raw()
        && status_field(pid, "TracerPid") == Some(0);
    ours.then_some(stat)
}

/// Kills and reaps every orphan the harness adopted (see [`adopted`]):
/// what runs left behind, re-parented here when their parents died.
pub(crate) fn reap_adopted() {
    let candidates: Vec<Tid> = {
        let started = STARTED.lock().unwrap_or_else(|e| e.into_inner());
        children()
            .into_iter()
            .filter(|&pid| adopted(&started, pid).is_some())
            .collect()
    };
    for pid in candidates {
        kill_adopted(pid, Duration::from_millis(200));
    }
}

/// Reaps `pid` if it is an adopted orphan that has ended (under strace: its
/// tracer, strace, collected its exit, and the zombie waits for us).
pub(crate) fn reap_if_ended(pid: Tid) {
    let started = STARTED.lock().unwrap_or_else(|e| e.into_inner());
    if adopted(&started, pid).is_some_and(|s| s.state == 'Z') {
        let _ = waitpid(
            Pid::from_raw(pid),
            Some(WaitPidFlag::WNOHANG | WaitPidFlag::__WALL),
        );
    }
}

/// Kills and reaps `pid` if it is an adopted orphan, waiting at most
/// `wait` for it to die. Each wait is checked again under the lock.
pub(crate) fn kill_adopted(pid: Tid, wait: Duration) {
    let deadline = Instant::now() + wait;
    let mut killed = false;
    loop {
        {
            let started = STARTED.lock().unwrap_or_else(|e| e.into_inner());
            let Some(stat) = adopted(&started, pid) else {
                return;
            };
            if stat.state != 'Z' && !killed {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                killed = true;
            }
            match waitpid(
                Pid::from_raw(pid),
                Some(WaitPidFlag::WNOHANG | WaitPidFlag::__WALL),
            ) {
                Ok(WaitStatus::StillAlive) => {}
                _ => return,
            }
        }
        if Instant::now() >= deadline {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Whether `pid` is in process group `group` and running.
pub(crate) fn running_in_group(pid: Tid, group: Tid) -> bool {
    Stat::of(pid).is_some_and(|s| s.group == group && s.running())
}

/// The process group of `pid`.
pub(crate) fn group_of(pid: Tid) -> Option<Tid> {
    Stat::of(pid).map(|s| s.group)
}

/// Kills and reaps every child of this process, and what is re-parented to
/// it meanwhile, for at most `wait`: for a process whose children are all
/// orphans it adopted (the watchdog, once its harness is reaped).
pub(crate) fn kill_all_children(wait: Duration) {
    let deadline = Instant::now() + wait;
    loop {
        let left = children();
        if left.is_empty() || Instant::now() >= deadline {
            return;
        }
        for pid in left {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            let _ = waitpid(
                Pid::from_raw(pid),
                Some(WaitPidFlag::WNOHANG | WaitPidFlag::__WALL),
            );
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The children of every thread of this process.
fn children() -> Vec<Tid> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|text| {
            text.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<Tid>>()
        })
        .collect()
}

/// Whether `pid` exists and is not a zombie.
pub(crate) fn is_running(pid: Tid) -> bool {
    Stat::of(pid).is_some_and(|s| s.running())
}

/// Of `pids`, those still running after waiting up to `wait` for them
/// to die.
pub(crate) fn still_running(pids: &[Tid], wait: Duration) -> Vec<Tid> {
    let deadline = Instant::now() + wait;
    loop {
        let left: Vec<Tid> = pids.iter().copied().filter(|&p| is_running(p)).collect();
        if left.is_empty() || Instant::now() >= deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A cgroup v2 of its own for one run.
#[derive(Debug)]
pub(crate) struct Cgroup {
    dir: PathBuf,
    /// `cgroup.procs`, for the child to join between fork and exec.
    procs: CString,
}

/// Disables cgroups when set to `0` (to run as on a machine without them).
const ENV_SWITCH: &str = "IOLAB_CGROUP";

impl Cgroup {
    /// Makes a cgroup for one run under this process's own cgroup, or
    /// `None` when there is no cgroup v2 or it cannot be written here.
    /// With a `pids` controller it also caps the number of tasks.
    pub(crate) fn create(tasks: usize) -> Option<Cgroup> {
        if std::env::var_os(ENV_SWITCH).is_some_and(|v| v == "0") {
            return None;
        }
        let parent = own_cgroup_dir()?;
        clear_stale(&parent);
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        let dir = parent.join(format!("{}-{n}", Owner::me()?.name()));
        std::fs::create_dir(&dir).ok()?;
        let procs = CString::new(dir.join("cgroup.procs").as_os_str().as_bytes()).ok()?;
        let group = Cgroup { dir, procs };
        // A fence, not the limit: the tracer counts tasks itself and says
        // which limit was hit; strace needs a few tasks of its own.
        let _ = std::fs::write(
            group.dir.join("pids.max"),
            tasks.saturating_add(16).to_string(),
        );
        Some(group)
    }

    /// The `cgroup.procs` path a new child writes itself into.
    pub(crate) fn procs(&self) -> &CString {
        &self.procs
    }

    /// The processes in it now.
    pub(crate) fn members(&self) -> Vec<Tid> {
        std::fs::read_to_string(self.dir.join("cgroup.procs"))
            .map(|text| text.lines().filter_map(|l| l.trim().parse().ok()).collect())
            .unwrap_or_default()
    }

    /// Sends SIGKILL to everything in it.
    pub(crate) fn kill(&self) {
        if std::fs::write(self.dir.join("cgroup.kill"), "1").is_err() {
            // Before Linux 5.14: one by one.
            for pid in self.members() {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
    }

    /// Kills everything in it, reaps what was re-parented here, and waits
    /// (at most `wait`) until it is empty. Returns what still runs in it.
    pub(crate) fn empty(&self, wait: Duration) -> Vec<Tid> {
        let deadline = Instant::now() + wait;
        loop {
            let members = self.members();
            if members.is_empty() {
                return members;
            }
            self.kill();
            for &pid in &members {
                kill_adopted(pid, Duration::from_millis(20));
            }
            if Instant::now() >= deadline {
                return self.members();
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        self.empty(Duration::from_secs(2));
        // rmdir fails while a task is still being torn down: try a little.
        for _ in 0..50 {
            if std::fs::remove_dir(&self.dir).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

/// This process's cgroup directory in the cgroup v2 hierarchy.
fn own_cgroup_dir() -> Option<PathBuf> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    // `36 35 0:30 / /sys/fs/cgroup rw,... - cgroup2 cgroup2 rw`
    let mount = mountinfo.lines().find_map(|line| {
        let (before, after) = line.split_once(" - ")?;
        (after.split_whitespace().next()? == "cgroup2")
            .then(|| before.split_whitespace().nth(4).map(PathBuf::from))?
    })?;
    let cgroups = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let own = cgroups.lines().find_map(|l| l.strip_prefix("0::"))?;
    let dir = mount.join(own.trim_start_matches('/'));
    dir.join("cgroup.procs").exists().then_some(dir)
}

/// Who made a run's cgroup, as its name says: `iolab-P<ns>-<pid>-<start>`,
/// the harness's pid namespace (the inode of `/proc/self/ns/pid`), its pid
/// there, and its start time in clock ticks after boot. A pid alone is not
/// enough: an iolab in another pid namespace (a container, `unshare -p`,
/// where it is pid 2) cannot see the owner in its `/proc` and would take a
/// live run's group for stale; and a pid is reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Owner {
    namespace: u64,
    pid: Tid,
    start: u64,
}

impl Owner {
    /// This process, if its `/proc` is its own pid namespace's (otherwise no
    /// name it could give would be checkable by another iolab, nor could it
    /// check theirs: no cgroups then).
    fn me() -> Option<Owner> {
        let pid = std::process::id() as Tid;
        let seen: Tid = std::fs::read_link("/proc/self")
            .ok()?
            .to_str()?
            .parse()
            .ok()?;
        (seen == pid).then_some(())?;
        Some(Owner {
            namespace: pid_namespace("/proc/self/ns/pid")?,
            pid,
            start: start_time(pid)?,
        })
    }

    /// The live process `pid` of this pid namespace (a child just started).
    fn of(pid: Tid) -> Option<Owner> {
        Some(Owner {
            namespace: pid_namespace("/proc/self/ns/pid")?,
            pid,
            start: start_time(pid)?,
        })
    }

    fn name(&self) -> String {
        format!("iolab-P{}-{}-{}", self.namespace, self.pid, self.start)
    }

    /// The owner a cgroup's name gives (with its run number after it).
    fn parse(name: &str) -> Option<Owner> {
        let mut parts = name.strip_prefix("iolab-P")?.split('-');
        Some(Owner {
            namespace: parts.next()?.parse().ok()?,
            pid: parts.next()?.parse().ok()?,
            start: parts.next()?.parse().ok()?,
        })
    }

    /// Whether this owner has certainly ended, as `me` can tell: only an
    /// owner in the same pid namespace can be looked up, and it has ended
    /// when its pid is gone or now belongs to a process started at another
    /// time. Anything else (another namespace) is never taken for stale.
    fn ended(&self, me: &Owner) -> bool {
        self.namespace == me.namespace && start_time(self.pid) != Some(self.start)
    }
}

/// The inode of a `/proc/.../ns/pid` link (`pid:[4026531836]`).
fn pid_namespace(link: &str) -> Option<u64> {
    let target = std::fs::read_link(link).ok()?;
    target
        .to_str()?
        .strip_prefix("pid:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// Field 22 of `/proc/PID/stat`: when the process started, in clock ticks
/// after boot.
fn start_time(pid: Tid) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command name (in parentheses, and free text): state is
    // field 3, so the start time is the 20th field after it.
    stat[stat.rfind(')')? + 1..]
        .split_whitespace()
        .nth(19)?
        .parse()
        .ok()
}

/// The cgroups a harness will make for its runs, told by its owner's name
/// while it is alive (see [`Owner`]), so that they can be emptied and
/// removed after it was killed.
#[derive(Debug)]
pub(crate) struct CgroupsOf(Option<Owner>);

impl CgroupsOf {
    /// Those of the live process `pid`, a child of this process (so in
    /// its cgroup, and its pid namespace).
    pub(crate) fn process(pid: Tid) -> CgroupsOf {
        CgroupsOf(Owner::of(pid))
    }

    /// Kills everything left in them and removes them.
    pub(crate) fn remove(&self) {
        let (Some(owner), Some(parent)) = (self.0, own_cgroup_dir()) else {
            return;
        };
        let Ok(entries) = std::fs::read_dir(parent) else {
            return;
        };
        for entry in entries.flatten() {
            if entry.file_name().to_str().and_then(Owner::parse) == Some(owner) {
                drop(Cgroup {
                    dir: entry.path(),
                    procs: CString::default(),
                });
            }
        }
    }
}

/// Removes the cgroups of harness processes that died without cleaning up
/// (killed mid-run), killing whatever was left in them: only those whose
/// owner is certainly gone ([`Owner::ended`]).
fn clear_stale(parent: &Path) {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let Some(me) = Owner::me() else {
            return;
        };
        let Ok(entries) = std::fs::read_dir(parent) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(owner) = name.to_str().and_then(Owner::parse) else {
                continue;
            };
            if !owner.ended(&me) {
                continue;
            }
            let stale = Cgroup {
                dir: entry.path(),
                procs: CString::default(),
            };
            drop(stale);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cgroup_name_gives_its_owner_back() {
        let me = Owner::me().expect("this test's /proc is its own pid namespace's");
        let name = format!("{}-7", me.name());
        assert_eq!(Owner::parse(&name), Some(me));
        assert!(!me.ended(&me), "a live owner is never stale");
        // The old names (`iolab-PID-N`) and other groups are not ours to judge.
        assert_eq!(Owner::parse("iolab-1234-0"), None);
        assert_eq!(Owner::parse("user.slice"), None);
    }

    #[test]
    fn only_an_owner_seen_gone_in_our_own_namespace_is_stale() {
        let me = Owner::me().expect("this test's /proc is its own pid namespace's");
        let restarted = Owner {
            start: me.start + 1,
            ..me
        };
        assert!(
            restarted.ended(&me),
            "same pid, another start: the pid was reused"
        );
        // pid 2 in a container: never seen from here, so never stale here.
        let elsewhere = Owner {
            namespace: me.namespace + 1,
            pid: 2,
            start: 5,
        };
        assert!(!elsewhere.ended(&me));
    }
}
