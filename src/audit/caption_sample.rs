//! `replicant prompts sample`: captions drawn uniformly at random from a training set, as the
//! paper drew 9,000 LAION captions to generate from. Each becomes a line of a prompt set
//! ([`crate::prompts::set`]) naming its training image by name and content hash, so that the
//! scan can tell a generation that copies its own caption's image from one that copies
//! another.

use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};

use crate::catalog::MAX_IMAGE_FILE_BYTES;
use crate::index::prebuilt::RowStore;
use crate::prompts::set::PromptLine;
use crate::ranking::matches::Side;
use crate::scan::sources::catalogue;

/// Where the captions are drawn from.
#[derive(Debug, Clone)]
pub enum CaptionSource {
    /// Folders, folders of tar shards, or `.tar` shards (named as a scan of them names them).
    Sources(Vec<PathBuf>),
    /// A prebuilt training index (`replicant index build`): its rows' captions.
    Index(PathBuf),
}

/// What a draw gave.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CaptionSample {
    /// The prompts drawn, in the order drawn (any first lines are a uniform sample too).
    #[serde(skip)]
    pub lines: Vec<PromptLine>,
    /// Prompts drawn.
    pub prompts: usize,
    /// Training images with a caption (the population drawn from).
    pub captioned: usize,
    /// Training images without a caption: skipped.
    pub without_caption: usize,
    /// Captioned images that could not be read for their content hash: skipped (and listed
    /// with the reason), another drawn in their place.
    pub unreadable: Vec<String>,
    /// Files the catalogue could not use.
    pub skipped: usize,
    /// The seed.
    pub seed: u64,
}

/// One candidate: its name, caption, where to find its hash, and img2dataset's fields.
struct Candidate {
    training: String,
    caption: String,
    hash: HashFrom,
    sample: Option<crate::catalog::ShardSample>,
}

enum HashFrom {
    Known([u8; 32]),
    Read(crate::catalog::ImageLocation),
}

/// Draws `n` captions (all of them when fewer) from `source` with `seed`. Ids are `p` and the
/// draw's position (`p000001`, ...); each prompt's generator seed comes from the same stream.
pub fn sample_captions(
    source: &CaptionSource,
    n: usize,
    seed: u64,
) -> Result<CaptionSample, String> {
    let (candidates, without_caption, skipped) = candidates(source)?;
    let captioned = candidates.len();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    // A partial Fisher-Yates shuffle: the first k positions are a uniform draw of k, whatever
    // k ends up being when unreadable images are replaced.
    let mut order: Vec<usize> = (0..captioned).collect();
    let mut lines = Vec::with_capacity(n.min(captioned));
    let mut unreadable = Vec::new();
    for i in 0..captioned {
        if lines.len() == n {
            break;
        }
        let j = rng.gen_range(i..captioned);
        order.swap(i, j);
        let candidate = &candidates[order[i]];
        let hash = match &candidate.hash {
            HashFrom::Known(hash) => *hash,
            HashFrom::Read(location) => match location.read(MAX_IMAGE_FILE_BYTES) {
                Ok(bytes) => *blake3::hash(&bytes).as_bytes(),
                Err(e) => {
                    unreadable.push(format!("{}: {e}", candidate.training));
                    continue;
                }
            },
        };
        lines.push(PromptLine {
            id: format!("p{:06}", lines.len() + 1),
            prompt: candidate.caption.clone(),
            seed: u64::from(rng.r#gen::<u32>()),
            training: candidate.training.clone(),
            training_hash: blake3::Hash::from_bytes(hash).to_hex().to_string(),
            key: candidate.sample.as_ref().map(|s| s.key.clone()),
            url: candidate.sample.as_ref().and_then(|s| s.url.clone()),
        });
    }
    Ok(CaptionSample {
        prompts: lines.len(),
        lines,
        captioned,
        without_caption,
        unreadable,
        skipped,
        seed,
    })
}

/// Every caption of `source`'s training images (those without one left out).
pub fn captions(source: &CaptionSource) -> Result<Vec<String>, String> {
    Ok(candidates(source)?
        .0
        .into_iter()
        .map(|c| c.caption)
        .collect())
}

/// The captioned training images of `source` in a fixed order (the catalogue's, or the index's
/// keys), with how many had no caption and how many files were skipped.
fn candidates(source: &CaptionSource) -> Result<(Vec<Candidate>, usize, usize), String> {
    match source {
        CaptionSource::Sources(roots) => {
            let (mut skipped, mut notes) = (Vec::new(), Vec::new());
            let catalogued = catalogue(roots, Side::Training, &mut skipped, &mut notes)
                .map_err(|e| e.to_string())?;
            let total = catalogued.records.len();
            let candidates: Vec<Candidate> = catalogued
                .records
                .into_iter()
                .filter_map(|r| {
                    let caption = r.text.filter(|t| !t.trim().is_empty())?;
                    Some(Candidate {
                        training: r.display,
                        caption,
                        sample: r.entry.sample.clone(),
                        hash: HashFrom::Read(r.entry.location),
                    })
                })
                .collect();
            let without = total - candidates.len();
            Ok((candidates, without, skipped.len()))
        }
        CaptionSource::Index(dir) => {
            let rows = RowStore::open(dir).map_err(|e| e.to_string())?;
            let (keys, total) = rows.captioned_keys().map_err(|e| e.to_string())?;
            let mut candidates = Vec::with_capacity(keys.len());
            for key in keys {
                let Some(row) = rows.row(key).map_err(|e| e.to_string())? else {
                    continue;
                };
                let Some(caption) = row.caption.filter(|c| !c.trim().is_empty()) else {
                    continue;
                };
                candidates.push(Candidate {
                    training: row.name,
                    caption,
                    sample: row.sample,
                    hash: HashFrom::Known(row.blake3),
                });
            }
            let without = total.saturating_sub(candidates.len());
            Ok((candidates, without, 0))
        }
    }
}

/// Writes `lines` to `out` as JSON Lines, atomically; an existing file only with `force`.
pub fn write_prompt_set(lines: &[PromptLine], out: &Path, force: bool) -> Result<(), String> {
    if out.exists() && !force {
        return Err(format!(
            "{} exists; give --force to replace it, or another --out",
            out.display()
        ));
    }
    let mut bytes = Vec::new();
    crate::prompts::set::write_lines(lines, &mut bytes).map_err(|e| e.to_string())?;
    crate::fsutil::write_atomically(out, &bytes).map_err(|e| {
        format!(
            "{}: {e}; {}",
            out.display(),
            crate::fsutil::io_remedy(&e, "check that its folder is writable")
        )
    })
}
