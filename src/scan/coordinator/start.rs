//! The scan's first phases: cataloguing both sides (or opening a prebuilt training index),
//! opening the project, and loading the model (and the cascade's student, when the cascade
//! runs). Each returns what the next phases take.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::embed::provision::Found;
use crate::embed::{Embedder, ExecutionProvider, ModelKey};
use crate::project::{Project, ProjectLock, ProjectSpec, absolute};
use crate::ranking::cascade::{self, CascadeSummary, ShortlistMode};
use crate::ranking::matches::{Side, SkippedFile, TruncatedShard};
use crate::ranking::regions;
use crate::scan::error::ScanError;
use crate::scan::events::EventSink;
use crate::scan::sources::{Catalogued, catalogue};
use crate::scan::training::Training;
use crate::scan::{ScanEvent, ScanOptions, ScanPhase};

/// Both sides catalogued, and what could not be used.
pub(super) struct Listed {
    pub(super) training: Training,
    pub(super) generations: Catalogued,
    pub(super) skipped: Vec<SkippedFile>,
    pub(super) notes: Vec<SkippedFile>,
    pub(super) truncated: Vec<TruncatedShard>,
}

/// Catalogues the training side (or opens the prebuilt index) and the generations, and lists
/// the generations and the skipped files; `None` when cancelled.
pub(super) fn catalogue_both(
    options: &ScanOptions,
    events: &EventSink,
    cancel: &Arc<AtomicBool>,
) -> Result<Option<Listed>, ScanError> {
    events.send(ScanEvent::Phase(ScanPhase::Cataloguing));
    let mut skipped = Vec::new();
    let mut notes = Vec::new();
    let mut truncated = Vec::new();
    let training = match &options.training_index {
        Some(dir) => {
            let training = Training::prebuilt(dir, &*options.store)?;
            if let Training::Prebuilt(prebuilt) = &training {
                events.info(format!(
                    "training index {}: {} images embedded with {}, {} search, memory-mapped",
                    dir.display(),
                    prebuilt.manifest.rows,
                    prebuilt.manifest.model_key,
                    if prebuilt.manifest.build.exact {
                        "exact"
                    } else {
                        "approximate (HNSW)"
                    }
                ));
                // The index's own account of what its workers could not read is this
                // scan's too: a shard lost there is lost here.
                skipped.extend(prebuilt.manifest.skipped.iter().cloned());
                notes.extend(prebuilt.manifest.notes.iter().cloned());
                truncated.extend(prebuilt.manifest.truncated_shards.iter().cloned());
            }
            training
        }
        None => {
            let catalogued =
                catalogue(&options.training, Side::Training, &mut skipped, &mut notes)?;
            truncated.extend(catalogued.truncated.iter().cloned());
            Training::Sources {
                catalogued,
                pending: HashMap::new(),
                index: None,
            }
        }
    };
    let mut generations = catalogue(
        std::slice::from_ref(&options.generations),
        Side::Generation,
        &mut skipped,
        &mut notes,
    )?;
    if let Some(path) = &options.prompt_set {
        link_prompts(path, &mut generations, events)?;
    }
    truncated.extend(generations.truncated.iter().cloned());
    events.send(ScanEvent::Listed(
        generations
            .records
            .iter()
            .map(|r| crate::scan::PendingGeneration {
                generation: r.display.clone(),
                generation_path: r.entry.location.file().to_path_buf(),
                prompt: r.text(),
            })
            .collect(),
    ));
    for file in skipped.iter().chain(&notes) {
        events.send(ScanEvent::Skipped(file.clone()));
    }
    if cancel.load(Ordering::Relaxed) {
        return Ok(None);
    }
    Ok(Some(Listed {
        training,
        generations,
        skipped,
        notes,
        truncated,
    }))
}

/// Links each generation to the prompt of the set at `path` that it is named after (or that
/// its sidecar or metadata file names), taking the prompt as its own where it has none.
fn link_prompts(
    path: &std::path::Path,
    generations: &mut Catalogued,
    events: &EventSink,
) -> Result<(), ScanError> {
    let set = crate::prompts::set::PromptSet::read(path).map_err(ScanError::PromptSet)?;
    let mut linked = 0;
    for record in &mut generations.records {
        let Some(line) = set.line_of(&record.entry.rel_path, record.given_id.as_deref()) else {
            continue;
        };
        if record.text.is_none() {
            record.text = Some(line.prompt.clone());
        }
        record.prompt_source = Some(line.link());
        linked += 1;
    }
    events.info(format!(
        "prompt set {}: {linked} of {} generations linked to its {} prompts",
        path.display(),
        generations.records.len(),
        set.len()
    ));
    Ok(())
}

/// Opens (or creates) the scan's project and takes its lock: one writer per project.
pub(super) fn open_project(options: &ScanOptions) -> Result<(ProjectLock, Project), ScanError> {
    let project_dir = options.project_dir.clone().unwrap_or_else(|| {
        Project::default_dir(
            &options.generations,
            &options.training,
            options.training_index.as_deref(),
        )
    });
    let spec = ProjectSpec {
        generations: absolute(&options.generations),
        training: options.training.iter().map(|t| absolute(t)).collect(),
        training_index: options.training_index.as_deref().map(absolute),
        model: match &options.model.choice {
            crate::embed::ModelChoice::File(path) => absolute(path).to_string_lossy().into_owned(),
            other => options.models.name(other),
        },
    };
    let lock = Project::lock_for_scan(&project_dir)?;
    let project = Project::for_scan(&project_dir, spec)?;
    Ok((lock, project))
}

/// The models the scan runs, and what was decided about the cascade.
pub(super) struct LoadedModels {
    /// The model that embeds first: the student with the cascade, else the model.
    pub(super) first_embedder: Box<dyn Embedder>,
    pub(super) cascade: Option<CascadeRun>,
    /// The key of the first embedder's embeddings (the training index's).
    pub(super) model_key: ModelKey,
    /// The key of the reported similarities.
    pub(super) similarity_key: ModelKey,
    pub(super) ranked_by: String,
    pub(super) provider: ExecutionProvider,
    pub(super) preprocessing: String,
    pub(super) shortlist_size: Option<usize>,
    pub(super) shortlist_reason: Option<String>,
    /// The runtime and model file, for the fine pass's model.
    pub(super) library: Found,
    pub(super) model_file: Found,
}

/// Loads the model (and the student when the cascade runs), and checks a prebuilt index
/// against the model that embeds first.
///
/// Over 100 lines on purpose: what loading decides, in order (the model, whether the cascade runs
/// and why, the student, the prebuilt index's model check), each decision reading the last; the
/// cascade's rule itself is `cascade_decision`.
pub(super) fn load_models(
    options: &ScanOptions,
    events: &EventSink,
    training: &Training,
    generation_count: usize,
) -> Result<LoadedModels, ScanError> {
    events.send(ScanEvent::Phase(ScanPhase::LoadingModel));
    let models = &options.models;
    let (library, model_file) = models
        .resolve(&options.model, &mut |line| events.info(line))
        .map_err(ScanError::Runtime)?;
    let embedder = models.load(&options.model, &library, &model_file)?;
    let similarity_key = embedder.model_key().clone();
    let provider = embedder.execution_provider();
    let preprocessing = embedder.preprocess().describe();
    events.info(format!(
        "model {similarity_key} running on {provider} (ONNX Runtime {} from {})",
        library.path.display(),
        library.origin
    ));
    let mut shortlist_reason = None;
    let shortlist_size = match cascade_decision(options, training, generation_count, provider) {
        Ok(size) => size,
        Err(why) => {
            events.info(why.clone());
            shortlist_reason = Some(why);
            None
        }
    };
    if shortlist_reason.is_none() && options.shortlist.mode == ShortlistMode::Auto {
        shortlist_reason = Some(match shortlist_size {
            Some(_) => format!(
                "auto: on (training images outnumber generations, or the training index holds {} embeddings)",
                models.default_student_name()
            ),
            None => "auto: off (training images do not outnumber generations enough)".into(),
        });
    }
    // With the cascade, the student embeds the training side and every generation first;
    // full SSCD waits for the re-scoring phase.
    let (mut first_embedder, cascade): (Box<dyn Embedder>, _) = match shortlist_size {
        Some(size) => {
            let mut request = options.model.clone();
            request.choice = models
                .student(&options.model.choice)
                .ok_or_else(|| ScanError::Runtime("this model has no student".into()))?;
            let (library, student_file) = models
                .resolve(&request, &mut |line| events.info(line))
                .map_err(ScanError::Runtime)?;
            let student = models.load(&request, &library, &student_file)?;
            events.info(format!(
                "shortlist cascade on: training images are indexed with {} and each generation's top {size} are re-scored with {similarity_key}",
                student.model_key()
            ));
            let run = CascadeRun {
                size,
                scorer: Some(embedder),
                shortlists: Vec::new(),
                summary: CascadeSummary {
                    shortlist_model: student.model_key().clone(),
                    shortlist_size: size,
                    ..CascadeSummary::default()
                },
            };
            (student, Some(run))
        }
        None => (embedder, None),
    };
    let model_key = first_embedder.model_key().clone();
    if let Training::Prebuilt(prebuilt) = training {
        if prebuilt.manifest.model_key != model_key {
            return Err(ScanError::ModelMismatch {
                index: prebuilt.dir.display().to_string(),
                index_key: prebuilt.manifest.model_key.clone(),
                scan_key: model_key,
            });
        }
        // The manifest's model key is a claim; the probe embedding the workers made with
        // their model checks it against the model this scan runs.
        let probe = crate::embed::probe::probe_vector(first_embedder.as_mut())?;
        let (same, cosine) =
            crate::embed::probe::same_model(&prebuilt.manifest.model_probe, &probe);
        if !same {
            return Err(ScanError::IndexNotOfModel {
                index: prebuilt.dir.display().to_string(),
                model_key,
                cosine,
            });
        }
    }
    let ranked_by = match &cascade {
        Some(_) => cascade::ranked_by(
            &models
                .student(&options.model.choice)
                .map_or_else(String::new, |s| models.name(&s)),
            &models.name(&options.model.choice),
        ),
        None => models.name(&options.model.choice),
    };
    Ok(LoadedModels {
        first_embedder,
        cascade,
        model_key,
        similarity_key,
        ranked_by,
        provider,
        preprocessing,
        shortlist_size,
        shortlist_reason,
        library,
        model_file,
    })
}

/// The cascade's state in a scan (see [`crate::ranking::cascade`]).
pub(super) struct CascadeRun {
    /// Training images re-scored per generation.
    pub(super) size: usize,
    /// Full SSCD, until the re-scoring phase takes it.
    pub(super) scorer: Option<Box<dyn Embedder>>,
    /// Each generation's shortlist by the student (index keys, best first), in the order the
    /// generations were embedded.
    pub(super) shortlists: Vec<(usize, Vec<u64>)>,
    pub(super) summary: CascadeSummary,
}

impl CascadeRun {
    /// Takes generation `i`'s shortlist by the student from its `views` over `index`: the
    /// whole image and the `coarse` region windows that are not blank; nothing without a
    /// whole-image view.
    pub(super) fn take_shortlist(
        &mut self,
        i: usize,
        views: &[(String, Vec<f32>)],
        coarse: Option<regions::RegionPlan>,
        index: &dyn crate::index::TrainingIndex,
        by_structure: &[crate::index::Hit],
    ) -> Result<(), ScanError> {
        if !views.iter().any(|(name, _)| name.is_empty()) {
            return Ok(());
        }
        let searched = views
            .iter()
            .filter(|(name, vector)| {
                let searched_view =
                    name.is_empty() || coarse.is_some_and(|plan| plan.cell_of_view(name).is_some());
                // Blank windows have no vector (see `src/ranking/blank.rs`).
                searched_view && !vector.is_empty()
            })
            .map(|(_, v)| v.as_slice());
        let hits = cascade::shortlist(searched, index, self.size)?;
        let mut keys: Vec<u64> = hits.into_iter().map(|h| h.key).collect();
        // Structure's candidates are re-scored with full SSCD too, so they can be ranked.
        for hit in by_structure {
            if !keys.contains(&hit.key) {
                keys.push(hit.key);
            }
        }
        self.shortlists.push((i, keys));
        Ok(())
    }
}

/// Whether the scan runs the shortlist cascade, and with what size: `Ok(None)` when it is
/// not wanted, `Err(why)` when it was asked for (or would be on) but cannot run.
fn cascade_decision(
    options: &ScanOptions,
    training: &Training,
    generations: usize,
    provider: ExecutionProvider,
) -> Result<Option<usize>, String> {
    let mode = options.shortlist.mode;
    let size = options.shortlist.size();
    if mode == ShortlistMode::Off {
        return Ok(None);
    }
    // The cascade needs a model with a student (full SSCD, re-scoring its distilled one's
    // shortlists); the model registry says which.
    let models = &options.models;
    let full_sscd = models.student(&options.model.choice).is_some();
    match training {
        Training::Prebuilt(prebuilt) => {
            let distilled_index = models.made_by_default_student(&prebuilt.manifest.model_key);
            match (distilled_index, full_sscd) {
                (true, true) => Ok(Some(size)),
                (false, _) if mode == ShortlistMode::On => Err(format!(
                    "shortlist cascade off: the training index holds {} embeddings, not {student} ones (`replicant embed --model {student}`, then `replicant index build`, for an index the cascade can use)",
                    prebuilt.manifest.model_key,
                    student = models.default_student_name()
                )),
                (true, false) => Err(format!(
                    "shortlist cascade off: it re-scores with full SSCD, and this scan runs {} (give --model {} to re-score the index's {} shortlists)",
                    models.name(&options.model.choice),
                    models.name(&models.default_model()),
                    models.default_student_name()
                )),
                (false, _) => Ok(None),
            }
        }
        Training::Sources { catalogued, .. } => {
            let training_images = catalogued.records.len();
            let outnumbered = generations > 0
                && training_images >= generations.saturating_mul(cascade::AUTO_MIN_RATIO);
            if mode == ShortlistMode::Auto && outnumbered && provider.is_gpu() {
                // Measured on an H200 (docs/scanning.md, "The GPU path"): full SSCD embeds about half as
                // fast as the student there, not a fifth, and the re-scoring phase ran far
                // slower than the first, so a 100:1 audit took 29 s with the cascade and 18 s
                // without.
                return Err(format!(
                    "shortlist cascade off: on {provider} full SSCD is about half as fast as the student, so the cascade saves less than re-scoring costs (--shortlist on forces it)"
                ));
            }
            let wanted = mode == ShortlistMode::On || outnumbered;
            match (wanted, full_sscd) {
                (true, true) => Ok(Some(size)),
                (true, false) if mode == ShortlistMode::On => Err(format!(
                    "shortlist cascade off: it needs --model sscd (this scan runs {})",
                    models.name(&options.model.choice)
                )),
                _ => Ok(None),
            }
        }
    }
}

/// Which region windows the scan searches (the coarse ones, and the fine ones unless the
/// cascade runs), and why, when it was decided rather than asked.
pub(super) fn decide_regions(
    options: &ScanOptions,
    events: &EventSink,
    generations: usize,
    training_images: usize,
    with_cascade: bool,
) -> (regions::RegionChoice, Option<String>) {
    let (mut choice, why) = regions::RegionChoice::decide(
        options.matching.regions,
        options.matching.region_plan,
        options.matching.fine_plan,
        generations,
        training_images,
    );
    let mut regions_reason = why.clone();
    if let Some(line) = why {
        events.info(line);
    }
    if with_cascade && choice.fine.take().is_some() {
        // The cascade knows SSCD's similarity only once a shortlist is re-scored, too late
        // to decide which generations need the fine windows.
        let line = "fine windows are not searched with the shortlist cascade (--shortlist off searches them)";
        events.info(line);
        regions_reason = Some(match regions_reason {
            Some(auto) => format!("{auto}; {line}"),
            None => line.to_string(),
        });
    }
    (choice, regions_reason)
}
