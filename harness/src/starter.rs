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
//! functions) is dropped for a comment. The files that are solutions in
//! disguise (each lab's variants, the Python lab solutions) are left out,
//! with their targets in the root's and the labs' `Cargo.toml` and the tests
//! that run them.
//!
//! A starter tree carries the student docs only. The docs for instructors
//! and harness developers ([`NOT_FOR_STUDENTS`]: `docs/instructors/`,
//! `docs/harness/`, `BENCHMARKS.md`) are left out, and in every Markdown
//! file copied, a region between a line starting [`DOCS_BEGIN`] and a line
//! [`DOCS_END`]
//!
//! ```text
//! <!-- NOT IN STARTER BEGIN: why it is not for students -->
//! ...
//! <!-- NOT IN STARTER END -->
//! ```
//!
//! is dropped with its markers (inside a fenced code block they are text).
//! The top-level README keeps every link to the docs left out in one such
//! region, so the README a student gets links only to files they have;
//! nothing is generated. Should a link still point at a file the new tree
//! does not hold (say, a student doc linking to an instructor doc), writing
//! the tree fails with the file and line ([`dangling_links`]), rather than
//! leaving the student a broken link.
//!
//! Each lab's test (`[[test]] name = "labN"`, which grades the reference
//! and the variants) is replaced by the student's: [`LAB_TEST`] with
//! [`LAB_TEST_PLACEHOLDER`] replaced by the lab's id, a test
//! `labN_full_marks` that grades the student's solution as `make labN`
//! does (`crate::solution::grade_lab`) and fails with the report until it
//! has full marks. So in a student tree `cargo test` grades every lab,
//! and `cargo test lab3` lab 3 alone.
//!
//! Everything else is copied as it is (the harness, the handouts, the
//! snapshots, the Makefile), except build output and version control.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Opens a region replaced by `todo!()`; the rest of the line says what to build.
pub const BEGIN: &str = "// SOLUTION BEGIN:";
pub const END: &str = "// SOLUTION END";
/// Opens a region of whole items, dropped from the starter.
pub const HELPERS_BEGIN: &str = "// SOLUTION HELPERS BEGIN";
pub const HELPERS_END: &str = "// SOLUTION HELPERS END";

/// The docs a starter tree leaves out, relative to the tree: they are for
/// instructors and harness developers.
pub const NOT_FOR_STUDENTS: &[&str] = &["docs/instructors", "docs/harness", "BENCHMARKS.md"];
/// Opens a region of a Markdown file that a starter tree drops; the rest of
/// the line says why, and closes the comment.
pub const DOCS_BEGIN: &str = "<!-- NOT IN STARTER BEGIN";
/// Closes such a region.
pub const DOCS_END: &str = "<!-- NOT IN STARTER END -->";

/// The source of a student tree's test of each lab, relative to the tree.
pub const LAB_TEST: &str = "harness/starter/lab_test.rs";
/// What [`LAB_TEST`] says where a lab's id goes (`labN_full_marks`,
/// `CARGO_BIN_EXE_labN`).
pub const LAB_TEST_PLACEHOLDER: &str = "labN";

/// Names never copied, at any depth: build output (the fuzz crate has its
/// own `target`), version control (a directory, or in a git worktree a
/// file), Python's byte-code caches.
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
    #[error("{}: the student test's template does not say `{LAB_TEST_PLACEHOLDER}` where the lab's id goes", .0.display())]
    NoPlaceholder(PathBuf),
    #[error("{} is not the iolab tree (no labs/ or Cargo.toml there)", .0.display())]
    NotATree(PathBuf),
    #[error("{} already exists and is not empty", .0.display())]
    DestinationInUse(PathBuf),
    #[error("{} is inside {}: choose a directory elsewhere", .dest.display(), .from.display())]
    Inside { dest: PathBuf, from: PathBuf },
    #[error(
        "a relative link points at no file of the starter tree: {} (a link to a doc left out of starters belongs between `{DOCS_BEGIN}: why -->` and `{DOCS_END}`)",
        links_list(.0)
    )]
    DanglingLinks(Vec<DanglingLink>),
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
    /// Files left out whole: fixtures that are (or are one flag away from)
    /// a lab's solution, and the tests that run them.
    pub left_out: Vec<PathBuf>,
    /// The docs left out ([`NOT_FOR_STUDENTS`]) that the tree had.
    pub docs_left_out: Vec<PathBuf>,
    /// Each lab's test, written from [`LAB_TEST`], relative to the tree.
    pub lab_tests: Vec<PathBuf>,
}

/// A relative Markdown link to a file that does not exist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DanglingLink {
    /// The Markdown file, relative to the tree.
    pub file: PathBuf,
    pub line: usize,
    /// The link's target as written.
    pub target: String,
}

impl std::fmt::Display for DanglingLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.target)
    }
}

fn links_list(links: &[DanglingLink]) -> String {
    links
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether a file or directory of the instructor's tree is a doc a starter
/// tree leaves out ([`NOT_FOR_STUDENTS`]).
pub fn is_not_for_students(rel: &Path) -> bool {
    NOT_FOR_STUDENTS.iter().any(|d| rel.starts_with(d))
}

/// Whether a file of the instructor's tree is a solution in disguise: a
/// lab's alternative and known-wrong solutions (`labs/labN/variants.rs` or
/// `labs/labN/variants/`, each a working solution with one thing changed)
/// and the Python and C lab solutions; and a lab's `solution` file
/// ([`crate::solution::FILE`]), which names the program to grade instead
/// of `server.rs`: a student tree grades the student's own.
/// `fixtures/shared.rs` (lab 1's accept loop, which the broken and hostile
/// programs share) stays.
pub fn is_solution_fixture(rel: &Path) -> bool {
    let mut parts = rel.components().map(|c| c.as_os_str().to_string_lossy());
    match (
        parts.next().as_deref(),
        parts.next().as_deref(),
        parts.next(),
    ) {
        (Some("labs"), Some(dir), Some(file)) if is_lab_dir(dir) => {
            file == "variants.rs" || file == "variants" || file == crate::solution::FILE
        }
        (Some("fixtures"), Some("python" | "c"), Some(file)) => file.starts_with("lab"),
        _ => false,
    }
}

fn is_lab_dir(name: &str) -> bool {
    name.strip_prefix("lab")
        .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
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

/// The Markdown `source` without its regions marked [`DOCS_BEGIN`] ...
/// [`DOCS_END`], markers included; `path` names it in errors. Markers
/// inside a fenced code block are text. A file without such a region comes
/// back byte for byte.
pub fn strip_docs(source: &str, path: &Path) -> Result<String, StarterError> {
    let err = |line: usize, what: &str| StarterError::Markers {
        path: path.to_path_buf(),
        line,
        what: what.to_string(),
    };
    let mut out = String::with_capacity(source.len());
    let mut open: Option<usize> = None;
    let mut regions = 0;
    let mut fenced = false;
    for (i, line) in source.lines().enumerate() {
        let n = i + 1;
        let trimmed = line.trim_start();
        if !fenced && trimmed.starts_with(DOCS_BEGIN) {
            if open.is_some() {
                return Err(err(n, "a region left out of starters opens inside another"));
            }
            open = Some(n);
            regions += 1;
            continue;
        }
        if !fenced && trimmed.starts_with(DOCS_END) {
            if open.take().is_none() {
                return Err(err(
                    n,
                    "a region left out of starters ends that never began",
                ));
            }
            continue;
        }
        if trimmed.starts_with("```") {
            fenced = !fenced;
        }
        if open.is_none() {
            out.push_str(line);
            out.push('\n');
        }
    }
    if let Some(start) = open {
        return Err(err(start, "this region left out of starters never ends"));
    }
    if regions == 0 {
        return Ok(source.to_string());
    }
    Ok(out)
}

/// The targets of the relative links in Markdown `text`, with their line
/// numbers: inline links and images (`[text](target)`, `![alt](target)`)
/// and reference definitions (`[label]: target`), outside code blocks and
/// code spans, without their `#fragment`. Links with a scheme (`https:`,
/// `mailto:`) and links within the page (`#...`) are not relative.
pub fn relative_links(text: &str) -> Vec<(usize, String)> {
    let mut links = Vec::new();
    let mut fenced = false;
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        // Outside code spans: the even pieces between backticks.
        let prose: String = line.split('`').step_by(2).collect::<Vec<_>>().join(" ");
        let mut targets: Vec<&str> = prose
            .match_indices("](")
            .map(|(at, _)| {
                let rest = &prose[at + 2..];
                let end = rest.find([')', ' ', '\t']).unwrap_or(rest.len());
                rest[..end].trim_matches(['<', '>'])
            })
            .collect();
        let trimmed = prose.trim_start();
        if trimmed.starts_with('[')
            && let Some((label, rest)) = trimmed.split_once("]:")
            && !label.contains(']')
        {
            targets.extend(rest.split_whitespace().next());
        }
        for target in targets {
            let target = target.split('#').next().unwrap_or_default();
            let scheme = target
                .split_once(':')
                .is_some_and(|(s, _)| !s.is_empty() && !s.contains('/'));
            if !target.is_empty() && !scheme {
                links.push((i + 1, target.to_string()));
            }
        }
    }
    links
}

/// Every relative link, in the Markdown files of the tree at `root` (build
/// output and version control aside), that points at no file or directory
/// of the tree: a path that does not exist, or that leaves the tree.
pub fn dangling_links(root: &Path) -> Result<Vec<DanglingLink>, StarterError> {
    let mut files = Vec::new();
    markdown_files(root, root, &mut files)?;
    let mut dangling = Vec::new();
    for rel in files {
        let path = root.join(&rel);
        let text = std::fs::read_to_string(&path).map_err(io(&path))?;
        let dir = rel.parent().unwrap_or(Path::new(""));
        for (line, target) in relative_links(&text) {
            let joined = match target.strip_prefix('/') {
                Some(from_root) => PathBuf::from(from_root),
                None => dir.join(&target),
            };
            // Resolved by hand: `..` must not climb out of the tree.
            let mut resolved = PathBuf::new();
            let mut inside = true;
            for part in joined.components() {
                match part {
                    std::path::Component::ParentDir => inside &= resolved.pop(),
                    std::path::Component::Normal(p) => resolved.push(p),
                    _ => {}
                }
            }
            if !inside || !root.join(&resolved).exists() {
                dangling.push(DanglingLink {
                    file: rel.clone(),
                    line,
                    target,
                });
            }
        }
    }
    Ok(dangling)
}

/// The `.md` files under `dir`, relative to `root`, in name order.
fn markdown_files(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), StarterError> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .collect::<Result<_, _>>()
        .map_err(io(dir))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let kind = entry.file_type().map_err(io(&path))?;
        if kind.is_dir() && !SKIPPED.iter().any(|s| entry.file_name() == *s) {
            markdown_files(root, &path, out)?;
        } else if kind.is_file() && path.extension().is_some_and(|e| e == "md") {
            out.push(path.strip_prefix(root).unwrap_or(&path).to_path_buf());
        }
    }
    Ok(())
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
    // Where it will be, checked before anything is created.
    let target = resolved(dest).map_err(io(dest))?;
    if target.starts_with(&from) && !SKIPPED.iter().any(|s| target.starts_with(from.join(s))) {
        return Err(StarterError::Inside { dest: target, from });
    }
    std::fs::create_dir_all(dest).map_err(io(dest))?;
    let dest = dest.canonicalize().map_err(io(dest))?;
    let mut summary = Summary::default();
    copy(&from, &from, &dest, &mut summary)?;
    summary.labs.sort();
    // The root package and every lab's: each loses the targets of the files
    // left out and the tests that run them.
    let mut manifests = vec![PathBuf::new()];
    let mut labs: Vec<PathBuf> = std::fs::read_dir(dest.join("labs"))
        .map_err(io(&dest.join("labs")))?
        .flatten()
        .map(|e| Path::new("labs").join(e.file_name()))
        .filter(|lab| dest.join(lab).join("Cargo.toml").is_file())
        .collect();
    labs.sort();
    manifests.extend(labs);
    let texts = manifests
        .iter()
        .map(|dir| {
            let path = dest.join(dir).join("Cargo.toml");
            std::fs::read_to_string(&path).map_err(io(&path))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let names = solution_names(
        manifests
            .iter()
            .zip(&texts)
            .map(|(d, t)| (d.as_path(), t.as_str())),
        &summary.left_out,
    );
    let template = from.join(LAB_TEST);
    let template_text = std::fs::read_to_string(&template).map_err(io(&template))?;
    if !template_text.contains(LAB_TEST_PLACEHOLDER) {
        return Err(StarterError::NoPlaceholder(PathBuf::from(LAB_TEST)));
    }
    let mut dropped_tests = Vec::new();
    for (dir, text) in manifests.iter().zip(&texts) {
        let manifest = dest.join(dir).join("Cargo.toml");
        // A lab's package: its test becomes the student's.
        let lab = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .filter(|n| dir.parent() == Some(Path::new("labs")) && is_lab_dir(n));
        let (mut text, dropped) =
            without_solution_targets(text, &from, dir, &summary.left_out, &names, lab.as_deref());
        if let Some(lab) = &lab {
            let rel = Path::new("tests").join(format!("{lab}.rs"));
            let to = dest.join(dir).join(&rel);
            if !to.exists() {
                summary.files += 1;
            }
            std::fs::create_dir_all(to.parent().unwrap_or(&dest)).map_err(io(&to))?;
            std::fs::write(&to, template_text.replace(LAB_TEST_PLACEHOLDER, lab))
                .map_err(io(&to))?;
            same_time(&template, &to)?;
            let _ = write!(
                text,
                "\n# Grades your solution, server.rs or the command in ./solution: `cargo test {lab}`.\n[[test]]\nname = \"{lab}\"\npath = \"{}\"\n",
                rel.display()
            );
            summary.lab_tests.push(dir.join(rel));
        }
        // Every target left must have its source in the tree, or it does not build.
        for line in text.lines() {
            if let Some(path) = line
                .strip_prefix("path")
                .and_then(|rest| rest.trim_start().strip_prefix('='))
                .map(|v| v.trim().trim_matches('"'))
                && !dest.join(dir).join(path).exists()
                && !dropped.iter().any(|t| *t == dir.join(path))
            {
                return Err(StarterError::Markers {
                    path: dir.join("Cargo.toml"),
                    line: text.lines().position(|l| l == line).unwrap_or(0) + 1,
                    what: format!("a target's source {path} was left out but its target stayed"),
                });
            }
        }
        std::fs::write(&manifest, text).map_err(io(&manifest))?;
        same_time(&from.join(dir).join("Cargo.toml"), &manifest)?;
        dropped_tests.extend(dropped);
    }
    for test in dropped_tests {
        if summary.lab_tests.contains(&test) {
            // Rewritten for students above.
            continue;
        }
        let at = dest.join(&test);
        if at.exists() {
            std::fs::remove_file(&at).map_err(io(&at))?;
            summary.files -= 1;
        }
        summary.left_out.push(test);
    }
    remove_empty_dirs(&dest)?;
    // The docs left in link only to what the tree holds.
    let dangling = dangling_links(&dest)?;
    if !dangling.is_empty() {
        return Err(StarterError::DanglingLinks(dangling));
    }
    Ok(summary)
}

/// A manifest's blocks: a table header with the comment lines just above
/// it, up to the next such block (the first block has no header).
fn blocks(manifest: &str) -> Vec<Vec<&str>> {
    let mut blocks: Vec<Vec<&str>> = vec![Vec::new()];
    let mut comments: Vec<&str> = Vec::new();
    for line in manifest.lines() {
        if line.starts_with('[') {
            blocks.push(std::mem::take(&mut comments));
            blocks.last_mut().expect("pushed").push(line);
        } else if line.starts_with('#') {
            comments.push(line);
        } else {
            let block = blocks.last_mut().expect("one block");
            block.append(&mut comments);
            block.push(line);
        }
    }
    blocks.last_mut().expect("one block").append(&mut comments);
    blocks
}

/// A block's `key = "value"`.
fn value(block: &[&str], key: &str) -> Option<String> {
    block.iter().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        (k.trim() == key).then(|| v.trim().trim_matches('"').to_string())
    })
}

fn header<'a>(block: &[&'a str]) -> Option<&'a str> {
    block.iter().find(|l| l.starts_with('[')).copied()
}

/// `dir/path` without `.` components: a target's source as the tree names it.
fn normal(dir: &Path, path: &str) -> PathBuf {
    dir.join(path)
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect()
}

/// How a test names what a starter tree lacks: the binaries of the files
/// left out and the lab solutions (placeholders now: a test that runs one
/// expects the reference's grade), as `CARGO_BIN_EXE_name"` or
/// `bin("name")`, and the Python files left out, as `"stem"`.
fn solution_names<'a>(
    manifests: impl Iterator<Item = (&'a Path, &'a str)>,
    left_out: &[PathBuf],
) -> Vec<String> {
    let mut names = Vec::new();
    for (dir, manifest) in manifests {
        for block in blocks(manifest) {
            if header(&block) != Some("[[bin]]") {
                continue;
            }
            let (Some(path), Some(name)) = (value(&block, "path"), value(&block, "name")) else {
                continue;
            };
            let path = normal(dir, &path);
            if left_out.contains(&path) || path.starts_with("labs") && path.ends_with("server.rs") {
                names.push(format!("CARGO_BIN_EXE_{name}\""));
                names.push(format!("bin(\"{name}\")"));
            }
        }
    }
    names.extend(
        left_out
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "py" || e == "c"))
            .filter_map(|p| p.file_stem())
            .map(|s| format!("\"{}\"", s.to_string_lossy())),
    );
    names
}

/// The manifest of the package in `dir` (relative to the tree) without the
/// targets of the files left out, and without the tests that name any of
/// `names` (a test that needs a solution has nothing to run in a student
/// tree), and without the test named `lab_test` (a lab's own, which the
/// student's replaces). Returns the new text and the test sources
/// dropped, relative to the tree.
fn without_solution_targets(
    manifest: &str,
    from: &Path,
    dir: &Path,
    left_out: &[PathBuf],
    names: &[String],
    lab_test: Option<&str>,
) -> (String, Vec<PathBuf>) {
    let blocks = blocks(manifest);
    let gone = |path: &str| left_out.contains(&normal(dir, path));
    let mut dropped_tests = Vec::new();
    let kept: Vec<&Vec<&str>> = blocks
        .iter()
        .filter(|b| {
            let Some(path) = value(b, "path") else {
                return true;
            };
            if gone(&path) {
                return false;
            }
            if header(b) == Some("[[test]]") {
                if lab_test.is_some() && value(b, "name").as_deref() == lab_test {
                    dropped_tests.push(normal(dir, &path));
                    return false;
                }
                let source =
                    std::fs::read_to_string(from.join(dir).join(&path)).unwrap_or_default();
                if names.iter().any(|n| source.contains(n.as_str())) {
                    dropped_tests.push(normal(dir, &path));
                    return false;
                }
            }
            true
        })
        .collect();
    let mut out: String = kept
        .iter()
        .flat_map(|b| b.iter())
        .map(|l| format!("{l}\n"))
        .collect();
    // Blank lines where blocks were dropped: at most one in a row.
    while out.contains("\n\n\n") {
        out = out.replace("\n\n\n", "\n\n");
    }
    (out, dropped_tests)
}

/// `path` made absolute, with its deepest existing ancestor canonical
/// (the rest need not exist yet).
fn resolved(path: &Path) -> std::io::Result<PathBuf> {
    let path = std::path::absolute(path)?;
    let mut existing = path.as_path();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                existing = parent;
            }
            _ => break,
        }
    }
    let mut out = existing.canonicalize()?;
    out.extend(rest.iter().rev());
    Ok(out)
}

/// Gives `to` the modification time of `from`: a starter tree keeps its
/// files' dates, so rewriting one (say, into the same directory again)
/// does not make cargo rebuild what did not change.
fn same_time(from: &Path, to: &Path) -> Result<(), StarterError> {
    let modified = std::fs::metadata(from)
        .and_then(|m| m.modified())
        .map_err(io(from))?;
    std::fs::File::options()
        .write(true)
        .open(to)
        .and_then(|f| f.set_modified(modified))
        .map_err(io(to))
}

/// Removes the directories under `dir` left empty by files left out.
fn remove_empty_dirs(dir: &Path) -> Result<bool, StarterError> {
    let mut empty = true;
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let path = entry.map_err(io(dir))?.path();
        if path.is_dir() && remove_empty_dirs(&path)? {
            std::fs::remove_dir(&path).map_err(io(&path))?;
        } else {
            empty = false;
        }
    }
    Ok(empty)
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
        // Whether a directory or a file: in a git worktree `.git` is a file
        // that names the instructor's repository.
        if SKIPPED.iter().any(|s| name == *s) {
            continue;
        }
        if is_not_for_students(rel) {
            summary.docs_left_out.push(rel.to_path_buf());
            continue;
        }
        if kind.is_dir() {
            std::fs::create_dir_all(&to).map_err(io(&to))?;
            copy(root, &path, dest, summary)?;
        } else if kind.is_file() {
            if is_solution_fixture(rel) {
                summary.left_out.push(rel.to_path_buf());
                continue;
            }
            let solution = rel.starts_with("labs") && name == "server.rs";
            if solution {
                let text = std::fs::read_to_string(&path).map_err(io(&path))?;
                let (text, regions) = strip(&text, rel)?;
                if regions == 0 {
                    return Err(StarterError::NoRegion(rel.to_path_buf()));
                }
                std::fs::write(&to, text).map_err(io(&to))?;
                same_time(&path, &to)?;
                summary.regions += regions;
                if let Some(lab) = rel.parent().and_then(Path::file_name) {
                    summary.labs.push(lab.to_string_lossy().into_owned());
                }
            } else if path.extension().is_some_and(|e| e == "md") {
                let text = std::fs::read_to_string(&path).map_err(io(&path))?;
                std::fs::write(&to, strip_docs(&text, rel)?).map_err(io(&to))?;
                same_time(&path, &to)?;
            } else {
                std::fs::copy(&path, &to).map_err(io(&path))?;
                same_time(&path, &to)?;
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
            let placeholder = format!("todo!(\"{{}}\", \"lab {}: ", &lab.id[3..]);
            if text.contains(&placeholder) && !text.contains(BEGIN) {
                // A starter tree: the regions were already replaced.
                continue;
            }
            let (out, n) = strip(&text, &rel).expect("well-formed markers");
            assert!(n >= 1, "{} marks no region", lab.id);
            assert!(out.contains(&placeholder), "{}", lab.id);
        }
    }

    #[test]
    fn regions_not_for_students_are_dropped_with_their_markers() {
        let text = "# T\nfor all\n<!-- NOT IN STARTER BEGIN: instructors -->\n[i](docs/instructors/x.md)\n<!-- NOT IN STARTER END -->\nafter\n```text\n<!-- NOT IN STARTER BEGIN: shown -->\n```\n";
        assert_eq!(
            strip_docs(text, Path::new("x.md")).expect("strips"),
            "# T\nfor all\nafter\n```text\n<!-- NOT IN STARTER BEGIN: shown -->\n```\n"
        );
        for same in [
            "a\nb\n",
            "a\r\nb",
            "```\n<!-- NOT IN STARTER END -->\n```\n",
        ] {
            assert_eq!(strip_docs(same, Path::new("x.md")).unwrap(), same);
        }
        for (text, line, what) in [
            ("a\n<!-- NOT IN STARTER BEGIN: x -->\n", 2, "never ends"),
            ("<!-- NOT IN STARTER END -->\n", 1, "never began"),
            (
                "<!-- NOT IN STARTER BEGIN: x -->\n<!-- NOT IN STARTER BEGIN: y -->\n",
                2,
                "inside another",
            ),
        ] {
            let e = strip_docs(text, Path::new("x.md"))
                .expect_err(text)
                .to_string();
            assert!(e.starts_with(&format!("x.md:{line}: ")), "{e}");
            assert!(e.contains(what), "{e}");
        }
    }

    #[test]
    fn relative_links_are_found_outside_code() {
        let text = "see [a](a.md) and ![img](../i.png \"title\"), [b](b.md#part)\n\
                    [c](https://example.org/c.md) [d](#here) [e](mailto:x@y) `[f](f.md)`\n\
                    ```\n[g](g.md)\n```\n\
                    [ref]: docs/ref.md\n\
                    | 1 | x | [labs/lab1/README.md](labs/lab1/README.md) |\n";
        assert_eq!(
            relative_links(text),
            [
                (1, "a.md".to_string()),
                (1, "../i.png".to_string()),
                (1, "b.md".to_string()),
                (6, "docs/ref.md".to_string()),
                (7, "labs/lab1/README.md".to_string()),
            ]
        );
    }

    #[test]
    fn dangling_links_are_named_with_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let root = &dir.path().join("tree");
        // A file outside the tree is no file of the tree.
        std::fs::write(dir.path().join("elsewhere.md"), "").unwrap();
        std::fs::create_dir_all(root.join("docs/students")).unwrap();
        std::fs::create_dir_all(root.join("target")).unwrap();
        std::fs::write(
            root.join("README.md"),
            "[ok](docs/students/a.md) [dir](docs/)\n[gone](docs/instructors/b.md)\n",
        )
        .unwrap();
        std::fs::write(
            root.join("docs/students/a.md"),
            "[up](../../README.md)\n[top](../../../elsewhere.md) [self](a.md#x)\n",
        )
        .unwrap();
        // Build output is not the tree's.
        std::fs::write(root.join("target/x.md"), "[no](nothing.md)\n").unwrap();
        let found: Vec<String> = dangling_links(root)
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            found,
            [
                "README.md:2: docs/instructors/b.md",
                "docs/students/a.md:2: ../../../elsewhere.md",
            ]
        );
    }

    /// The tree this was built from (the instructor's, or a starter tree):
    /// every relative link of every Markdown file resolves, the README is
    /// short and says how to set up, and what a starter tree keeps of the
    /// docs links only to what it keeps.
    #[test]
    fn the_docs_link_only_to_files_of_the_tree_and_the_readme_is_short() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dangling = dangling_links(root).expect("readable");
        assert!(
            dangling.is_empty(),
            "dangling links: {}",
            links_list(&dangling)
        );
        let readme = std::fs::read_to_string(root.join("README.md")).expect("a README");
        let lines = readme.lines().count();
        assert!(lines <= 200, "README.md has {lines} lines, at most 200");
        for setup in ["make lab1", "cargo test"] {
            assert!(readme.contains(setup), "README.md does not say `{setup}`");
        }
        let mut files = Vec::new();
        markdown_files(root, root, &mut files).expect("readable");
        for rel in files.iter().filter(|f| !is_not_for_students(f)) {
            let text = std::fs::read_to_string(root.join(rel)).expect("readable");
            let kept = strip_docs(&text, rel).expect("well-formed markers");
            let dir = rel.parent().unwrap_or(Path::new(""));
            for (line, target) in relative_links(&kept) {
                let to: PathBuf =
                    dir.join(&target)
                        .components()
                        .fold(PathBuf::new(), |mut p, c| {
                            match c {
                                std::path::Component::ParentDir => {
                                    p.pop();
                                }
                                std::path::Component::Normal(n) => p.push(n),
                                _ => {}
                            }
                            p
                        });
                assert!(
                    !is_not_for_students(&to),
                    "{}:{line}: {target} is left out of starter trees: put the link between {DOCS_BEGIN} ... --> and {DOCS_END}",
                    rel.display()
                );
            }
        }
    }
}
