//! The instructor's reference transcripts, built into iolab.
//!
//! `snapshots/` holds the accepted transcript of each lab's snapshot
//! scenario (insta's `.snap` files, which `cargo test` compares and
//! `cargo insta review` updates). A grade compares a solution's transcript
//! with the copy compiled into this binary, never with the files of the
//! tree being graded, and never through insta: an edited snapshot in a
//! student tree, an `insta.yaml` or `.insta.yaml` with `force_pass`, or
//! `INSTA_FORCE_PASS`/`INSTA_UPDATE` in the environment change nothing in a
//! grade. The comparison is shown, not scored: a correct solution in
//! another language makes other calls.

// `SNAPSHOTS`: `(lab, scenario, file, its text)` for each
// `snapshots/labN_SCENARIO.snap` of a lab, the text compiled in (generated
// by `harness/build.rs`).
include!(concat!(env!("OUT_DIR"), "/snapshots.rs"));

/// The reference transcript of `lab`'s `scenario`, without insta's header.
pub fn transcript(lab: &str, scenario: &str) -> Option<&'static str> {
    SNAPSHOTS
        .iter()
        .find(|(l, s, _, _)| *l == lab && *s == scenario)
        .map(|(_, _, _, text)| body(text))
}

/// The scenarios of `lab` that have a reference transcript, with its file.
pub fn scenarios(lab: &str) -> Vec<(&'static str, &'static str)> {
    SNAPSHOTS
        .iter()
        .filter(|(l, ..)| *l == lab)
        .map(|(_, s, f, _)| (*s, *f))
        .collect()
}

/// A `.snap` file's content: what follows insta's header, the lines from
/// a first `---` line to a second one (a `\r` before a line end is allowed).
fn body(snap: &str) -> &str {
    let mut dashes = 0;
    let mut at = 0;
    for line in snap.split_inclusive('\n') {
        at += line.len();
        if line.trim_end_matches(['\n', '\r']) == "---" {
            dashes += 1;
            if dashes == 2 {
                return &snap[at..];
            }
        }
    }
    snap
}

/// How one scenario's transcript compares with the reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comparison {
    pub scenario: &'static str,
    /// The snapshot file, under `snapshots/`.
    pub snapshot: &'static str,
    /// The first line that differs: its number (from 1), the reference's
    /// line and the solution's (empty past the end).
    pub difference: Option<(usize, String, String)>,
}

impl Comparison {
    /// One line for a report.
    pub fn describe(&self) -> String {
        match &self.difference {
            None => format!(
                "{}: the same as the reference (snapshots/{})",
                self.scenario, self.snapshot
            ),
            Some((n, expected, got)) => format!(
                "{}: differs from the reference (snapshots/{}) from line {n}: reference {expected:?}, yours {got:?}",
                self.scenario, self.snapshot
            ),
        }
    }
}

/// Compares each transcript, `(scenario, text)` in the order given, that
/// has a reference with it.
pub fn compare<'a>(
    lab: &str,
    transcripts: impl IntoIterator<Item = (&'a str, String)>,
) -> Vec<Comparison> {
    transcripts
        .into_iter()
        .filter_map(|(name, text)| {
            let (scenario, snapshot) = scenarios(lab).into_iter().find(|(s, _)| *s == name)?;
            let reference = transcript(lab, scenario)?;
            Some(Comparison {
                scenario,
                snapshot,
                difference: first_difference(reference, &text),
            })
        })
        .collect()
}

/// The first line where two transcripts differ (trailing blank lines aside).
fn first_difference(reference: &str, got: &str) -> Option<(usize, String, String)> {
    // `lines` drops a `\r` before each `\n` too.
    let a: Vec<&str> = reference.trim_end().lines().collect();
    let b: Vec<&str> = got.trim_end().lines().collect();
    (0..a.len().max(b.len())).find_map(|i| {
        let (x, y) = (a.get(i).copied(), b.get(i).copied());
        (x != y).then(|| {
            (
                i + 1,
                x.unwrap_or_default().to_string(),
                y.unwrap_or_default().to_string(),
            )
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_ends_at_the_second_dashes_line() {
        assert_eq!(
            body("---\nsource: x\n---\nsocket() = L\n"),
            "socket() = L\n"
        );
        assert_eq!(body("---\r\na: ---\r\n---\r\nL\r\n"), "L\r\n");
        assert_eq!(body("no header\n"), "no header\n");
    }

    #[test]
    fn the_first_difference_is_found() {
        assert_eq!(first_difference("a\nb\n", "a\nb"), None);
        assert_eq!(
            first_difference("a\nb\nc\n", "a\nx\nc\n"),
            Some((2, "b".into(), "x".into()))
        );
        assert_eq!(
            first_difference("a\n", "a\nmore\n"),
            Some((2, String::new(), "more".into()))
        );
    }
}
