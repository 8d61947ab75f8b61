//! Starter trees: the project as students get it, with the lab solutions
//! cut out.
//!
//! Each lab's reference solution (`labs/labN/server.rs`) marks what a
//! student writes. A region
//!
//! ```text
//! // SOLUTION BEGIN: <what to build, in a sentence>
//! ...reference code...
//! // SOLUTION END
//! ```
//!
//! inside a function body becomes `todo!("<what to build> ...")`, so the
//! starter compiles and its server stops before it listens, which grading
//! reports as "not implemented yet". A region marked
//! `// SOLUTION HELPERS BEGIN` ... `// SOLUTION HELPERS END` (whole
//! functions) is dropped for a comment. Everything else is copied as it is
//! (the harness, the handouts, the snapshots, the Makefile), except build
//! output and version control.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Opens a region replaced by `todo!()`; the rest of the line says what to build.
pub const BEGIN: &str = "// SOLUTION BEGIN:";
pub const END: &str = "// SOLUTION END";
/// Opens a region of whole items, dropped from the starter.
pub const HELPERS_BEGIN: &str = "// SOLUTION HELPERS BEGIN";
pub const HELPERS_END: &str = "// SOLUTION HELPERS END";

/// Directories never copied, at any depth: build output (the fuzz crate
/// has its own `target`), version control, Python's byte-code caches.
const SKIPPED: &[&str] = &["target", ".git", "__pycache__"];

#[derive(Debug, thiserror::Error)]
pub enum StarterError {
    #[error("{path}:{line}: {what}")]
    Markers {
        path: PathBuf,
        line: usize,
        what: String,
    },
    #[error("{0} has no solution region (no `{BEGIN}` line)")]
    NoRegion(PathBuf),
    #[error("{} is not the iolab tree (no labs/ or Cargo.toml there)", .0.display())]
    NotATree(PathBuf),
    #[error("{} already exists and is not empty", .0.display())]
    DestinationInUse(PathBuf),
    #[error("{} is inside {}: choose a directory elsewhere", .dest.display(), .from.display())]
    Inside { dest: PathBuf, from: PathBuf },
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StarterError + '_ {
    move |source| StarterError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What a starter tree got.
#[derive(Debug, Default)]
pub struct Summary {
    pub files: usize,
    pub regions: usize,
    /// The labs whose solutions were cut out.
    pub labs: Vec<String>,
}

/// `source` with its solution regions cut out; `path` names it in errors.
/// Returns the new text and how many regions it had.
pub fn strip(source: &str, path: &Path) -> Result<(String, usize), StarterError> {
    let err = |line: usize, what: &str| StarterError::Markers {
        path: path.to_path_buf(),
        line,
        what: what.to_string(),
    };
    let mut out = String::with_capacity(source.len());
    // The open region: (its line, its indent, the instruction or None for helpers).
    let mut open: Option<(usize, String, Option<String>)> = None;
    let mut regions = 0;
    for (i, line) in source.lines().enumerate() {
        let n = i + 1;
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        if let Some(rest) = trimmed.strip_prefix(BEGIN) {
            if open.is_some() {
                return Err(err(n, "a solution region opens inside another"));
            }
            let what = rest.trim();
            if what.is_empty() {
                return Err(err(n, "say what to build after `SOLUTION BEGIN:`"));
            }
            open = Some((n, indent.to_string(), Some(what.to_string())));
        } else if trimmed.starts_with(HELPERS_BEGIN) {
            if open.is_some() {
                return Err(err(n, "a solution region opens inside another"));
            }
            open = Some((n, indent.to_string(), None));
        } else if trimmed.starts_with(HELPERS_END) || trimmed.starts_with(END) {
            let helpers = trimmed.starts_with(HELPERS_END);
            match open.take() {
                Some((_, indent, Some(what))) if !helpers => {
                    let _ = writeln!(
                        out,
                        "{indent}todo!(\"{{}}\", {:?})",
                        format!("{what} (see the handout, README.md in this lab's folder)")
                    );
                }
                Some((_, indent, None)) if helpers => {
                    let _ = writeln!(out, "{indent}// Your helper functions go here.");
                }
                Some((start, ..)) => {
                    return Err(err(
                        n,
                        &format!("this end does not match the region opened on line {start}"),
                    ));
                }
                None => return Err(err(n, "a solution region ends that never began")),
            }
            regions += 1;
        } else if open.is_none() {
            out.push_str(line);
            out.push('\n');
        }
    }
    if let Some((start, ..)) = open {
        return Err(err(start, "this solution region never ends"));
    }
    Ok((out, regions))
}

/// Writes the starter tree of the iolab tree `from` into `dest`.
pub fn write_tree(from: &Path, dest: &Path) -> Result<Summary, StarterError> {
    if !from.join("labs").is_dir() || !from.join("Cargo.toml").is_file() {
        return Err(StarterError::NotATree(from.to_path_buf()));
    }
    let from = from.canonicalize().map_err(io(from))?;
    if dest.exists() {
        let mut entries = std::fs::read_dir(dest).map_err(io(dest))?;
        if entries.next().is_some() {
            return Err(StarterError::DestinationInUse(dest.to_path_buf()));
        }
    }
    std::fs::create_dir_all(dest).map_err(io(dest))?;
    let dest = dest.canonicalize().map_err(io(dest))?;
    if dest.starts_with(&from) && !SKIPPED.iter().any(|s| dest.starts_with(from.join(s))) {
        return Err(StarterError::Inside { dest, from });
    }
    let mut summary = Summary::default();
    copy(&from, &from, &dest, &mut summary)?;
    summary.labs.sort();
    Ok(summary)
}

fn copy(root: &Path, dir: &Path, dest: &Path, summary: &mut Summary) -> Result<(), StarterError> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .collect::<Result<_, _>>()
        .map_err(io(dir))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let rel = path.strip_prefix(root).unwrap_or(&path);
        let name = entry.file_name();
        let to = dest.join(rel);
        let kind = entry.file_type().map_err(io(&path))?;
        if kind.is_dir() {
            if SKIPPED.iter().any(|s| name == *s) {
                continue;
            }
            std::fs::create_dir_all(&to).map_err(io(&to))?;
            copy(root, &path, dest, summary)?;
        } else if kind.is_file() {
            let solution = rel.starts_with("labs") && name == "server.rs";
            if solution {
                let text = std::fs::read_to_string(&path).map_err(io(&path))?;
                let (text, regions) = strip(&text, rel)?;
                if regions == 0 {
                    return Err(StarterError::NoRegion(rel.to_path_buf()));
                }
                std::fs::write(&to, text).map_err(io(&to))?;
                summary.regions += regions;
                if let Some(lab) = rel.parent().and_then(Path::file_name) {
                    summary.labs.push(lab.to_string_lossy().into_owned());
                }
            } else {
                std::fs::copy(&path, &to).map_err(io(&path))?;
            }
            summary.files += 1;
        }
        // Symlinks and the like: the tree has none, and a student tree needs none.
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strip_ok(text: &str) -> (String, usize) {
        strip(text, Path::new("x.rs")).expect("strips")
    }

    #[test]
    fn a_region_becomes_todo_with_its_instruction() {
        let (out, n) = strip_ok(
            "fn serve() -> u8 {\n    // SOLUTION BEGIN: accept and echo\n    let x = 1;\n    x\n    // SOLUTION END\n}\n",
        );
        assert_eq!(n, 1);
        assert_eq!(
            out,
            "fn serve() -> u8 {\n    todo!(\"{}\", \"accept and echo (see the handout, README.md in this lab's folder)\")\n}\n"
        );
    }

    #[test]
    fn helpers_are_dropped() {
        let (out, n) =
            strip_ok("a\n// SOLUTION HELPERS BEGIN\nfn f() {}\n// SOLUTION HELPERS END\nb\n");
        assert_eq!(n, 1);
        assert_eq!(out, "a\n// Your helper functions go here.\nb\n");
    }

    #[test]
    fn bad_markers_are_errors_with_the_line() {
        for (text, line, what) in [
            ("// SOLUTION BEGIN: x\n", 1, "never ends"),
            ("// SOLUTION END\n", 1, "never began"),
            (
                "// SOLUTION BEGIN: x\n// SOLUTION BEGIN: y\n",
                2,
                "inside another",
            ),
            (
                "// SOLUTION BEGIN:\n// SOLUTION END\n",
                1,
                "say what to build",
            ),
            (
                "// SOLUTION BEGIN: x\n// SOLUTION HELPERS END\n",
                2,
                "does not match",
            ),
        ] {
            let e = strip(text, Path::new("x.rs")).expect_err(text).to_string();
            assert!(e.starts_with(&format!("x.rs:{line}: ")), "{e}");
            assert!(e.contains(what), "{e}");
        }
    }

    #[test]
    fn every_lab_marks_its_solution() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for lab in crate::labs::all() {
            let rel = PathBuf::from(format!("labs/{}/server.rs", lab.id));
            let text = std::fs::read_to_string(root.join(&rel)).expect("readable");
            let (out, n) = strip(&text, &rel).expect("well-formed markers");
            assert!(n >= 1, "{} marks no region", lab.id);
            assert!(out.contains("todo!("), "{}", lab.id);
        }
    }
}
