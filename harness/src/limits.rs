//! What a program under test may use, and what it ran into.
//!
//! A grader runs code written at 2 a.m.: some of it loops, forks or
//! allocates without end. [`Resources`] bounds each run (the kernel enforces
//! most of it through rlimits, the tracer counts tasks itself), and
//! [`findings`] reads a finished trace for the limit a program hit, or the
//! other ways it left the rules, in words a student understands.

use std::fmt;
use std::time::Duration;

use nix::sys::resource::{RLIM_INFINITY, Resource, getrlimit};

/// Per-run bounds on the program under test and everything it spawns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resources {
    /// CPU time per process (`RLIMIT_CPU`): SIGXCPU at the limit, SIGKILL a
    /// second later.
    pub cpu: Duration,
    /// Virtual memory per process, in bytes (`RLIMIT_AS`).
    pub address_space: u64,
    /// Threads and processes alive at once, over the whole run; counted by
    /// the tracer (an rlimit would count per user, and not at all for root).
    pub tasks: usize,
    /// The largest file it may write, in bytes (`RLIMIT_FSIZE`).
    pub file_size: u64,
    /// Open file descriptors per process (`RLIMIT_NOFILE`).
    pub open_files: u64,
}

const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * MIB;

impl Default for Resources {
    fn default() -> Resources {
        Resources {
            cpu: Duration::from_secs(60),
            address_space: 2 * GIB,
            tasks: 256,
            file_size: 64 * MIB,
            open_files: 1024,
        }
    }
}

/// A `--limit` that cannot be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LimitError {
    #[error(
        "unknown limit {0:?}: the limits are time, listen, grade, cpu, memory, tasks, fsize and nofile"
    )]
    Unknown(String),
    #[error("cannot read {value:?} as {what} for limit {name}")]
    Value {
        name: String,
        value: String,
        what: &'static str,
    },
    #[error("a limit is written NAME=VALUE (like cpu=10s or memory=1G), not {0:?}")]
    Syntax(String),
}

impl Resources {
    /// The rlimits to set in the child before exec, as (resource, soft,
    /// hard). Core files are always off: a crash must not litter the disk,
    /// and its wait status is then the same on every machine.
    pub(crate) fn rlimits(&self) -> [(Resource, u64, u64); 5] {
        // Whole seconds, rounded up: the kernel counts no finer.
        let cpu = (self.cpu.as_secs() + u64::from(self.cpu.subsec_nanos() > 0)).max(1);
        [
            (Resource::RLIMIT_CORE, 0, 0),
            // A second between SIGXCPU and SIGKILL: the signal shows in the
            // trace, so the report can name the limit.
            (Resource::RLIMIT_CPU, cpu, cpu + 1),
            (Resource::RLIMIT_AS, self.address_space, self.address_space),
            (Resource::RLIMIT_FSIZE, self.file_size, self.file_size),
            (Resource::RLIMIT_NOFILE, self.open_files, self.open_files),
        ]
    }
}

/// `limits`, each lowered to what this process may pass on: its own hard
/// limit (set by `ulimit` or the system), which a child cannot raise.
pub(crate) fn clamped(limits: &[(Resource, u64, u64)]) -> Vec<(Resource, u64, u64)> {
    limits
        .iter()
        .map(|&(resource, soft, hard)| {
            let (_, own) = getrlimit(resource).unwrap_or((RLIM_INFINITY, RLIM_INFINITY));
            let hard = hard.min(own);
            (resource, soft.min(hard), hard)
        })
        .collect()
}

/// Sets the CPU limit of `resources` on the running process `pid` (under
/// strace, which must not carry it itself). Best effort: it may be gone.
pub(crate) fn set_cpu_limit(pid: i32, resources: &Resources) {
    for (resource, soft, hard) in clamped(&resources.rlimits()) {
        if resource == Resource::RLIMIT_CPU {
            let _ = crate::sys::rlimit::set_on(pid, resource, soft, hard);
        }
    }
}

/// `2 GiB`, `64 MiB`, `512 KiB`, `100 bytes`.
pub fn bytes(n: u64) -> String {
    for (unit, size) in [("GiB", GIB), ("MiB", MIB), ("KiB", 1024)] {
        if n >= size {
            let v = format!("{:.1}", n as f64 / size as f64);
            return format!("{} {unit}", v.strip_suffix(".0").unwrap_or(&v));
        }
    }
    format!("{n} bytes")
}

/// `60 s`, `500 ms`.
pub fn seconds(d: Duration) -> String {
    if d.subsec_millis() == 0 && d.as_secs() > 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// Reads `10s`, `500ms`, `2m` or a plain number of seconds.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60.0)
    } else {
        (text, 1.0)
    };
    let v: f64 = number.trim().parse().ok()?;
    Duration::try_from_secs_f64(v * scale).ok()
}

/// Reads `1G`, `512M`, `64K`, `64KiB` or a plain number of bytes.
pub fn parse_bytes(text: &str) -> Option<u64> {
    let text = text.trim();
    let text = text
        .strip_suffix("iB")
        .or_else(|| text.strip_suffix('B'))
        .unwrap_or(text);
    let (number, scale) = match text.char_indices().last() {
        Some((i, 'K' | 'k')) => (&text[..i], 1024),
        Some((i, 'M' | 'm')) => (&text[..i], MIB),
        Some((i, 'G' | 'g')) => (&text[..i], GIB),
        _ => (text, 1),
    };
    number.trim().parse::<u64>().ok()?.checked_mul(scale)
}

/// One `NAME=VALUE` limit, for the command line: `time` and `listen` are
/// the scenario's wall-time bounds, `grade` the whole grading's (its
/// watchdog's), the others [`Resources`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Limit {
    Time(Duration),
    Listen(Duration),
    Grade(Duration),
    Cpu(Duration),
    Memory(u64),
    Tasks(usize),
    FileSize(u64),
    OpenFiles(u64),
}

impl std::str::FromStr for Limit {
    type Err = LimitError;

    fn from_str(s: &str) -> Result<Limit, LimitError> {
        let (name, value) = s
            .split_once('=')
            .ok_or_else(|| LimitError::Syntax(s.to_string()))?;
        let bad = |what| LimitError::Value {
            name: name.to_string(),
            value: value.to_string(),
            what,
        };
        let duration = || parse_duration(value).ok_or_else(|| bad("a duration (10s, 500ms)"));
        let size = || parse_bytes(value).ok_or_else(|| bad("a size (1G, 512M, 64K)"));
        let count = || value.trim().parse::<u64>().map_err(|_| bad("a number"));
        Ok(match name.trim() {
            "time" => Limit::Time(duration()?),
            "listen" => Limit::Listen(duration()?),
            "grade" => Limit::Grade(duration()?),
            "cpu" => Limit::Cpu(duration()?),
            "memory" | "as" => Limit::Memory(size()?),
            "tasks" => Limit::Tasks(count()? as usize),
            "fsize" => Limit::FileSize(size()?),
            "nofile" => Limit::OpenFiles(count()?),
            other => return Err(LimitError::Unknown(other.to_string())),
        })
    }
}

/// Which limit the tracer itself enforced, when it had to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitHit {
    /// More threads and processes alive at once than [`Resources::tasks`].
    Tasks { limit: usize },
}

impl fmt::Display for LimitHit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LimitHit::Tasks { limit } => write!(
                f,
                "it had more than {limit} threads and processes at once (the tasks limit), so iolab killed all of them: a fork or thread bomb?"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse_with_units() {
        assert_eq!("cpu=10s".parse(), Ok(Limit::Cpu(Duration::from_secs(10))));
        assert_eq!(
            "time=500ms".parse(),
            Ok(Limit::Time(Duration::from_millis(500)))
        );
        assert_eq!("memory=1G".parse(), Ok(Limit::Memory(GIB)));
        assert_eq!("as=512MiB".parse(), Ok(Limit::Memory(512 * MIB)));
        assert_eq!("fsize=64K".parse(), Ok(Limit::FileSize(64 * 1024)));
        assert_eq!("tasks=32".parse(), Ok(Limit::Tasks(32)));
        assert_eq!("nofile=100".parse(), Ok(Limit::OpenFiles(100)));
        assert_eq!(
            "grade=10m".parse(),
            Ok(Limit::Grade(Duration::from_secs(600)))
        );
    }

    #[test]
    fn bad_limits_say_what_is_wrong() {
        let e = "stack=1M".parse::<Limit>().unwrap_err();
        assert!(e.to_string().contains("unknown limit \"stack\""), "{e}");
        let e = "cpu=fast".parse::<Limit>().unwrap_err();
        assert!(e.to_string().contains("a duration"), "{e}");
        let e = "cpu".parse::<Limit>().unwrap_err();
        assert!(e.to_string().contains("NAME=VALUE"), "{e}");
        assert!("memory=-1G".parse::<Limit>().is_err());
        assert!("memory=99999999999G".parse::<Limit>().is_err());
    }

    #[test]
    fn sizes_and_times_print_in_round_units() {
        assert_eq!(bytes(2 * GIB), "2 GiB");
        assert_eq!(bytes(64 * MIB), "64 MiB");
        assert_eq!(bytes(1536 * 1024), "1.5 MiB");
        assert_eq!(bytes(10), "10 bytes");
        assert_eq!(seconds(Duration::from_secs(60)), "60 s");
        assert_eq!(seconds(Duration::from_millis(1500)), "1500 ms");
    }
}
