//! The domain's shared types: a generation, its matches among the training images, and files
//! that were skipped. Every layer above uses these; they depend only on
//! [`crate::catalog::ImageLocation`], the place an image's bytes are.

use std::path::PathBuf;

use crate::catalog::ImageLocation;
pub use crate::catalog::skipped::{Side, SkippedFile, TruncatedShard};

/// A training image found close to a generation.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Match {
    /// 1 for the likeliest source: SSCD similarity, lifted by layout agreement (see
    /// [`crate::ranking::layout`]).
    pub rank: usize,
    /// The training image's name: its path relative to its training source (`SHARD.tar/MEMBER`
    /// for a tar member), prefixed with the source's folder name when several were given.
    pub training: String,
    /// Cosine similarity of the SSCD embeddings (1 means identical content).
    pub similarity: f32,
    /// The score that ordered the matches: the similarity plus the layout agreement and
    /// verification at their weights (see [`crate::ranking::layout::verified_rank_score`]);
    /// the similarity itself without the re-rank. `None` in results saved before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f32>,
    /// The part of the generation that matched, `[x, y, w, h]` in generation pixels; `None`
    /// when the whole generation matched.
    pub region: Option<[u32; 4]>,
    /// Agreement of the two images' coarse luminance layouts (normalised cross-correlation of
    /// 32x32 thumbnails, -1 to 1); `None` when unknown.
    #[serde(default)]
    pub layout: Option<f32>,
    /// What verification found: the agreement of the two images' gradient structure after
    /// the best small shift, and where it agrees (see [`crate::ranking::verify`]); `None`
    /// when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<crate::ranking::verify::Verification>,
    /// Where the training image's bytes are (a file, or a tar member by offset). Stored as a
    /// plain path for files, as earlier projects did.
    pub training_path: ImageLocation,
    /// The training image's caption, if one was found.
    pub training_caption: Option<String>,
    /// For a shard member, img2dataset's `key` of the training image's sample (its
    /// `KEY.json`'s, else the member's name without its extension), so that results join
    /// back to the download.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training_key: Option<String>,
    /// For a shard member, the URL its training image was downloaded from (its `KEY.json`'s
    /// `url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training_url: Option<String>,
    /// blake3 (hex) of the training image's bytes: with the generation's, the key its label
    /// is stored under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training_hash: Option<String>,
    /// How it was ranked: the model that found it and the one whose similarity is reported,
    /// `sscd`, or `sscd-distilled+sscd` for the shortlist cascade (see
    /// [`crate::ranking::cascade`]); `None` in results saved before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ranked_by: Option<String>,
    /// How many other training images are within SSCD similarity 0.95 of this one (its
    /// duplicate count; byte-identical copies count), among its nearest in the training
    /// index; `None` where the scan could not count (a prebuilt index, the cascade).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicates: Option<usize>,
    /// The training image's key in the index the scan searched (not saved: it means nothing
    /// outside its index).
    #[serde(skip)]
    pub index_key: Option<u64>,
}

/// A generation and its closest training images.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GenerationMatches {
    /// The generation's path relative to the generations folder.
    pub generation: String,
    /// The generation on disk.
    #[serde(with = "crate::fsutil::serde_path")]
    pub generation_path: PathBuf,
    /// blake3 (hex) of the generation's bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation_hash: Option<String>,
    /// The prompt it was made from, if one was found.
    pub prompt: Option<String>,
    /// The prompt of a prompt set (`replicant prompts sample`) it was made from, and that
    /// prompt's caption's training image, when the scan was given the set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_source: Option<crate::prompts::set::PromptLink>,
    /// For a generation read from a shard, img2dataset's `key` of its sample.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// For a generation read from a shard, the `url` of its sample's `KEY.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Matches, likeliest source first (see [`Match::rank`]).
    pub matches: Vec<Match>,
    /// Each region's best training image, when regions were matched (for the collage map).
    #[serde(default)]
    pub region_hits: Vec<RegionHit>,
    /// Whether regions match two or more different training images at or above the
    /// threshold.
    #[serde(default)]
    pub collage: bool,
    /// What a reviewer should know about how the generation was read (a partial decode, a
    /// prompt cut short).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// A region of a generation and the training image it resembles most.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RegionHit {
    /// The region, `[x, y, w, h]` in generation pixels.
    pub region: [u32; 4],
    /// The training image's path as shown.
    pub training: String,
    /// Where the training image's bytes are.
    pub training_path: ImageLocation,
    /// Cosine similarity of the region to the training image.
    pub similarity: f32,
}

impl GenerationMatches {
    /// The highest SSCD similarity among the matches (the paper's top-1 similarity: the
    /// nearest training image), or `None` when there is none. Layout re-ranking can put
    /// another match first, so this is not always the first match's.
    pub fn top_similarity(&self) -> Option<f32> {
        self.matches.iter().map(|m| m.similarity).reduce(f32::max)
    }
}

/// Sorts generations by top-1 similarity, highest first; generations without matches last;
/// ties by path, so output is deterministic.
pub fn sort_by_top_similarity(results: &mut [GenerationMatches]) {
    results.sort_by(|a, b| {
        let sa = a.top_similarity().unwrap_or(f32::NEG_INFINITY);
        let sb = b.top_similarity().unwrap_or(f32::NEG_INFINITY);
        sb.total_cmp(&sa)
            .then_with(|| a.generation.cmp(&b.generation))
    });
}

/// The top-1 similarity at or above which a generation counts as a likely copy, unless a
/// scan is given another: the paper's 0.5 (Somepalli et al. 2022, visible copying).
pub const DEFAULT_THRESHOLD: f32 = 0.5;

/// The similarity at or above which two images are duplicates: the paper's 0.95.
pub const DUPLICATE_SIMILARITY: f32 = 0.95;

/// Nearest neighbours searched when counting an image's duplicates.
pub const DUPLICATE_NEIGHBOURS: usize = 256;

/// How a scan was run: every setting that changes its numbers, as asked and as decided. Saved
/// in the project with the results, written beside every output that carries a number (the
/// results file's sidecar, the report's provenance, the desk's status bar), so a rate can be
/// traced to its method and run again.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct ScanSettings {
    /// The preset the scan followed (`somepalli-2022`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
    /// The model asked for (`sscd`, `sscd-distilled` or a file).
    pub model: String,
    /// The model key of the reported similarities (model file hash and preprocessing).
    pub model_key: crate::embed::ModelKey,
    /// How images reach the model (resize, tensor layout).
    pub preprocessing: String,
    /// How transparency becomes RGB: `composite-on-white` or `drop-alpha` (PIL's
    /// `convert('RGB')`, the paper's loader).
    pub loading: String,
    /// Top-1 similarity at or above which a generation counts as a likely copy.
    pub threshold: f32,
    /// Matches kept per generation.
    pub top_k: usize,
    /// Region matching: `auto`, `on`, `coarse` or `off`, as asked.
    pub regions_asked: String,
    /// Coarse region windows, as decided.
    pub coarse_windows: bool,
    /// Fine region windows (small copies), as decided.
    pub fine_windows: bool,
    /// When auto kept the fine windows for composite-looking generations only: at most how
    /// many (the cost limit's room).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fine_budget: Option<usize>,
    /// Why auto decided as it did (none when asked on or off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regions_reason: Option<String>,
    /// The shortlist cascade: `auto`, `on` or `off`, as asked.
    pub shortlist_asked: String,
    /// Training images re-scored per generation when the cascade ran; none when it did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shortlist_size: Option<usize>,
    /// Why the cascade did or did not run, when auto decided or it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shortlist_reason: Option<String>,
    /// Whether candidates were re-ranked by layout agreement.
    pub layout_rerank: bool,
    /// Whether ranking centred embeddings on the training mean (a measuring option).
    #[serde(default)]
    pub centring: bool,
    /// Tuning overrides given (hidden flags), as `--flag value`; empty for the defaults.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tuning: Vec<String>,
    /// How the project's own index stores vectors.
    pub dtype: String,
    /// Where inference was asked to run.
    pub device: String,
    /// Where it ran.
    pub execution_provider: String,
    /// Whether search was exhaustive.
    pub exact_search: bool,
    /// The prebuilt training index, if one was used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training_index: Option<String>,
    /// The program that scanned.
    pub replicant_version: String,
}

impl ScanSettings {
    /// The regions flag that gives this scan's decision again, auto or not.
    pub fn regions_flag(&self) -> &'static str {
        if self.fine_budget.is_some() {
            // Only auto keeps the fine windows for composites; on the same folders it decides
            // the same.
            return "auto";
        }
        match (self.coarse_windows, self.fine_windows) {
            (false, false) => "off",
            (true, false) => "coarse",
            _ => "on",
        }
    }

    /// The `scan` flags that reproduce these settings on the same folders (with the same
    /// program and model file).
    pub fn reproduce_flags(&self) -> String {
        let mut flags = Vec::new();
        if let Some(preset) = &self.preset {
            flags.push(format!("--preset {preset}"));
        } else {
            flags.push(format!("--model {}", self.model));
            flags.push(format!("--regions {}", self.regions_flag()));
            flags.push(match self.shortlist_size {
                Some(size) => format!("--shortlist on --shortlist-size {size}"),
                None => "--shortlist off".into(),
            });
            if !self.layout_rerank {
                flags.push("--no-layout-rerank".into());
            }
        }
        flags.push(format!("--threshold {}", self.threshold));
        flags.push(format!("--top-k {}", self.top_k));
        flags.push(format!("--dtype {}", self.dtype));
        flags.extend(self.tuning.iter().cloned());
        flags.join(" ")
    }

    /// A short line for the desk's status bar (which shows the cascade and the device
    /// already): the model or preset, threshold, top-k, regions as decided (and how asked),
    /// the re-rank and how transparency was loaded.
    pub fn short_line(&self) -> String {
        format!(
            "{} · threshold {:.2} · top {} · regions {}{} · re-rank {} · {}",
            self.preset.as_deref().unwrap_or(&self.model),
            self.threshold,
            self.top_k,
            self.regions_flag(),
            if self.regions_asked == "auto" {
                " (auto)"
            } else {
                ""
            },
            if self.layout_rerank { "on" } else { "off" },
            match self.loading.as_str() {
                "drop-alpha" => "alpha dropped",
                _ => "alpha on white",
            }
        )
    }

    /// One line for a status bar or a log: model, threshold, regions, cascade, re-rank.
    pub fn summary_line(&self) -> String {
        let regions = match (&self.regions_reason, self.regions_asked.as_str()) {
            (Some(_), asked) => format!("regions {} ({asked})", self.regions_flag()),
            (None, _) => format!("regions {}", self.regions_flag()),
        };
        format!(
            "{}{} · threshold {:.2} · top {} · {regions} · cascade {} · layout re-rank {} · {} loading · {} · {}",
            self.preset
                .as_ref()
                .map_or_else(String::new, |p| format!("preset {p} · ")),
            self.model,
            self.threshold,
            self.top_k,
            self.shortlist_size
                .map_or_else(|| "off".to_string(), |n| format!("top {n}")),
            if self.layout_rerank { "on" } else { "off" },
            self.loading,
            self.execution_provider,
            if self.exact_search {
                "exact search"
            } else {
                "approximate search"
            },
        )
    }
}
