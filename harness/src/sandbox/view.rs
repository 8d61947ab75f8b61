//! What a sandboxed program sees of the files: planned in the harness,
//! before the fork, as a list of mounts its child makes ([`Plan`]).
//!
//! Everything is read-only (the child makes every mount so first). On top
//! of that, the places where what a program should not read lives are
//! covered with an empty file system, and only what the run needs is bound
//! back, read-only:
//! - `/tmp`: a private, writable tmpfs; the directories the command line
//!   names (the program, its script, its working directory) bound back;
//! - each home directory (`/root`, `/home/*`): its plain entries (projects,
//!   other people's work) covered, its dot entries (toolchains: `.pyenv`,
//!   `.cargo`, `.rustup`, `.local`, ...) left, but for the ones that hold
//!   secrets ([`SECRETS`]), always covered;
//! - the tree iolab was built from: its directories (the references in
//!   `labs/`, the hidden checks in `harness/`, `fixtures/`, `snapshots/`,
//!   `target/`) covered; its top-level files (`Cargo.toml`, the Makefile)
//!   left, so that cargo still finds the workspace;
//! - the host's secret files ([`SECRET_FILES`]: shadow passwords, ssh host
//!   keys) covered with `/dev/null`.
//!
//! What is bound back under a cover: the directories the command line
//! names (a path argument, or a path word inside a `sh -c` string), the
//! toolchains the environment names (each `PATH` entry and
//! `PYENV_ROOT`-like variable), and the working directory, unless it *is*
//! one of the covered places (`cargo test` and `make lab1` run in the tree's
//! root: that shows the root, not what is under it).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Dot entries of a home directory that hold keys, tokens and histories.
pub(crate) const SECRETS: &[&str] = &[
    ".ssh",
    ".gnupg",
    ".aws",
    ".azure",
    ".config",
    ".docker",
    ".kube",
    ".netrc",
    ".git-credentials",
    ".pgpass",
    ".password-store",
    ".bash_history",
    ".zsh_history",
    ".python_history",
    ".node_repl_history",
    ".psql_history",
    ".mysql_history",
    ".lesshst",
    ".viminfo",
];

/// The host's files no lab reads and no program should.
pub(crate) const SECRET_FILES: &[&str] = &[
    "/etc/shadow",
    "/etc/shadow-",
    "/etc/gshadow",
    "/etc/gshadow-",
    "/etc/security/opasswd",
];

/// Environment variables that name a toolchain's directory.
const TOOLCHAIN_VARS: &[&str] = &[
    "PYENV_ROOT",
    "CARGO_HOME",
    "RUSTUP_HOME",
    "GOPATH",
    "GOROOT",
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
    "JAVA_HOME",
    "NVM_DIR",
];

/// One mount of the child's view, on paths.
pub(crate) type Step = crate::sys::sandbox::Step<PathBuf>;

/// The mounts of one run's view, in order, and the directories they bind.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    pub(crate) sources: Vec<PathBuf>,
    pub(crate) steps: Vec<Step>,
}

/// The places a plan covers, for the harness and for tests.
#[derive(Debug, Clone)]
pub(crate) struct Places {
    pub(crate) tmp: PathBuf,
    pub(crate) homes: Vec<PathBuf>,
    pub(crate) tree: Option<PathBuf>,
    pub(crate) secret_files: Vec<PathBuf>,
}

impl Places {
    /// This machine's: `/tmp`, `/root` and `/home/*`, the tree iolab was
    /// built from, the secret files.
    pub(crate) fn here() -> Places {
        let mut homes = vec![PathBuf::from("/root")];
        if let Ok(entries) = std::fs::read_dir("/home") {
            let mut more: Vec<PathBuf> = entries
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.path())
                .collect();
            more.sort();
            homes.extend(more);
        }
        Places {
            tmp: PathBuf::from("/tmp"),
            homes,
            tree: Path::new(env!("CARGO_MANIFEST_DIR")).canonicalize().ok(),
            secret_files: SECRET_FILES.iter().map(PathBuf::from).collect(),
        }
    }
}

/// The directories to keep visible for a command line `argv` run in
/// `cwd` (canonical): each argument that names an existing path (or, in a
/// string of words such as `sh -c`'s, each word that does), its directory;
/// and each toolchain directory the environment `env` names.
pub(crate) fn kept_dirs<'a>(
    cwd: &Path,
    argv: &[&OsStr],
    env: impl IntoIterator<Item = (&'a OsStr, &'a OsStr)>,
) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    let mut add = |path: &Path, dir_only: bool| {
        let path = if path.is_absolute() {
            path.to_path_buf()
        } else {
            cwd.join(path)
        };
        if let Ok(real) = path.canonicalize() {
            let dir = if real.is_dir() {
                real
            } else if dir_only {
                return;
            } else {
                real.parent().map(Path::to_path_buf).unwrap_or(real)
            };
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
    };
    for arg in argv {
        let bytes = arg.as_bytes();
        if bytes.is_empty() || bytes.starts_with(b"-") && !bytes.contains(&b'=') {
            continue;
        }
        add(Path::new(arg), false);
        // Words of a shell command, and `--opt=PATH` values.
        if bytes.iter().any(|b| b" \t\n;&|'\"=()".contains(b)) {
            for word in bytes
                .split(|b| b" \t\n;&|'\"=()<>`".contains(b))
                .filter(|w| !w.is_empty() && !w.starts_with(b"-"))
            {
                add(Path::new(OsStr::from_bytes(word)), false);
            }
        }
    }
    for (name, value) in env {
        let Some(name) = name.to_str() else { continue };
        if name == "PATH" {
            for entry in value.as_bytes().split(|b| *b == b':') {
                let entry = Path::new(OsStr::from_bytes(entry));
                if entry.is_absolute() {
                    add(entry, true);
                }
            }
        } else if TOOLCHAIN_VARS.contains(&name) && Path::new(value).is_absolute() {
            add(Path::new(value), true);
        }
    }
    dirs
}

/// The outermost of `dirs` that lie strictly inside `under`.
fn outermost_inside(dirs: &[&Path], under: &Path) -> Vec<PathBuf> {
    let mut inside: Vec<PathBuf> = dirs
        .iter()
        .filter(|d| d.starts_with(under) && **d != under)
        .map(|d| d.to_path_buf())
        .collect();
    inside.sort();
    let mut out: Vec<PathBuf> = Vec::new();
    for d in inside {
        if !out.iter().any(|o| d.starts_with(o)) {
            out.push(d);
        }
    }
    out
}

impl Plan {
    /// Plans the view of a program run in `cwd` (canonical) that needs
    /// `kept` (canonical directories, as [`kept_dirs`] finds them).
    pub(crate) fn new(cwd: &Path, kept: &[PathBuf], places: &Places) -> Plan {
        let mut plan = Plan::default();
        let strong: Vec<&Path> = kept.iter().map(PathBuf::as_path).collect();
        // /tmp: private and writable; the working directory in it shows
        // whole (a submission unpacked there).
        let mut in_tmp = strong.clone();
        in_tmp.push(cwd);
        plan.steps.push(Step::Cover {
            dir: places.tmp.clone(),
            writable: true,
        });
        for dir in outermost_inside(&in_tmp, &places.tmp) {
            plan.bind(&dir, &places.tmp);
        }
        for home in &places.homes {
            plan.cover_entries(home, &strong, cwd, |name, _| {
                name.as_bytes().starts_with(b".")
            });
        }
        if let Some(tree) = &places.tree {
            // Top-level files stay: cargo reads the workspace's manifest.
            plan.cover_entries(tree, &strong, cwd, |_, is_dir| !is_dir);
        }
        for file in &places.secret_files {
            if std::fs::symlink_metadata(file).is_ok_and(|m| m.is_file()) && plan.shows(file) {
                plan.steps.push(Step::Blank { file: file.clone() });
            }
        }
        plan
    }

    /// Binds `dir` back on the cover at `under` (an ancestor), making the
    /// directories on the way.
    fn bind(&mut self, dir: &Path, under: &Path) {
        let mut on_the_way: Vec<&Path> = dir
            .ancestors()
            .skip(1)
            .take_while(|a| *a != under && a.starts_with(under))
            .collect();
        on_the_way.reverse();
        for a in on_the_way {
            self.steps.push(Step::Dir(a.to_path_buf()));
        }
        self.steps.push(Step::Dir(dir.to_path_buf()));
        self.sources.push(dir.to_path_buf());
        self.steps.push(Step::Bind {
            source: self.sources.len() - 1,
            target: dir.to_path_buf(),
        });
    }

    /// Whether `path` shows in the view planned so far: not under a cover,
    /// or under something bound back on it.
    pub(crate) fn shows(&self, path: &Path) -> bool {
        let mut deepest: Option<(usize, bool)> = None;
        for step in &self.steps {
            let (target, shows) = match step {
                Step::Cover { dir, .. } => (dir, false),
                Step::Blank { file } => (file, false),
                Step::Bind { target, .. } => (target, true),
                Step::Dir(_) | Step::Seal { .. } => continue,
            };
            if path.starts_with(target) {
                let depth = target.components().count();
                if deepest.is_none_or(|(d, _)| depth >= d) {
                    deepest = Some((depth, shows));
                }
            }
        }
        deepest.is_none_or(|(_, shows)| shows)
    }

    /// Covers the entries of `area` the run does not need: every entry not
    /// `left` (by name and kind) and holding none of `strong`, and the [`SECRETS`]
    /// always; an entry that holds a kept directory (or the working
    /// directory `cwd`, strictly inside it) is covered with those bound
    /// back on it.
    fn cover_entries(
        &mut self,
        area: &Path,
        strong: &[&Path],
        cwd: &Path,
        left: impl Fn(&OsStr, bool) -> bool,
    ) {
        if !area.is_dir() || !self.shows(area) {
            return;
        }
        let Ok(entries) = std::fs::read_dir(area) else {
            return;
        };
        let mut entries: Vec<(PathBuf, bool)> = entries
            .flatten()
            .filter_map(|e| {
                let kind = e.file_type().ok()?;
                // Symbolic links point elsewhere (covered there or not);
                // sockets and devices hold no text.
                (kind.is_dir() || kind.is_file()).then(|| (e.path(), kind.is_dir()))
            })
            .collect();
        entries.sort();
        let mut inside = strong.to_vec();
        inside.push(cwd);
        for (entry, is_dir) in entries {
            let name = entry.file_name().unwrap_or_default();
            let secret = SECRETS.iter().any(|s| OsStr::new(s) == name);
            if !secret && (left(name, is_dir) || strong.iter().any(|k| entry.starts_with(k))) {
                continue;
            }
            if !is_dir {
                self.steps.push(Step::Blank { file: entry });
                continue;
            }
            self.steps.push(Step::Cover {
                dir: entry.clone(),
                writable: false,
            });
            if !secret {
                for dir in outermost_inside(&inside, &entry) {
                    self.bind(&dir, &entry);
                }
            }
            self.steps.push(Step::Seal { dir: entry });
        }
    }

    /// Whether a mount of this plan lies strictly below `dir` (an overlay
    /// on `dir` would show what it hides).
    pub(crate) fn mounts_below(&self, dir: &Path) -> bool {
        self.steps.iter().any(|s| match s {
            Step::Cover { dir: t, .. } | Step::Blank { file: t } | Step::Bind { target: t, .. } => {
                t != dir && t.starts_with(dir)
            }
            Step::Dir(_) | Step::Seal { .. } => false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake machine in a temporary directory: a /tmp, a home, a tree.
    struct Machine {
        _dir: tempfile::TempDir,
        places: Places,
    }

    fn machine() -> Machine {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let root = dir.path().canonicalize().unwrap();
        for d in [
            "tmp/sub/x",
            "home/.pyenv/shims",
            "home/.ssh",
            "home/project",
            "home/bin",
            "tree/labs/lab1",
            "tree/labs/lab2",
            "tree/harness/src",
            "tree/target/debug",
        ] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        for f in [
            "home/.netrc",
            "home/notes.txt",
            "tree/Cargo.toml",
            "tree/labs/lab1/server.rs",
            "shadow",
        ] {
            std::fs::write(root.join(f), "secret").unwrap();
        }
        let places = Places {
            tmp: root.join("tmp"),
            homes: vec![root.join("home")],
            tree: Some(root.join("tree")),
            secret_files: vec![root.join("shadow"), root.join("absent")],
        };
        Machine { _dir: dir, places }
    }

    fn covered(plan: &Plan) -> Vec<String> {
        plan.steps
            .iter()
            .filter_map(|s| match s {
                Step::Cover { dir, .. } => Some(dir.clone()),
                Step::Blank { file } => Some(file.clone()),
                _ => None,
            })
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn the_tree_run_from_its_root_shows_only_what_the_command_names() {
        let m = machine();
        let tree = m.places.tree.clone().unwrap();
        let binary = tree.join("target/debug");
        let plan = Plan::new(&tree, std::slice::from_ref(&binary), &m.places);
        assert!(plan.shows(&tree.join("Cargo.toml")));
        assert!(plan.shows(&binary), "{plan:?}");
        for hidden in ["labs/lab1/server.rs", "harness/src", "target"] {
            assert!(!plan.shows(&tree.join(hidden)), "{hidden}: {plan:?}");
        }
        assert!(!plan.mounts_below(&binary));
        assert!(plan.mounts_below(&tree), "no overlay over the tree's root");
    }

    #[test]
    fn a_lab_folder_as_working_directory_shows_whole_and_its_neighbours_do_not() {
        let m = machine();
        let tree = m.places.tree.clone().unwrap();
        let lab = tree.join("labs/lab1");
        let plan = Plan::new(&lab, &[], &m.places);
        assert!(plan.shows(&lab.join("server.rs")));
        assert!(!plan.shows(&tree.join("labs/lab2")));
        assert!(
            !plan.mounts_below(&lab),
            "the lab folder can take an overlay"
        );
    }

    #[test]
    fn a_home_shows_its_toolchains_but_not_its_secrets_or_projects() {
        let m = machine();
        let home = m.places.homes[0].clone();
        let shims = home.join(".pyenv/shims");
        let bin = home.join("bin");
        let cwd = m.places.tmp.join("sub");
        let plan = Plan::new(&cwd, &[shims.clone(), bin.clone()], &m.places);
        assert!(plan.shows(&shims));
        assert!(plan.shows(&bin), "a PATH entry shows");
        for hidden in [".ssh", ".netrc", "project", "notes.txt"] {
            assert!(!plan.shows(&home.join(hidden)), "{hidden}: {plan:?}");
        }
        assert!(
            plan.shows(&cwd.join("x")),
            "the working directory in /tmp shows whole"
        );
        assert!(!plan.shows(&m.places.tmp.join("other")));
        assert_eq!(covered(&plan).iter().filter(|c| *c == "shadow").count(), 1);
    }

    #[test]
    fn a_kept_directory_inside_a_secret_does_not_show_it() {
        let m = machine();
        let home = m.places.homes[0].clone();
        let plan = Plan::new(&m.places.tmp, &[home.join(".ssh")], &m.places);
        assert!(!plan.shows(&home.join(".ssh")));
    }

    #[test]
    fn the_words_of_a_shell_command_name_directories_to_keep() {
        let m = machine();
        let tree = m.places.tree.clone().unwrap();
        let binary = tree.join("target/debug/server");
        std::fs::write(&binary, "").unwrap();
        let command = format!("cd labs/lab1 && exec {}", binary.display());
        let kept = kept_dirs(
            &tree,
            &[
                OsStr::new("/bin/sh"),
                OsStr::new("-c"),
                OsStr::new(&command),
            ],
            [(OsStr::new("PATH"), OsStr::new("/nonexistent:relative"))],
        );
        assert!(kept.contains(&tree.join("labs/lab1")), "{kept:?}");
        assert!(kept.contains(&tree.join("target/debug")), "{kept:?}");
        assert!(!kept.contains(&tree), "{kept:?}");
    }
}
