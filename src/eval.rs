//! `replicant eval`: how well a scan's results find known copies. Truth is a CSV in the
//! fixtures' `pairs.csv` form (`derived_path`, `source_path`, `kind`; `set` and `difficulty`
//! optional) or a review set written by `replicant export` (labels as kinds: full and near
//! copies as themselves, distinct as a style-only-like pair). Each truth row counts once;
//! paths are compared exactly as the scan writes them; a generation missing from the results
//! is a miss.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::export::csv_text_uncell;

/// What a truth row says the pair is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// The whole source is the derived image's main content.
    FullCopy,
    /// A recognisable part of the source is reproduced.
    NearCopy,
    /// Only the style is shared: should not be flagged.
    StyleOnly,
    /// A generation with no source: should not be flagged.
    Negative,
}

impl Kind {
    fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "full_copy" | "full" => Some(Self::FullCopy),
            "near_copy" | "near" => Some(Self::NearCopy),
            "style_only" | "distinct" => Some(Self::StyleOnly),
            "negative" => Some(Self::Negative),
            _ => None,
        }
    }
}

/// One truth row.
#[derive(Debug, Clone, PartialEq)]
pub struct TruthRow {
    /// The group it is reported under (`set` column), if any.
    pub set: Option<String>,
    /// Its kind of copy (`category` column: a style transfer, an inpainting...), if any.
    pub category: Option<String>,
    /// The generation, as the scan names it.
    pub generation: String,
    /// The training image, as the scan names it (empty for a negative).
    pub source: String,
    /// What the pair is.
    pub kind: Kind,
}

/// Why an evaluation could not run. Each names the file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// A file could not be read.
    #[error("cannot read {path}: {detail}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// A file is not in a form eval reads.
    #[error("{path}: {detail}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong and what is expected.
        detail: String,
    },
}

fn format_err(path: &Path, detail: impl Into<String>) -> EvalError {
    EvalError::Format {
        path: path.to_path_buf(),
        detail: detail.into(),
    }
}

/// Reads truth rows from a `pairs.csv`-form file or an exported review set (CSV).
pub fn read_truth(path: &Path) -> Result<Vec<TruthRow>, EvalError> {
    let mut reader = csv::Reader::from_path(path).map_err(|err| EvalError::Read {
        path: path.to_path_buf(),
        detail: err.to_string(),
    })?;
    let headers = reader
        .headers()
        .map_err(|err| format_err(path, format!("no header row ({err})")))?
        .clone();
    let column = |name: &str| headers.iter().position(|h| h.trim() == name);
    // The fixtures' form, else a review set.
    let category = column("category");
    let (generation, source, kind, set, review_set) = match (
        column("derived_path"),
        column("source_path"),
        column("kind"),
    ) {
        (Some(g), Some(s), Some(k)) => (g, s, k, column("set"), false),
        _ => match (column("generation"), column("training"), column("label")) {
            (Some(g), Some(t), Some(l)) => (g, t, l, None, true),
            _ => {
                return Err(format_err(
                    path,
                    "expected the columns derived_path, source_path and kind (the fixtures' pairs.csv form) or generation, training and label (a review set from `replicant export`)",
                ));
            }
        },
    };
    let mut rows = Vec::new();
    for (line, record) in reader.records().enumerate() {
        let record = record.map_err(|err| format_err(path, format!("row {}: {err}", line + 2)))?;
        let cell = |i: usize| record.get(i).unwrap_or("");
        let cell_text = |i: usize| {
            if review_set {
                csv_text_uncell(cell(i)).to_string()
            } else {
                cell(i).to_string()
            }
        };
        let kind_text = cell(kind);
        let mut parsed = Kind::parse(kind_text).ok_or_else(|| {
            format_err(
                path,
                format!(
                    "row {}: unknown kind {kind_text:?}; use full_copy, near_copy, style_only or negative (or a review set's full_copy, near_copy, distinct)",
                    line + 2
                ),
            )
        })?;
        let source_text = cell_text(source);
        if source_text.trim().is_empty() {
            parsed = Kind::Negative;
        }
        rows.push(TruthRow {
            set: set.map(|i| cell(i).to_string()).filter(|s| !s.is_empty()),
            category: category
                .filter(|_| !review_set)
                .map(|i| cell(i).to_string())
                .filter(|s| !s.is_empty()),
            generation: cell_text(generation),
            source: source_text,
            kind: parsed,
        });
    }
    Ok(rows)
}

/// A generation's matches as the scan listed them: training names and similarities, in rank
/// order.
pub type ListedMatches = Vec<(String, f32)>;

/// Reads a scan's JSON Lines results: generation name -> its matches in rank order.
pub fn read_results(path: &Path) -> Result<HashMap<String, ListedMatches>, EvalError> {
    #[derive(serde::Deserialize)]
    struct Line {
        generation: String,
        matches: Vec<LineMatch>,
    }
    #[derive(serde::Deserialize)]
    struct LineMatch {
        rank: usize,
        training: String,
        similarity: f32,
    }
    let text = std::fs::read_to_string(path).map_err(|err| EvalError::Read {
        path: path.to_path_buf(),
        detail: err.to_string(),
    })?;
    let mut results = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let parsed: Line = serde_json::from_str(line).map_err(|err| {
            format_err(
                path,
                format!(
                    "line {}: {err}; give the JSON Lines a scan writes (`replicant scan --out FILE.jsonl`)",
                    n + 1
                ),
            )
        })?;
        let mut matches = parsed.matches;
        matches.sort_by_key(|m| m.rank);
        results.insert(
            parsed.generation,
            matches
                .into_iter()
                .map(|m| (m.training, m.similarity))
                .collect(),
        );
    }
    Ok(results)
}

/// Recall of copies of one kind.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct Recall {
    /// Rows of this kind.
    pub n: usize,
    /// Share with the source at rank 1 (`None` without rows).
    pub recall_at_1: Option<f64>,
    /// Share with the source within the first five listed.
    pub recall_at_5: Option<f64>,
}

/// How many rows that should not be flagged were.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct Flagged {
    /// Rows of this kind.
    pub n: usize,
    /// Rows flagged at the threshold.
    pub flagged: usize,
}

/// Figures over a group of truth rows.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct Figures {
    /// Full copies.
    pub full_copy: Recall,
    /// Near copies.
    pub near_copy: Recall,
    /// Style-only pairs: flagged when the training image is matched at or above the threshold.
    pub style_only: Flagged,
    /// Generations with no source: flagged when their best similarity reaches the threshold.
    pub negative: Flagged,
    /// Rows whose generation is not in the results (counted as misses).
    pub missing: usize,
}

/// The whole evaluation.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct Evaluation {
    /// Every row.
    pub overall: Figures,
    /// Rows by their `set`.
    pub by_set: BTreeMap<String, Figures>,
    /// Rows by their kind of copy (`category`), when the truth names it.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub by_category: BTreeMap<String, Figures>,
}

#[derive(Default)]
struct Tally {
    hits: [usize; 2],
    n: usize,
}

#[derive(Default)]
struct Group {
    full: Tally,
    near: Tally,
    style: Flagged,
    negative: Flagged,
    missing: usize,
}

impl Group {
    fn add(&mut self, row: &TruthRow, matches: Option<&ListedMatches>, threshold: f32) {
        if matches.is_none() {
            self.missing += 1;
        }
        let listed = matches.map_or(&[][..], Vec::as_slice);
        let position = listed.iter().position(|(t, _)| *t == row.source);
        match row.kind {
            Kind::FullCopy | Kind::NearCopy => {
                let tally = if row.kind == Kind::FullCopy {
                    &mut self.full
                } else {
                    &mut self.near
                };
                tally.n += 1;
                if position == Some(0) {
                    tally.hits[0] += 1;
                }
                if position.is_some_and(|p| p < 5) {
                    tally.hits[1] += 1;
                }
            }
            Kind::StyleOnly => {
                self.style.n += 1;
                if listed
                    .iter()
                    .any(|(t, s)| *t == row.source && *s >= threshold)
                {
                    self.style.flagged += 1;
                }
            }
            Kind::Negative => {
                self.negative.n += 1;
                if listed
                    .iter()
                    .map(|(_, s)| *s)
                    .fold(f32::NEG_INFINITY, f32::max)
                    >= threshold
                {
                    self.negative.flagged += 1;
                }
            }
        }
    }

    fn figures(&self) -> Figures {
        let recall = |t: &Tally| Recall {
            n: t.n,
            recall_at_1: (t.n > 0).then(|| t.hits[0] as f64 / t.n as f64),
            recall_at_5: (t.n > 0).then(|| t.hits[1] as f64 / t.n as f64),
        };
        Figures {
            full_copy: recall(&self.full),
            near_copy: recall(&self.near),
            style_only: self.style,
            negative: self.negative,
            missing: self.missing,
        }
    }
}

/// Scores `results` against `truth` at `threshold`.
pub fn evaluate(
    truth: &[TruthRow],
    results: &HashMap<String, ListedMatches>,
    threshold: f32,
) -> Evaluation {
    let mut overall = Group::default();
    let mut sets: BTreeMap<String, Group> = BTreeMap::new();
    let mut categories: BTreeMap<String, Group> = BTreeMap::new();
    for row in truth {
        let matches = results.get(&row.generation);
        overall.add(row, matches, threshold);
        for (key, groups) in [(&row.set, &mut sets), (&row.category, &mut categories)] {
            if let Some(key) = key {
                groups
                    .entry(key.clone())
                    .or_default()
                    .add(row, matches, threshold);
            }
        }
    }
    let figures = |groups: BTreeMap<String, Group>| {
        groups.into_iter().map(|(k, g)| (k, g.figures())).collect()
    };
    Evaluation {
        overall: overall.figures(),
        by_set: figures(sets),
        by_category: figures(categories),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn results() -> HashMap<String, ListedMatches> {
        let mut r = HashMap::new();
        r.insert(
            "g1.png".to_string(),
            vec![("a.jpg".to_string(), 0.9), ("b.jpg".to_string(), 0.4)],
        );
        r.insert(
            "g2.png".to_string(),
            vec![
                ("x.jpg".to_string(), 0.6),
                ("y.jpg".to_string(), 0.5),
                ("z.jpg".to_string(), 0.3),
                ("w.jpg".to_string(), 0.3),
                ("v.jpg".to_string(), 0.2),
                ("b.jpg".to_string(), 0.1),
            ],
        );
        r.insert("g3.png".to_string(), vec![("q.jpg".to_string(), 0.49)]);
        r
    }

    fn row(set: &str, generation: &str, source: &str, kind: Kind) -> TruthRow {
        TruthRow {
            set: Some(set.into()),
            category: None,
            generation: generation.into(),
            source: source.into(),
            kind,
        }
    }

    #[test]
    fn counts_each_row_once_by_rank_threshold_and_set() {
        let truth = vec![
            row("s1", "g1.png", "a.jpg", Kind::FullCopy),  // rank 1
            row("s1", "g2.png", "y.jpg", Kind::NearCopy),  // rank 2
            row("s2", "g2.png", "b.jpg", Kind::NearCopy),  // rank 6: a miss at 5
            row("s2", "g9.png", "a.jpg", Kind::NearCopy),  // missing generation
            row("s2", "g1.png", "b.jpg", Kind::StyleOnly), // 0.4 < 0.5
            row("s2", "g2.png", "x.jpg", Kind::StyleOnly), // 0.6 >= 0.5: flagged
            row("s1", "g3.png", "", Kind::Negative),       // 0.49: not flagged
            row("s1", "g2.png", "", Kind::Negative),       // 0.6: flagged
        ];
        let e = evaluate(&truth, &results(), 0.5);
        assert_eq!(e.overall.full_copy.n, 1);
        assert_eq!(e.overall.full_copy.recall_at_1, Some(1.0));
        assert_eq!(e.overall.near_copy.n, 3);
        assert_eq!(e.overall.near_copy.recall_at_1, Some(0.0));
        assert_eq!(e.overall.near_copy.recall_at_5, Some(1.0 / 3.0));
        assert_eq!(e.overall.style_only, Flagged { n: 2, flagged: 1 });
        assert_eq!(e.overall.negative, Flagged { n: 2, flagged: 1 });
        assert_eq!(e.overall.missing, 1);
        assert_eq!(e.by_set["s1"].near_copy.recall_at_5, Some(1.0));
        assert_eq!(e.by_set["s2"].near_copy.recall_at_5, Some(0.0));
        assert_eq!(e.by_set["s2"].full_copy.recall_at_1, None);
        // At 0.61 nothing is flagged.
        let strict = evaluate(&truth, &results(), 0.61);
        assert_eq!(strict.overall.style_only.flagged, 0);
        assert_eq!(strict.overall.negative.flagged, 0);
    }

    #[test]
    fn groups_by_kind_of_copy_when_the_truth_names_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pairs = dir.path().join("pairs.csv");
        std::fs::write(
            &pairs,
            "set,category,derived_path,source_path,kind\ns1,inpainting,g1.png,a.jpg,full_copy\ns2,inpainting,g2.png,y.jpg,near_copy\ns2,style transfer,g2.png,b.jpg,near_copy\n",
        )
        .expect("write");
        let rows = read_truth(&pairs).expect("pairs form");
        assert_eq!(rows[0].category.as_deref(), Some("inpainting"));
        let e = evaluate(&rows, &results(), 0.5);
        let inpainting = &e.by_category["inpainting"];
        assert_eq!(inpainting.full_copy.recall_at_1, Some(1.0));
        assert_eq!(inpainting.near_copy.recall_at_1, Some(0.0));
        assert_eq!(inpainting.near_copy.recall_at_5, Some(1.0));
        assert_eq!(
            e.by_category["style transfer"].near_copy.recall_at_5,
            Some(0.0)
        );
        assert_eq!(e.by_category.len(), 2);
        assert_eq!(e.by_set.len(), 2);
    }

    #[test]
    fn reads_both_truth_forms_and_refuses_others() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pairs = dir.path().join("pairs.csv");
        std::fs::write(
            &pairs,
            "set,derived_path,source_path,kind,transform\ns,g1.png,a.jpg,full_copy,resize\ns,g3.png,,negative,\n",
        )
        .expect("write");
        let rows = read_truth(&pairs).expect("pairs form");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].kind, Kind::FullCopy);
        assert_eq!(rows[1].kind, Kind::Negative);
        let review = dir.path().join("review.csv");
        std::fs::write(
            &review,
            "generation,training,rank,similarity,label\n'=g.png,a.jpg,1,0.9,near_copy\ng1.png,b.jpg,2,0.4,distinct\n",
        )
        .expect("write");
        let rows = read_truth(&review).expect("review set");
        assert_eq!(
            rows[0].generation, "=g.png",
            "formula neutralisation undone"
        );
        assert_eq!(rows[0].kind, Kind::NearCopy);
        assert_eq!(rows[1].kind, Kind::StyleOnly);
        let bad = dir.path().join("bad.csv");
        std::fs::write(&bad, "a,b\n1,2\n").expect("write");
        assert!(read_truth(&bad).is_err());
        let unknown = dir.path().join("unknown.csv");
        std::fs::write(&unknown, "derived_path,source_path,kind\ng,a,copy\n").expect("write");
        let err = read_truth(&unknown).expect_err("unknown kind").to_string();
        assert!(err.contains("row 2") && err.contains("\"copy\""), "{err}");
    }
}
