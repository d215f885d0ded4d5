//! `replicant label import`: merging another reviewer's exported review set (CSV or JSON
//! Lines, as `replicant export` writes it) into a project's label store, so that two
//! reviewers on two machines end with one project as if they had shared a store.
//!
//! Rows are matched by the content hashes they carry (names may differ between machines);
//! each reviewer's own label and note are added under their name, an adjudication under its
//! adjudicator's. Importing twice adds nothing the second time. Where the same reviewer gave
//! the pair another label (or note) here, this project's is kept and the conflict is listed;
//! two reviewers who disagree become a dispute, as in a shared store. Rows whose pair is not
//! among this project's last scan are listed, never stored.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::export::csv_text_uncell;
use crate::project::Project;
use crate::project::last_scan::LastScan;
use crate::project::review::fill_hashes;
use crate::project::review::open_review;
use crate::ranking::matches::GenerationMatches;
use crate::review::{Label, PairKey, ReviewError, checked_reviewer};

/// One row of an export, as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedRow {
    /// The generation's name where it was exported.
    pub generation: String,
    /// The training image's name where it was exported.
    pub training: String,
    /// The pair, by content.
    pub key: PairKey,
    /// Each reviewer's label.
    pub labels: BTreeMap<String, Label>,
    /// Each reviewer's note.
    pub notes: BTreeMap<String, String>,
    /// The adjudicated label and who gave it, when the pair was adjudicated.
    pub adjudication: Option<(Label, String)>,
}

/// What an import of one file did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportReport {
    /// The file.
    pub file: PathBuf,
    /// Rows read.
    pub rows: usize,
    /// Rows whose pair is among this project's last scan.
    pub matched: usize,
    /// Reviewers' labels added.
    pub labels_added: usize,
    /// Notes added.
    pub notes_added: usize,
    /// Adjudications added.
    pub adjudications_added: usize,
    /// Labels, notes and adjudications that were here already.
    pub already: usize,
    /// Where the same reviewer (or adjudication) said otherwise here: kept, and listed.
    pub conflicts: Vec<String>,
    /// Rows whose pair is not among this project's last scan (`generation ~ training`).
    pub unmatched: Vec<String>,
    /// Reviewers whose labels or notes were added.
    pub reviewers: Vec<String>,
}

/// Why an import could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file cannot be read or is not an export.
    #[error("{path}: {detail}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong and what to do.
        detail: String,
    },
    /// The project has no scan to match rows against.
    #[error(
        "{0} has no scan results yet; scan it first (`replicant scan --project ...`), then import"
    )]
    NotScanned(String),
    /// The project's results cannot be read.
    #[error(transparent)]
    LastScan(#[from] crate::project::last_scan::LastScanError),
    /// The label store failed.
    #[error(transparent)]
    Review(#[from] ReviewError),
}

/// The labels a review page saved (`replicant export --format review-html`).
#[derive(Debug, serde::Deserialize)]
struct PageLabels {
    format: String,
    version: u32,
    page: String,
    project: String,
    reviewer: String,
    labels: Vec<PageLabel>,
}

#[derive(Debug, serde::Deserialize)]
struct PageLabel {
    generation: String,
    training: String,
    generation_hash: String,
    training_hash: String,
    label: String,
    #[serde(default)]
    note: String,
}

/// Reads a file to import into `project`: labels saved from a review page (checked to come
/// from a page this project exported), or an export (see [`read_export`]).
pub fn read_for(project: &Project, path: &Path) -> Result<Vec<ImportedRow>, ImportError> {
    let bad = |detail: String| ImportError::File {
        path: path.to_path_buf(),
        detail,
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        bad(format!(
            "cannot be read ({e}); give a file `replicant export` or a review page wrote"
        ))
    })?;
    let value: Option<serde_json::Value> = serde_json::from_str(&text).ok();
    let is_page = value
        .as_ref()
        .and_then(|v| v.get("format"))
        .and_then(|f| f.as_str())
        == Some(crate::export::PAGE_LABELS_FORMAT);
    if !is_page {
        return read_export(path);
    }
    let page: PageLabels = serde_json::from_str(&text).map_err(|e| {
        bad(format!(
            "is a review page's labels but cannot be read ({e}); save them again from the page"
        ))
    })?;
    if page.version != 1 {
        return Err(bad(format!(
            "was saved by a newer review page ({} version {}); import it with a newer replicant",
            page.format, page.version
        )));
    }
    if page.project != project.identity() {
        return Err(bad(format!(
            "was saved from a review page of another project (page {}, project {}; this project is {}): its labels would land on the wrong pairs. Import it into the project that exported the page (the same folder)",
            page.page,
            page.project,
            project.identity()
        )));
    }
    let reviewer = checked_reviewer(&page.reviewer)
        .map_err(|e| bad(e.to_string()))?
        .to_string();
    let mut rows = Vec::with_capacity(page.labels.len());
    for (n, item) in page.labels.into_iter().enumerate() {
        let at = format!("label {}", n + 1);
        let mut labels = BTreeMap::new();
        if let Some(label) = parse_label(&item.label, &at).map_err(bad)? {
            labels.insert(reviewer.clone(), label);
        }
        let mut notes = BTreeMap::new();
        if !item.note.is_empty() {
            notes.insert(reviewer.clone(), item.note);
        }
        rows.push(ImportedRow {
            generation: item.generation,
            training: item.training,
            key: PairKey::new(&item.generation_hash, &item.training_hash),
            labels,
            notes,
            adjudication: None,
        });
    }
    Ok(rows)
}

/// Reads an export: JSON Lines for `.jsonl`/`.json`, CSV otherwise.
pub fn read_export(path: &Path) -> Result<Vec<ImportedRow>, ImportError> {
    let bad = |detail: String| ImportError::File {
        path: path.to_path_buf(),
        detail,
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        bad(format!(
            "cannot be read ({e}); give a file `replicant export` wrote (CSV or JSON Lines)"
        ))
    })?;
    let json = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("jsonl") || e.eq_ignore_ascii_case("json"));
    if json {
        read_jsonl(&text).map_err(bad)
    } else {
        read_csv(&text).map_err(bad)
    }
}

fn parse_label(text: &str, at: &str) -> Result<Option<Label>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    Label::parse(text)
        .map(Some)
        .ok_or_else(|| format!("{at}: unknown label {text:?} (full_copy, near_copy or distinct)"))
}

fn read_jsonl(text: &str) -> Result<Vec<ImportedRow>, String> {
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = format!("line {}", n + 1);
        let row: crate::export::ReviewRow = serde_json::from_str(line).map_err(|e| {
            format!("{at} is not an exported row ({e}); give a file `replicant export` wrote")
        })?;
        let mut labels = BTreeMap::new();
        for (who, label) in &row.reviewers {
            if let Some(label) = parse_label(label, &at)? {
                labels.insert(who.clone(), label);
            }
        }
        if labels.is_empty()
            && !row.reviewer.is_empty()
            && !row.reviewer.contains(", ")
            && let Some(label) = parse_label(&row.label, &at)?
        {
            labels.insert(row.reviewer.clone(), label);
        }
        let adjudication = match (&row.adjudicated_by, parse_label(&row.final_label, &at)?) {
            (Some(who), Some(label)) => Some((label, who.clone())),
            _ => None,
        };
        rows.push(ImportedRow {
            generation: row.generation,
            training: row.training,
            key: PairKey::new(&row.generation_hash, &row.training_hash),
            labels,
            notes: row
                .notes
                .into_iter()
                .filter(|(_, n)| !n.is_empty())
                .collect(),
            adjudication,
        });
    }
    Ok(rows)
}

fn read_csv(text: &str) -> Result<Vec<ImportedRow>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| format!("no CSV header ({e}); give a file `replicant export` wrote"))?
        .iter()
        .map(|h| csv_text_uncell(h).to_string())
        .collect();
    let column = |name: &str| headers.iter().position(|h| h == name);
    let needed = |name: &str| {
        column(name).ok_or_else(|| {
            format!(
                "no {name} column; give a file `replicant export` wrote (it keys labels by content)"
            )
        })
    };
    let (g_hash, t_hash) = (needed("generation_hash")?, needed("training_hash")?);
    let (generation, training) = (column("generation"), column("training"));
    let (label, reviewer, note) = (column("label"), column("reviewer"), column("note"));
    let (final_label, adjudicated_by) = (column("final_label"), column("adjudicated_by"));
    let per = |prefix: &str| -> Vec<(usize, String)> {
        headers
            .iter()
            .enumerate()
            .filter_map(|(i, h)| h.strip_prefix(prefix).map(|who| (i, who.to_string())))
            .collect()
    };
    let (label_columns, note_columns) = (per("label:"), per("note:"));
    let mut rows = Vec::new();
    for (n, record) in reader.records().enumerate() {
        let at = format!("row {}", n + 2);
        let record = record.map_err(|e| format!("{at}: {e}"))?;
        let cell = |i: Option<usize>| {
            i.and_then(|i| record.get(i))
                .map(|c| csv_text_uncell(c).to_string())
                .unwrap_or_default()
        };
        let mut labels = BTreeMap::new();
        for (i, who) in &label_columns {
            if let Some(l) = parse_label(&cell(Some(*i)), &at)? {
                labels.insert(who.clone(), l);
            }
        }
        let single = cell(reviewer);
        if labels.is_empty()
            && !single.is_empty()
            && !single.contains(", ")
            && let Some(l) = parse_label(&cell(label), &at)?
        {
            labels.insert(single.clone(), l);
        }
        let mut notes = BTreeMap::new();
        for (i, who) in &note_columns {
            let text = cell(Some(*i));
            if !text.is_empty() {
                notes.insert(who.clone(), text);
            }
        }
        if note_columns.is_empty() && !single.is_empty() && !single.contains(", ") {
            let text = cell(note);
            if !text.is_empty() {
                notes.insert(single.clone(), text);
            }
        }
        let who = cell(adjudicated_by);
        let adjudication = match (who.is_empty(), parse_label(&cell(final_label), &at)?) {
            (false, Some(l)) => Some((l, who)),
            _ => None,
        };
        rows.push(ImportedRow {
            generation: cell(generation),
            training: cell(training),
            key: PairKey::new(&cell(Some(g_hash)), &cell(Some(t_hash))),
            labels,
            notes,
            adjudication,
        });
    }
    Ok(rows)
}

/// Merges `rows` (read from `file`) into the label store of `project`.
pub fn import_rows(
    project: &Project,
    file: &Path,
    rows: &[ImportedRow],
) -> Result<ImportReport, ImportError> {
    let mut last = LastScan::load(project)?
        .ok_or_else(|| ImportError::NotScanned(project.dir.display().to_string()))?;
    fill_hashes(project, &mut last);
    let mut pairs: HashMap<PairKey, (&GenerationMatches, usize)> = HashMap::new();
    for result in &last.results {
        for (i, m) in result.matches.iter().enumerate() {
            if let Some(key) = PairKey::of(result, m) {
                pairs.entry(key).or_insert((result, i));
            }
        }
    }
    let (mut store, _) = open_review(project)?;
    let given: HashMap<(PairKey, String), Label> = store
        .reviewer_labels()?
        .into_iter()
        .map(|l| ((l.key, l.reviewer), l.label))
        .collect();
    let notes = store.reviewer_notes()?;
    let adjudicated: HashMap<PairKey, Label> = store
        .adjudications()?
        .into_iter()
        .map(|a| (a.key, a.label))
        .collect();
    let mut report = ImportReport {
        file: file.to_path_buf(),
        rows: rows.len(),
        ..ImportReport::default()
    };
    let mut reviewers = std::collections::BTreeSet::new();
    for row in rows {
        let shown = format!("{} ~ {}", row.generation, row.training);
        let Some(&(result, i)) = pairs.get(&row.key) else {
            report.unmatched.push(shown);
            continue;
        };
        report.matched += 1;
        let m = &result.matches[i];
        let names = (result.generation.as_str(), m.training.as_str());
        let context = crate::review::PairContext::of(result, m, &last.model_key);
        for (who, &label) in &row.labels {
            let who = checked_reviewer(who)?;
            match given.get(&(row.key.clone(), who.to_string())) {
                Some(&here) if here == label => report.already += 1,
                Some(&here) => report.conflicts.push(format!(
                    "{shown}: {who} labelled it {} here and {} in the file; kept {}",
                    here.as_str(),
                    label.as_str(),
                    here.as_str()
                )),
                None => {
                    store.set_label(&row.key, names, Some(label), who, &context)?;
                    report.labels_added += 1;
                    reviewers.insert(who.to_string());
                }
            }
        }
        for (who, note) in &row.notes {
            let who = checked_reviewer(who)?;
            match notes.get(&row.key).and_then(|by| by.get(who)) {
                Some(here) if here == note => report.already += 1,
                Some(here) => report.conflicts.push(format!(
                    "{shown}: {who}'s note here is {here:?}, in the file {note:?}; kept this project's"
                )),
                None => {
                    store.set_note(&row.key, names, note, who, &context)?;
                    report.notes_added += 1;
                    reviewers.insert(who.to_string());
                }
            }
        }
        if let Some((label, who)) = &row.adjudication {
            match adjudicated.get(&row.key) {
                Some(here) if here == label => report.already += 1,
                Some(here) => report.conflicts.push(format!(
                    "{shown}: adjudicated {} here and {} in the file; kept {}",
                    here.as_str(),
                    label.as_str(),
                    here.as_str()
                )),
                None => {
                    store.adjudicate(&row.key, Some(*label), who)?;
                    report.adjudications_added += 1;
                }
            }
        }
    }
    report.reviewers = reviewers.into_iter().collect();
    Ok(report)
}

/// Reads and merges each of `files` into `project`, in order.
pub fn import_files(
    project: &Project,
    files: &[PathBuf],
) -> Result<Vec<ImportReport>, ImportError> {
    files
        .iter()
        .map(|file| import_rows(project, file, &read_for(project, file)?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_and_jsonl_rows_read_back_each_reviewers_label_note_and_adjudication() {
        let csv = "generation,training,rank,similarity,label,reviewer,note,labelled_at,model,prompt,generation_hash,training_hash,duplicates,final_label,adjudicated_by,label:ann,label:=bob,note:ann\n\
                   g.png,t.png,1,0.9,full_copy,\"ann, =bob\",x,2026,m,,gh,th,,full_copy,dan,full_copy,distinct,ann's note\n";
        let rows = read_csv(csv).expect("csv");
        assert_eq!(rows.len(), 1);
        let row = &rows[0];
        assert_eq!(row.key, PairKey::new("gh", "th"));
        assert_eq!(row.labels.get("ann"), Some(&Label::FullCopy));
        assert_eq!(row.labels.get("=bob"), Some(&Label::Distinct));
        assert_eq!(row.notes.get("ann").map(String::as_str), Some("ann's note"));
        assert_eq!(row.adjudication, Some((Label::FullCopy, "dan".into())));

        let jsonl = r#"{"generation":"g.png","training":"t.png","rank":1,"similarity":0.9,"label":"","reviewer":"ann, bob","note":"","labelled_at":"","model":"m","prompt":null,"generation_hash":"gh","training_hash":"th","duplicates":null,"final_label":"","reviewers":{"ann":"near_copy","bob":"distinct"},"notes":{"bob":"why"}}"#;
        let rows = read_jsonl(jsonl).expect("jsonl");
        assert_eq!(rows[0].labels.len(), 2);
        assert_eq!(rows[0].adjudication, None);
        assert_eq!(rows[0].notes.get("bob").map(String::as_str), Some("why"));
        assert!(read_jsonl("{\"label\": \"odd\"}").is_err());
    }
}
