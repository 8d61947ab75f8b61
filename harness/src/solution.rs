//! Which program grades as a lab's solution, and grading it as `make labN`
//! does.
//!
//! `iolab grade labN` (and so `make labN` and `make grade`) and, in a
//! student tree, `cargo test labN` (each lab's test, written by
//! `iolab starter` from `harness/starter/lab_test.rs`) take the program
//! from here, so that they always grade the same one: the lab's own binary
//! built from `server.rs`, or, when the lab's folder holds a file named
//! [`FILE`] (`labs/labN/solution`), the one command line it holds, run in
//! that folder: `./server` for a solution in C, `python3 server.py` for
//! one in Python. `iolab grade --solution CMD` wins over both.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::grade::{GradeError, Report};
use crate::tracer::{Backend, Spec};

/// The file in a lab's folder that names another program as its solution.
pub const FILE: &str = "solution";

/// A program to grade, and how a report names it.
#[derive(Clone, Debug)]
pub struct Solution {
    pub spec: Spec,
    pub shown: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SolutionError {
    #[error("{}: {source}", .path.display())]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{}: no command line in it: write one, such as `python3 server.py` (it runs in the lab's folder), or delete the file to grade server.rs",
        .0.display()
    )]
    NoCommand(PathBuf),
    #[error(
        "{}:{line}: a second command line: the file holds one (lines starting with # are comments)",
        .path.display()
    )]
    MoreThanOne { path: PathBuf, line: usize },
    #[error("cannot parse {what} {line:?}: unbalanced quotes")]
    Unbalanced { what: String, line: String },
    #[error("--solution is empty")]
    Empty,
    #[error(
        "the {lab} solution is not built ({} is missing); run `cargo build` or `make {lab}`",
        .path.display()
    )]
    NotBuilt { lab: String, path: PathBuf },
    #[error("no lab {0:?}")]
    NoLab(String),
    #[error("IOLAB_BACKEND: {0}")]
    Backend(String),
    #[error(transparent)]
    Grade(#[from] GradeError),
}

/// The folder of lab `id` in the tree this iolab was built from.
pub fn lab_dir(id: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("labs").join(id)
}

/// The solution `iolab grade --solution LINE` grades: `LINE` split as a
/// shell would (without running one), run in the current directory.
pub fn command(line: &str) -> Result<Solution, SolutionError> {
    let words = shlex::split(line).ok_or_else(|| SolutionError::Unbalanced {
        what: "--solution".into(),
        line: line.into(),
    })?;
    let Some((program, args)) = words.split_first() else {
        return Err(SolutionError::Empty);
    };
    Ok(Solution {
        spec: Spec::new(program, args),
        shown: line.to_string(),
    })
}

/// Lab `id`'s solution: the command line of `lab_dir/solution`, run in
/// `lab_dir`, when that file exists; else `binary`, the lab's own.
pub fn of_lab(id: &str, lab_dir: &Path, binary: &Path) -> Result<Solution, SolutionError> {
    let file = lab_dir.join(FILE);
    if file.exists() {
        let text = std::fs::read_to_string(&file).map_err(|source| SolutionError::Unreadable {
            path: file.clone(),
            source,
        })?;
        let line = command_line(&text, &file)?;
        let words = shlex::split(line).ok_or_else(|| SolutionError::Unbalanced {
            what: format!("the command of {}", file.display()),
            line: line.into(),
        })?;
        let (program, args) = words
            .split_first()
            .ok_or_else(|| SolutionError::NoCommand(file.clone()))?;
        // `./server` names a file of the lab's folder; `python3` is found
        // on PATH.
        let program = if program.contains('/') {
            lab_dir.join(program).into_os_string()
        } else {
            OsString::from(program)
        };
        return Ok(Solution {
            spec: Spec::new(program, args).with_cwd(lab_dir),
            shown: format!("{line} (the command in labs/{id}/{FILE}, run in labs/{id}/)"),
        });
    }
    if !binary.exists() {
        return Err(SolutionError::NotBuilt {
            lab: id.to_string(),
            path: binary.to_path_buf(),
        });
    }
    Ok(Solution {
        spec: Spec::new(binary, Vec::<OsString>::new()),
        shown: binary.display().to_string(),
    })
}

/// The one command line of a solution file: its only line that is
/// neither blank nor a `#` comment.
fn command_line<'a>(text: &'a str, path: &Path) -> Result<&'a str, SolutionError> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'));
    let (_, line) = lines
        .next()
        .ok_or_else(|| SolutionError::NoCommand(path.to_path_buf()))?;
    if let Some((n, _)) = lines.next() {
        return Err(SolutionError::MoreThanOne {
            path: path.to_path_buf(),
            line: n,
        });
    }
    Ok(line)
}

/// Where grading keeps traces when `IOLAB_TRACES` does not say:
/// `target/iolab`, beside `build`, the directory the binaries were built
/// into (`target/debug`).
pub fn traces_dir(build: &Path) -> PathBuf {
    build.parent().unwrap_or(build).join("iolab")
}

/// Grades lab `id` as `iolab grade labN` does with no options (what
/// `make labN` runs): the solution [`of_lab`], under the backend
/// `IOLAB_BACKEND` names, within the lab's limits, its traces kept under
/// `IOLAB_TRACES` or [`traces_dir`]. A student tree's test of each lab
/// calls it, and passes only on full marks.
pub fn grade_lab(id: &str, lab_dir: &Path, binary: &Path) -> Result<Report, SolutionError> {
    let lab = crate::labs::find(id).ok_or_else(|| SolutionError::NoLab(id.to_string()))?;
    let backend = Backend::from_env().map_err(SolutionError::Backend)?;
    let solution = of_lab(lab.id, lab_dir, binary)?;
    let spec = solution.spec.with_backend(backend);
    let mut report = crate::grade::grade(&lab, &spec, &solution.shown, &lab.limits)?;
    let traces = match std::env::var_os("IOLAB_TRACES") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => traces_dir(binary.parent().unwrap_or(Path::new("."))),
    };
    if let Err(e) = report.save_artifacts(&traces) {
        eprintln!("iolab: warning: the traces were not kept: {e}");
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_solution_file_holds_one_command_line_and_comments() {
        let p = Path::new("labs/lab3/solution");
        assert_eq!(
            command_line("# my C server\n\n  ./server --port 0  \n", p).unwrap(),
            "./server --port 0"
        );
        let e = command_line("# nothing\n\n", p).unwrap_err().to_string();
        assert!(e.contains("no command line"), "{e}");
        let e = command_line("./a\n# b\n./c\n", p).unwrap_err().to_string();
        assert!(e.starts_with("labs/lab3/solution:3: a second"), "{e}");
    }

    #[test]
    fn a_solution_file_wins_over_the_binary_and_runs_in_the_lab_folder() {
        let dir = tempfile::tempdir().unwrap();
        let binary = dir.path().join("lab3");
        let e = of_lab("lab3", dir.path(), &binary).unwrap_err().to_string();
        assert!(e.contains("not built"), "{e}");
        std::fs::write(&binary, "").unwrap();
        let s = of_lab("lab3", dir.path(), &binary).unwrap();
        assert_eq!(s.spec.program, binary.as_os_str());
        assert_eq!(s.spec.cwd, None);
        std::fs::write(dir.path().join(FILE), "./server 'a b'\n").unwrap();
        let s = of_lab("lab3", dir.path(), &binary).unwrap();
        assert_eq!(s.spec.program, dir.path().join("./server").as_os_str());
        assert_eq!(s.spec.args, ["a b"]);
        assert_eq!(s.spec.cwd.as_deref(), Some(dir.path()));
        assert!(
            s.shown
                .starts_with("./server 'a b' (the command in labs/lab3/solution")
        );
        std::fs::write(dir.path().join(FILE), "python3 server.py\n").unwrap();
        let s = of_lab("lab3", dir.path(), &binary).unwrap();
        assert_eq!(s.spec.program, "python3");
        std::fs::write(dir.path().join(FILE), "python3 'server.py\n").unwrap();
        let e = of_lab("lab3", dir.path(), &binary).unwrap_err().to_string();
        assert!(e.contains("unbalanced quotes"), "{e}");
    }
}
