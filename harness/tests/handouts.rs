//! The handouts agree with the rubrics: each lab's `labs/labN/README.md`
//! has, under `## What the grader checks (N points)`, a table with one row
//! per check of the lab's rubric (`iolab::labs`), in the rubric's order,
//! giving its points, its id, its kind and its title, and marking a check
//! hidden until the due date `(hidden)` after its id. So a check added,
//! removed, renamed or re-weighted in a rubric fails here until its
//! handout says the same.
//!
//! The table's columns are found by their headers (`points`, `id`, `kind`,
//! `check`); others (`fails when`) are free text. A title is compared
//! without its Markdown code spans' backticks and with `\|` read as `|`.

use std::path::Path;

use iolab::grade::{Kind, Lab, Visibility};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const HEADING: &str = "## What the grader checks";

/// One row of a handout's check table, as the rubric would say it.
#[derive(Debug, PartialEq, Eq)]
struct Row {
    points: u32,
    id: String,
    hidden: bool,
    kind: String,
    title: String,
}

/// A table row's cells, split on `|` but not on `\|`.
fn cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
    let mut out = vec![String::new()];
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                chars.next();
                out.last_mut().unwrap().push('|');
            }
            '|' => out.push(String::new()),
            c => out.last_mut().unwrap().push(c),
        }
    }
    out.into_iter().map(|c| c.trim().to_string()).collect()
}

/// Plain text: code spans' backticks dropped.
fn plain(cell: &str) -> String {
    cell.replace('`', "")
}

/// The handout's stated total and its check table's rows.
fn check_table(readme: &str, file: &str) -> (u32, Vec<Row>) {
    let lines: Vec<&str> = readme.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with(HEADING))
        .unwrap_or_else(|| panic!("{file}: no `{HEADING} (N points)` heading"));
    let total: u32 = lines[start]
        .trim_start_matches(HEADING)
        .trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .trim_end_matches("points")
        .trim()
        .parse()
        .unwrap_or_else(|e| {
            panic!(
                "{file}:{}: `{}`: no total points ({e})",
                start + 1,
                lines[start]
            )
        });
    let end = lines[start + 1..]
        .iter()
        .position(|l| l.starts_with("## "))
        .map_or(lines.len(), |n| start + 1 + n);
    let header = (start..end)
        .find(|&i| lines[i].trim_start().starts_with('|'))
        .unwrap_or_else(|| panic!("{file}: no table under `{HEADING}`"));
    let names = cells(lines[header]);
    let col = |name: &str| {
        names
            .iter()
            .position(|n| n == name)
            .unwrap_or_else(|| panic!("{file}:{}: no `{name}` column in {names:?}", header + 1))
    };
    let (points, id, kind, title) = (col("points"), col("id"), col("kind"), col("check"));
    let rows = lines[header + 2..end]
        .iter()
        .enumerate()
        .take_while(|(_, l)| l.trim_start().starts_with('|'))
        .map(|(n, l)| {
            let line = header + 3 + n;
            let c = cells(l);
            assert_eq!(
                c.len(),
                names.len(),
                "{file}:{line}: {} cells, the header has {}",
                c.len(),
                names.len()
            );
            let id_cell = plain(&c[id]);
            let (id_text, hidden) = match id_cell.strip_suffix("(hidden)") {
                Some(rest) => (rest.trim().to_string(), true),
                None => (id_cell, false),
            };
            Row {
                points: c[points]
                    .parse()
                    .unwrap_or_else(|e| panic!("{file}:{line}: points `{}`: {e}", c[points])),
                id: id_text,
                hidden,
                kind: c[kind].clone(),
                title: plain(&c[title]),
            }
        })
        .collect();
    (total, rows)
}

/// What the handout's table should say for `lab`.
fn rubric_rows(lab: &Lab) -> Vec<Row> {
    lab.checks
        .iter()
        .map(|c| Row {
            points: c.points,
            id: c.id.to_string(),
            hidden: c.visibility == Visibility::AfterDueDate,
            kind: match c.kind {
                Kind::Model => "model",
                Kind::Protocol => "protocol",
            }
            .to_string(),
            title: c.title.to_string(),
        })
        .collect()
}

/// The differences between a handout's rows and the rubric's, one line each.
fn disagreements(handout: &[Row], rubric: &[Row]) -> Vec<String> {
    let mut out = Vec::new();
    for r in rubric {
        match handout.iter().find(|h| h.id == r.id) {
            None => out.push(format!("missing row for check `{}`: {r:?}", r.id)),
            Some(h) if h != r => out.push(format!("`{}`: handout {h:?}, rubric {r:?}", r.id)),
            Some(_) => {}
        }
    }
    for h in handout {
        if !rubric.iter().any(|r| r.id == h.id) {
            out.push(format!("row `{}` is no check of the rubric", h.id));
        }
    }
    let order = |rows: &[Row]| rows.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
    if out.is_empty() && order(handout) != order(rubric) {
        out.push(format!(
            "rows in another order than the rubric's: {:?}, rubric {:?}",
            order(handout),
            order(rubric)
        ));
    }
    out
}

#[test]
fn every_handouts_check_table_is_its_rubric() {
    let labs = iolab::labs::all();
    assert!(labs.len() >= 7, "{} labs found", labs.len());
    let mut problems = Vec::new();
    for lab in &labs {
        let file = format!("labs/{}/README.md", lab.id);
        let readme = std::fs::read_to_string(Path::new(ROOT).join(&file))
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let (total, rows) = check_table(&readme, &file);
        let expected = rubric_rows(lab);
        let sum: u32 = expected.iter().map(|r| r.points).sum();
        if total != sum {
            problems.push(format!(
                "{file}: the heading says {total} points, the rubric's add up to {sum}"
            ));
        }
        problems.extend(
            disagreements(&rows, &expected)
                .into_iter()
                .map(|d| format!("{file}: {d}")),
        );
    }
    assert!(
        problems.is_empty(),
        "handouts and rubrics disagree:\n{}",
        problems.join("\n")
    );
}

#[test]
fn a_table_row_that_drifts_from_its_rubric_is_reported() {
    let table = "## What the grader checks (30 points)\n\n\
        | points | id | kind | check | fails when |\n\
        |---|---|---|---|---|\n\
        | 10 | `a` | model | `accept` or `read\\|write` | x |\n\
        | 20 | `b` (hidden) | protocol | b | |\n";
    let (total, rows) = check_table(table, "t");
    assert_eq!(total, 30);
    let row = |points, id: &str, hidden, kind: &str, title: &str| Row {
        points,
        id: id.into(),
        hidden,
        kind: kind.into(),
        title: title.into(),
    };
    let rubric = vec![
        row(10, "a", false, "model", "accept or read|write"),
        row(20, "b", true, "protocol", "b"),
    ];
    assert_eq!(disagreements(&rows, &rubric), Vec::<String>::new());
    // Each way a row can drift is reported.
    let drifted = [
        row(15, "a", false, "model", "accept or read|write"),
        row(10, "a", false, "protocol", "accept or read|write"),
        row(10, "a", true, "model", "accept or read|write"),
        row(10, "a", false, "model", "accept or read"),
    ];
    for d in drifted {
        let rubric = vec![d, row(20, "b", true, "protocol", "b")];
        assert_eq!(disagreements(&rows, &rubric).len(), 1, "{rubric:?}");
    }
    let extra = vec![row(20, "b", true, "protocol", "b")];
    assert_eq!(disagreements(&rows, &extra).len(), 1);
    let swapped = vec![
        row(20, "b", true, "protocol", "b"),
        row(10, "a", false, "model", "accept or read|write"),
    ];
    assert_eq!(disagreements(&rows, &swapped).len(), 1);
}
