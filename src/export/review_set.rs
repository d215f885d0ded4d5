//! Exporting the labelled review set: CSV, JSON Lines or one self-contained HTML page, with
//! optional copies of both images of each pair. Files are written atomically and never
//! overwrite an existing file unless asked to.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::catalog::{ImageLocation, MAX_IMAGE_FILE_BYTES};
use crate::fsutil::write_atomically;
use crate::review::{LabelRecord, PairKey};

use super::review_html::write_html;
use super::review_row::{Cell, ReviewRow};

/// The review set's file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ReviewFormat {
    /// One row per labelled pair.
    Csv,
    /// One JSON object per labelled pair.
    JsonLines,
    /// One self-contained page with the pairs side by side.
    Html,
    /// One row per labelled pair, typed columns, for pandas and pyarrow.
    Parquet,
    /// A page on which a reviewer labels the pairs in a browser (see
    /// [`super::review_page`]); only `--format review-html` asks for it.
    ReviewPage,
}

impl ReviewFormat {
    /// Parses `csv`, `jsonl`, `html`, `parquet` or `review-html`.
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "csv" => Some(Self::Csv),
            "parquet" => Some(Self::Parquet),
            "review-html" => Some(Self::ReviewPage),
            "jsonl" | "json" => Some(Self::JsonLines),
            "html" | "htm" => Some(Self::Html),
            _ => None,
        }
    }

    /// The format a file name implies (CSV when it implies none).
    pub fn for_path(path: &Path) -> Self {
        Self::for_extension(path).unwrap_or(Self::Csv)
    }

    /// The format a file name implies: CSV without an extension, an error naming an
    /// extension this program does not write.
    pub fn for_extension(path: &Path) -> Result<Self, String> {
        let Some(ext) = path.extension() else {
            return Ok(Self::Csv);
        };
        let ext = ext.to_string_lossy();
        Self::parse(&ext).ok_or_else(|| {
            format!(
                "{}: exports are written as CSV (.csv), JSON Lines (.jsonl), HTML (.html) or Parquet (.parquet), not .{ext}; give one of those extensions or --format",
                path.display()
            )
        })
    }
}

/// Errors from exporting. Each names the path and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The output exists and overwriting was not asked for.
    #[error("{0} already exists; choose another name or pass --force to replace it")]
    Exists(PathBuf),
    /// Writing failed.
    #[error(
        "cannot write {path}: {source}; {remedy}",
        remedy = crate::fsutil::io_remedy(source, "check the folder exists and is writable")
    )]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The export was cancelled; nothing was written.
    #[error("the export was cancelled; nothing was written")]
    Cancelled,
}

/// What an export wrote.
#[derive(Debug, Clone, Default)]
pub struct ExportReport {
    /// Labelled pairs written.
    pub pairs: usize,
    /// Image files copied (with images).
    pub images_copied: usize,
    /// Images that could not be copied or shown, with reasons.
    pub problems: Vec<String>,
    /// The images folder, when images were copied.
    pub images_dir: Option<PathBuf>,
}

/// The pairs' current names (generation, training) by key: a pair absent from it is shown
/// under the names it was labelled under.
pub type CurrentNames = HashMap<PairKey, (String, String)>;

/// Whether `record`'s pair belongs in an export: any reviewer or an adjudication still labels
/// it (one reviewer clearing their own label leaves the others'), or, when `reviews` knows
/// nothing of it (a store from before the history), its record has a label.
pub fn is_exported(record: &LabelRecord, reviews: &crate::review::reviewers::Reviews) -> bool {
    reviews.is_labelled(&record.key)
        || (!reviews.by_pair.contains_key(&record.key) && record.label.is_some())
}

/// The rows of the pairs of `records` that [`is_exported`] keeps (and, with
/// `with_unlabelled`, the pairs nobody labels too, with an empty label), each under its
/// current names, with `reviews`' labels by reviewer, notes by reviewer and final label (a
/// pair `reviews` does not know keeps its record's label as final).
pub fn review_rows(
    records: &[LabelRecord],
    names: &CurrentNames,
    reviews: &crate::review::reviewers::Reviews,
    with_unlabelled: bool,
) -> Vec<ReviewRow> {
    records
        .iter()
        .filter(|r| with_unlabelled || is_exported(r, reviews))
        .map(|r| {
            let (generation, training) = names
                .get(&r.key)
                .cloned()
                .unwrap_or_else(|| (r.generation.clone(), r.training.clone()));
            let by_reviewer = reviews.by_pair.get(&r.key).filter(|by| !by.is_empty());
            let final_label = if reviews.is_labelled(&r.key) {
                reviews.finals.get(&r.key).map(|l| l.as_str().to_string())
            } else if by_reviewer.is_none() && !reviews.by_pair.contains_key(&r.key) {
                r.label.map(|l| l.as_str().to_string())
            } else {
                None
            }
            .unwrap_or_default();
            let notes = reviews.notes.get(&r.key).cloned().unwrap_or_else(|| {
                if r.note.is_empty() {
                    Default::default()
                } else {
                    [(r.reviewer.clone(), r.note.clone())].into()
                }
            });
            // Who labels it now: its reviewers' names (the latest record's author may be
            // someone who cleared theirs).
            let reviewer = match by_reviewer {
                Some(by) => by.keys().cloned().collect::<Vec<_>>().join(", "),
                None if r.label.is_some() => r.reviewer.clone(),
                None => String::new(),
            };
            let note = match notes.len() {
                0 => String::new(),
                1 if notes.contains_key(&reviewer) => {
                    notes.values().next().cloned().unwrap_or_default()
                }
                _ => notes
                    .iter()
                    .map(|(who, note)| format!("{who}: {note}"))
                    .collect::<Vec<_>>()
                    .join(" | "),
            };
            ReviewRow {
                generation,
                training,
                rank: r.context.rank,
                similarity: (r.context.similarity * 10_000.0).round() / 10_000.0,
                label: final_label.clone(),
                duplicates: r.context.duplicates,
                final_label,
                reviewers: by_reviewer
                    .map(|given| {
                        given
                            .iter()
                            .map(|(who, l)| (who.clone(), l.as_str().to_string()))
                            .collect()
                    })
                    .unwrap_or_default(),
                reviewer,
                note,
                notes,
                adjudicated_by: reviews.adjudicated.get(&r.key).cloned(),
                labelled_at: r.labelled_at.clone(),
                model: r.context.model_key.to_string(),
                prompt: r.context.prompt.clone(),
                generation_hash: r.key.generation_hash.clone(),
                training_hash: r.key.training_hash.clone(),
                samples: r.context.samples.clone(),
            }
        })
        .collect()
}

/// How to export.
pub struct ExportRequest<'a> {
    /// The format.
    pub format: ReviewFormat,
    /// Copy both images of each pair into `<out stem>_images/` beside the file.
    pub with_images: bool,
    /// Replace existing files.
    pub force: bool,
    /// The pairs' current names.
    pub names: &'a CurrentNames,
    /// Whether an image may be read: only those inside the project's folders are (a
    /// tampered store must not make an export copy any file it names).
    pub readable: &'a dyn Fn(&ImageLocation) -> bool,
    /// Called with (pairs done, pairs in all) as images are read; returning false cancels.
    pub progress: &'a mut dyn FnMut(usize, usize) -> bool,
    /// Every reviewer's label and the final ones (empty: each record's label is final).
    pub reviews: &'a crate::review::reviewers::Reviews,
    /// Write the pairs nobody labels too (records without a label, e.g. a scan's pairs
    /// sent out to be labelled elsewhere), with an empty label.
    pub with_unlabelled: bool,
    /// The project's identity ([`crate::project::Project::identity`]): a review page carries
    /// it so that its labels return only to this project. Needed for `ReviewPage`.
    pub project_identity: Option<&'a str>,
}

/// Writes the review set of `records` to `out` as `request` says. Nothing is written when it
/// fails or is cancelled, except image copies already made.
///
/// Over 100 lines on purpose: the export's steps in order (collect the rows, copy the images when
/// asked, format the body, write the file atomically last), so that nothing is left half-written
/// whatever step fails.
pub fn export_review_set(
    records: &[LabelRecord],
    out: &Path,
    request: ExportRequest<'_>,
) -> Result<ExportReport, ExportError> {
    let ExportRequest {
        format,
        with_images,
        force,
        names,
        readable,
        progress,
        reviews,
        with_unlabelled,
        project_identity,
    } = request;
    if out.exists() && !force {
        return Err(ExportError::Exists(out.to_path_buf()));
    }
    // The same selection as the rows', in the same order: images are found by position.
    let labelled: Vec<&LabelRecord> = records
        .iter()
        .filter(|r| with_unlabelled || is_exported(r, reviews))
        .collect();
    let rows = review_rows(records, names, reviews, with_unlabelled);
    let mut report = ExportReport {
        pairs: rows.len(),
        ..ExportReport::default()
    };
    let locations: Vec<[Option<ImageLocation>; 2]> = labelled
        .iter()
        .map(|record| {
            [generation_location(record), record.context.training_path.clone()].map(|location| {
                let location = location?;
                if readable(&location) {
                    Some(location)
                } else {
                    report.problems.push(format!(
                        "{} is outside the project's folders; not read (the label store may have been edited)",
                        location.display()
                    ));
                    None
                }
            })
        })
        .collect();
    let images_dir = with_images.then(|| images_dir_for(out));
    let mut copied: Vec<[Option<String>; 2]> = vec![[None, None]; labelled.len()];
    if let Some(dir) = &images_dir {
        if dir.exists() && !force {
            return Err(ExportError::Exists(dir.clone()));
        }
        std::fs::create_dir_all(dir).map_err(|source| ExportError::Io {
            path: dir.clone(),
            source,
        })?;
        for (i, row) in rows.iter().enumerate() {
            if !progress(i, rows.len()) {
                return Err(ExportError::Cancelled);
            }
            let sides = [("generation", &row.generation), ("training", &row.training)];
            for (slot, (side, name)) in sides.into_iter().enumerate() {
                let Some(source) = &locations[i][slot] else {
                    report
                        .problems
                        .push(format!("{name}: location unknown or refused, not copied"));
                    continue;
                };
                let file = format!("{:04}_{side}_{}", i + 1, file_name_of(name));
                let copied_file = source
                    .read(MAX_IMAGE_FILE_BYTES)
                    .and_then(|bytes| std::fs::write(dir.join(&file), bytes));
                match copied_file {
                    Ok(()) => {
                        report.images_copied += 1;
                        copied[i][slot] = Some(format!(
                            "{}/{}",
                            dir.file_name()
                                .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
                            file
                        ));
                    }
                    Err(err) => report.problems.push(format!("{}: {err}", source.display())),
                }
            }
        }
        report.images_dir = Some(dir.clone());
    }
    let mut body = Vec::new();
    match format {
        ReviewFormat::Csv => write_csv(&rows, &reviews.reviewers, &mut body),
        ReviewFormat::JsonLines => write_jsonl(&rows, &mut body),
        ReviewFormat::Parquet => super::parquet::review_set_parquet(&rows, &reviews.reviewers)
            .map(|bytes| body = bytes)
            .map_err(std::io::Error::other),
        ReviewFormat::ReviewPage => match project_identity {
            Some(identity) => super::review_page::write_review_page(
                &rows,
                &locations,
                identity,
                &mut body,
                &mut report.problems,
                progress,
            ),
            None => Err(std::io::Error::other(
                "a review page needs its project's identity; export it with `replicant export --format review-html`",
            )),
        },
        ReviewFormat::Html => write_html(
            &rows,
            &locations,
            &copied,
            &mut body,
            &mut report.problems,
            progress,
        ),
    }
    .map_err(|source| {
        if source.kind() == std::io::ErrorKind::Interrupted {
            ExportError::Cancelled
        } else {
            ExportError::Io {
                path: out.to_path_buf(),
                source,
            }
        }
    })?;
    if !progress(rows.len(), rows.len()) {
        return Err(ExportError::Cancelled);
    }
    write_atomically(out, &body).map_err(|source| ExportError::Io {
        path: out.to_path_buf(),
        source,
    })?;
    Ok(report)
}

fn images_dir_for(out: &Path) -> PathBuf {
    let stem = out
        .file_stem()
        .map_or_else(|| "review".into(), |s| s.to_string_lossy().into_owned());
    out.with_file_name(format!("{stem}_images"))
}

fn file_name_of(rel: &str) -> String {
    rel.rsplit('/')
        .next()
        .unwrap_or(rel)
        .chars()
        .map(|c| if c.is_control() { '_' } else { c })
        .collect()
}

/// A text cell for a CSV file that spreadsheets open: a cell starting with `=`, `+`, `-`,
/// `@`, a tab or a carriage return is a formula to Excel, LibreOffice and Sheets (OWASP's
/// "CSV injection"), so it gets a leading `'`, which they show as text and do not run.
/// Numbers the program writes itself are left as they are.
pub fn csv_text_cell(text: &str) -> std::borrow::Cow<'_, str> {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{text}"))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// Undoes [`csv_text_cell`] (for reading a review set back).
pub fn csv_text_uncell(text: &str) -> &str {
    match text.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest,
        _ => text,
    }
}

fn write_csv(rows: &[ReviewRow], reviewers: &[String], out: &mut Vec<u8>) -> std::io::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    let mut header: Vec<String> = super::review_row::COLUMNS
        .map(|c| c.name.to_string())
        .to_vec();
    // Two columns per reviewer, named after them (neutralised like any text cell): their
    // label and their note, so a review travels whole (`replicant label import`).
    header.extend(
        reviewers
            .iter()
            .map(|r| csv_text_cell(&format!("label:{r}")).into_owned()),
    );
    let note_writers = super::review_row::note_writers(rows);
    header.extend(
        note_writers
            .iter()
            .map(|r| csv_text_cell(&format!("note:{r}")).into_owned()),
    );
    writer.write_record(&header)?;
    for row in rows {
        let mut cells: Vec<String> = super::review_row::COLUMNS
            .iter()
            .map(|spec| match row.cell(spec.name) {
                Cell::Text(text) => csv_text_cell(text.unwrap_or("")).into_owned(),
                Cell::Count(count) => count.map_or_else(String::new, |c| c.to_string()),
                Cell::Similarity(similarity) => format!("{similarity:.4}"),
            })
            .collect();
        cells.extend(
            reviewers
                .iter()
                .map(|r| row.reviewers.get(r).cloned().unwrap_or_default()),
        );
        cells.extend(
            note_writers
                .iter()
                .map(|r| csv_text_cell(row.notes.get(*r).map_or("", String::as_str)).into_owned()),
        );
        writer.write_record(&cells)?;
    }
    writer.flush()
}

fn write_jsonl(rows: &[ReviewRow], out: &mut Vec<u8>) -> std::io::Result<()> {
    for row in rows {
        serde_json::to_writer(&mut *out, row)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// The generation's location, from what its label recorded.
fn generation_location(record: &LabelRecord) -> Option<ImageLocation> {
    record
        .context
        .generation_path
        .clone()
        .map(ImageLocation::File)
}

#[cfg(test)]
mod tests;
