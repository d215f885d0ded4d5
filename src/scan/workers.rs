//! The scan's worker threads: decoding and resizing on a rayon pool, inference on one thread
//! that owns the model. Both stop when the cancel flag is set or their output channel closes.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};

use crate::catalog::{ImageLocation, MAX_IMAGE_FILE_BYTES, prompt_from_png_text};
use crate::decode::{DecodeLimits, decode_for_model, decode_image};
use crate::embed::{Embedder, Preprocess, model_input, resize_for_model};
use crate::project::cache::ContentHash;
use crate::ranking::blank::window_is_blank;
use crate::ranking::layout::layout_luma;

/// Which image of the scan an item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Slot {
    /// Index into the training list.
    Training(usize),
    /// Index into the generation list.
    Generation(usize),
}

/// An image (file or tar member) to read, hash and (unless its content is cached) embed.
#[derive(Debug, Clone)]
pub(crate) struct WorkItem {
    pub slot: Slot,
    pub location: ImageLocation,
}

/// One embedded view of an image: the whole image (`name` empty) or a region of it.
#[derive(Debug, Clone)]
pub(crate) struct EmbeddedView {
    pub name: String,
    pub vector: Vec<f32>,
}

/// What the workers tell the coordinator.
pub(crate) enum Report {
    /// The content is already embedded (the file was renamed, copied or touched).
    Known {
        slot: Slot,
        hash: ContentHash,
        png_prompt: Option<String>,
    },
    /// The file could not be used.
    Failed {
        slot: Slot,
        hash: Option<ContentHash>,
        reason: String,
        remember: bool,
    },
    /// A batch came out of the model.
    Embedded(Vec<EmbeddedItem>),
    /// The model failed; the scan cannot go on.
    InferenceFailed(String),
}

/// An image and its embeddings.
pub(crate) struct EmbeddedItem {
    pub slot: Slot,
    pub hash: ContentHash,
    pub png_prompt: Option<String>,
    pub views: Vec<EmbeddedView>,
    /// The whole image's layout thumbnail ([`crate::ranking::layout::layout_luma`]).
    pub luma: Vec<u8>,
    /// The decoded image's width and height in pixels.
    pub size_px: (u32, u32),
    /// What a reviewer should know about how it was read (a partial decode, a prompt cut).
    pub notes: Vec<String>,
}

struct Prepared {
    slot: Slot,
    hash: ContentHash,
    png_prompt: Option<String>,
    views: Vec<(String, Vec<u8>)>,
    luma: Vec<u8>,
    size_px: (u32, u32),
    notes: Vec<String>,
}

/// What the decode workers need to know.
pub(crate) struct DecodeContext {
    pub items: Vec<WorkItem>,
    pub known: HashSet<ContentHash>,
    /// With regions on: generations whose regions are embedded too (`None`: regions off).
    pub known_with_regions: Option<HashSet<ContentHash>>,
    /// The region views' window plan.
    pub region_plan: crate::ranking::regions::RegionPlan,
    pub failures: HashMap<ContentHash, String>,
    pub preprocess: Preprocess,
    pub limits: DecodeLimits,
}

/// The running workers; joined when dropped.
pub(crate) struct Workers {
    threads: Vec<JoinHandle<()>>,
}

impl Drop for Workers {
    fn drop(&mut self) {
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// Images per batch when none is asked for: 16 keeps a CPU's cores busy without holding many
/// decoded images; a GPU wants large batches to fill it (each 320x320 RGB input is 300 KB, so
/// 128 of them are 39 MB).
pub(crate) fn auto_batch_size(execution_provider: crate::embed::ExecutionProvider) -> usize {
    if execution_provider.is_gpu() { 128 } else { 16 }
}

/// Starts the decode pool and the inference thread. Items are taken in order (training first),
/// so the training index can be built as soon as the training images are done.
pub(crate) fn spawn(
    context: DecodeContext,
    mut embedder: Box<dyn Embedder>,
    batch_size: usize,
    decode_threads: usize,
    cancel: Arc<AtomicBool>,
    reports: Sender<Report>,
) -> std::io::Result<Workers> {
    let threads_wanted = if decode_threads == 0 {
        std::thread::available_parallelism().map_or(1, usize::from)
    } else {
        decode_threads
    };
    let batch_size = if batch_size == 0 {
        auto_batch_size(embedder.execution_provider())
    } else {
        batch_size
    };
    let (prepared_tx, prepared_rx) = crossbeam_channel::bounded::<Prepared>(batch_size * 2);

    let inference_reports = reports.clone();
    let inference_cancel = cancel.clone();
    let inference = std::thread::Builder::new()
        .name("replicant-inference".into())
        .spawn(move || {
            inference_loop(
                embedder.as_mut(),
                &prepared_rx,
                batch_size,
                &inference_cancel,
                &inference_reports,
            )
        })?;

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads_wanted)
        .thread_name(|i| format!("replicant-decode-{i}"))
        .build()
        .map_err(std::io::Error::other)?;
    let context = Arc::new(context);
    let feeder = std::thread::Builder::new()
        .name("replicant-decode-feed".into())
        .spawn(move || {
            let next = AtomicUsize::new(0);
            pool.scope(|scope| {
                for _ in 0..threads_wanted {
                    scope.spawn(|_| decode_loop(&context, &next, &cancel, &prepared_tx, &reports));
                }
            });
        })?;
    Ok(Workers {
        threads: vec![feeder, inference],
    })
}

/// Over 100 lines on purpose: one decoding thread's loop, where each way an image can fail
/// (unreadable, too large, a bad member, cancelled) is answered at the point it happens with the
/// image's own report; the decoding and preprocessing themselves are `decode` and
/// `embed::preprocess`.
fn decode_loop(
    context: &DecodeContext,
    next: &AtomicUsize,
    cancel: &AtomicBool,
    prepared: &Sender<Prepared>,
    reports: &Sender<Report>,
) {
    loop {
        if cancel.load(Ordering::Relaxed) {
            return;
        }
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(item) = context.items.get(i) else {
            return;
        };
        let bytes = match item.location.read(MAX_IMAGE_FILE_BYTES) {
            Ok(bytes) => bytes,
            Err(err) => {
                let what = if item.location.member().is_some() {
                    "the tar member"
                } else {
                    "the file"
                };
                let reason =
                    format!("cannot read {what}: {err}; check that it exists and is readable");
                if reports
                    .send(Report::Failed {
                        slot: item.slot,
                        hash: None,
                        reason,
                        remember: false,
                    })
                    .is_err()
                {
                    return;
                }
                continue;
            }
        };
        let hash: ContentHash = *blake3::hash(&bytes).as_bytes();
        let embedded = prompt_from_png_text(&bytes);
        let mut notes = Vec::new();
        if embedded.as_ref().is_some_and(|p| p.truncated) {
            notes.push(format!(
                "the prompt in its PNG text is over {} MiB; only the first {} MiB was read",
                crate::catalog::MAX_PNG_TEXT_BYTES >> 20,
                crate::catalog::MAX_PNG_TEXT_BYTES >> 20
            ));
        }
        let png_prompt = embedded.map(|p| p.text);
        let regions =
            matches!(item.slot, Slot::Generation(_)) && context.known_with_regions.is_some();
        let known = match (&context.known_with_regions, item.slot) {
            (Some(with_regions), Slot::Generation(_)) => with_regions.contains(&hash),
            _ => context.known.contains(&hash),
        };
        let report = if known {
            Report::Known {
                slot: item.slot,
                hash,
                png_prompt,
            }
        } else if let Some(reason) = context.failures.get(&hash) {
            Report::Failed {
                slot: item.slot,
                hash: Some(hash),
                reason: reason.clone(),
                remember: false,
            }
        } else {
            // Region windows need every pixel; the whole image alone may come from a JPEG
            // decoded at a reduced scale.
            let decoded = if regions {
                decode_image(&bytes, &context.limits)
            } else {
                let side = context.preprocess.width.max(context.preprocess.height);
                decode_for_model(&bytes, &context.limits, side)
            };
            match decoded {
                Ok(decoded) => {
                    drop(bytes);
                    // The layout comes from the model's input: already small, and resized
                    // from the whole frame exactly as SSCD sees it.
                    let input = model_input(&decoded.rgb, &context.preprocess);
                    let luma = layout_luma(&input);
                    let size_px = decoded.full_size;
                    notes.extend(decoded.partial.clone());
                    let mut views = vec![(String::new(), input.into_raw())];
                    if regions {
                        let (width, height) = decoded.rgb.dimensions();
                        let levels: Vec<f32> = luma.iter().map(|&v| f32::from(v)).collect();
                        let plan = &context.region_plan;
                        for cell in plan.cells(width, height) {
                            // A blank window is never searched (see `src/ranking/blank.rs`), so it is not
                            // embedded either: it goes to the cache as an empty vector, which
                            // still counts towards the generation's windows being known.
                            if window_is_blank(&levels, (width, height), cell, plan.blank_std) {
                                views.push((plan.view_name(cell), Vec::new()));
                                continue;
                            }
                            let crop = image::imageops::crop_imm(
                                &decoded.rgb,
                                cell[0],
                                cell[1],
                                cell[2],
                                cell[3],
                            )
                            .to_image();
                            views.push((
                                context.region_plan.view_name(cell),
                                resize_for_model(&crop, &context.preprocess),
                            ));
                        }
                    }
                    let job = Prepared {
                        slot: item.slot,
                        hash,
                        png_prompt,
                        views,
                        luma,
                        size_px,
                        notes,
                    };
                    if prepared.send(job).is_err() {
                        return;
                    }
                    continue;
                }
                Err(err) => Report::Failed {
                    slot: item.slot,
                    hash: Some(hash),
                    reason: err.to_string(),
                    remember: true,
                },
            }
        };
        if reports.send(report).is_err() {
            return;
        }
    }
}

fn inference_loop(
    embedder: &mut dyn Embedder,
    prepared: &Receiver<Prepared>,
    batch_size: usize,
    cancel: &AtomicBool,
    reports: &Sender<Report>,
) {
    let mut pending: Vec<Prepared> = Vec::new();
    let mut views_pending = 0usize;
    loop {
        let finished = match prepared.recv() {
            Ok(job) => {
                views_pending += job.views.iter().filter(|(_, p)| !p.is_empty()).count();
                pending.push(job);
                false
            }
            Err(_) => true,
        };
        if cancel.load(Ordering::Relaxed) {
            return;
        }
        if pending.is_empty() || (!finished && views_pending < batch_size) {
            if finished {
                return;
            }
            continue;
        }
        let jobs = std::mem::take(&mut pending);
        views_pending = 0;
        // Blank windows come without pixels and leave with an empty vector.
        let inputs: Vec<&[u8]> = jobs
            .iter()
            .flat_map(|job| job.views.iter().map(|(_, pixels)| pixels.as_slice()))
            .filter(|pixels| !pixels.is_empty())
            .collect();
        let vectors = match embedder.embed_batch(&inputs) {
            Ok(vectors) => vectors,
            Err(err) => {
                let _ = reports.send(Report::InferenceFailed(err.to_string()));
                return;
            }
        };
        let mut vectors = vectors.into_iter();
        let items: Vec<EmbeddedItem> = jobs
            .into_iter()
            .map(|job| EmbeddedItem {
                slot: job.slot,
                hash: job.hash,
                png_prompt: job.png_prompt,
                views: job
                    .views
                    .into_iter()
                    .map(|(name, pixels)| EmbeddedView {
                        name,
                        vector: if pixels.is_empty() {
                            Vec::new()
                        } else {
                            vectors.next().unwrap_or_default()
                        },
                    })
                    .collect(),
                luma: job.luma,
                size_px: job.size_px,
                notes: job.notes,
            })
            .collect();
        if reports.send(Report::Embedded(items)).is_err() || finished {
            return;
        }
    }
}
