//! The scan's settings as asked and as decided, recorded with its results (see
//! [`crate::ranking::matches::ScanSettings`]).

use crate::embed::{Device, ModelChoice};
use crate::ranking::cascade::ShortlistMode;
use crate::ranking::matches::ScanSettings;
use crate::ranking::regions::{RegionChoice, RegionPlan};
use crate::scan::ScanOptions;

/// What the scan decided, beside its options.
pub(super) struct Decided<'a> {
    pub similarity_key: &'a crate::embed::ModelKey,
    pub preprocessing: String,
    pub provider: crate::embed::ExecutionProvider,
    pub regions: &'a RegionChoice,
    pub regions_reason: Option<String>,
    pub shortlist_size: Option<usize>,
    pub shortlist_reason: Option<String>,
}

/// The settings of a scan run with `options` that decided `decided`. Whether search was
/// exact is known later and filled in by the caller.
pub(super) fn settings(options: &ScanOptions, decided: Decided<'_>) -> ScanSettings {
    ScanSettings {
        preset: options.preset.clone(),
        model: match &options.model.choice {
            ModelChoice::File(path) => crate::project::absolute(path)
                .to_string_lossy()
                .into_owned(),
            other => options.models.name(other),
        },
        model_key: decided.similarity_key.clone(),
        preprocessing: decided.preprocessing,
        loading: options.model.overrides.alpha.as_str().to_string(),
        threshold: options.matching.threshold,
        top_k: options.matching.top_k,
        regions_asked: options.matching.regions.as_str().to_string(),
        coarse_windows: decided.regions.coarse.is_some(),
        fine_windows: decided.regions.fine.is_some(),
        fine_budget: decided.regions.fine_budget,
        regions_reason: decided.regions_reason,
        shortlist_asked: match options.shortlist.mode {
            ShortlistMode::Auto => "auto",
            ShortlistMode::On => "on",
            ShortlistMode::Off => "off",
        }
        .to_string(),
        shortlist_size: decided.shortlist_size,
        shortlist_reason: decided.shortlist_reason,
        layout_rerank: options.matching.layout_rerank,
        centring: options.matching.centring,
        tuning: tuning(options),
        dtype: options.dtype.as_str().to_string(),
        device: match options.model.device {
            Device::Auto => "auto",
            Device::Cpu => "cpu",
            Device::Cuda => "cuda",
            Device::TensorRt => "tensorrt",
        }
        .to_string(),
        execution_provider: decided.provider.to_string(),
        exact_search: true,
        training_index: options
            .training_index
            .as_ref()
            .map(|p| crate::project::absolute(p).display().to_string()),
        replicant_version: env!("CARGO_PKG_VERSION").to_string(),
    }
}

/// The hidden tuning flags that differ from the chosen constants, as `--flag value`.
fn tuning(options: &ScanOptions) -> Vec<String> {
    let mut flags = Vec::new();
    let ranking = crate::ranking::layout::Ranking::default();
    if options.matching.ranking.weight != ranking.weight {
        flags.push(format!(
            "--layout-weight {}",
            options.matching.ranking.weight
        ));
    }
    if options.matching.ranking.pool != ranking.pool {
        flags.push(format!("--rerank-pool {}", options.matching.ranking.pool));
    }
    if options.matching.ranking.verify_weight != ranking.verify_weight {
        flags.push(format!(
            "--verify-weight {}",
            options.matching.ranking.verify_weight
        ));
    }
    if options.matching.ranking.structure != ranking.structure {
        flags.push(format!(
            "--verify-structure {}",
            options.matching.ranking.structure.as_str()
        ));
    }
    if options.matching.ranking.structure_candidates != ranking.structure_candidates {
        flags.push(format!(
            "--structure-candidates {}",
            options.matching.ranking.structure_candidates
        ));
    }
    if options.matching.ranking.structure_grid != ranking.structure_grid {
        flags.push(format!(
            "--structure-grid {}",
            options.matching.ranking.structure_grid
        ));
    }
    if options.matching.centring {
        flags.push("--centre".into());
    }
    let coarse = RegionPlan::default();
    let plan = options.matching.region_plan;
    if plan.window_share != coarse.window_share {
        flags.push(format!("--window-share {}", plan.window_share));
    }
    if plan.min_similarity != coarse.min_similarity {
        flags.push(format!("--region-min-similarity {}", plan.min_similarity));
    }
    if plan.blank_std != coarse.blank_std {
        flags.push(format!("--blank-window-std {}", plan.blank_std));
    }
    let fine_default = RegionPlan::fine();
    match options.matching.fine_plan {
        None => flags.push("--fine-grid 0".into()),
        Some(fine) => {
            if fine.grid != fine_default.grid {
                flags.push(format!("--fine-grid {}", fine.grid));
            }
            if fine.window_share != fine_default.window_share {
                flags.push(format!("--fine-share {}", fine.window_share));
            }
            if fine.min_similarity != fine_default.min_similarity {
                flags.push(format!("--fine-min-similarity {}", fine.min_similarity));
            }
        }
    }
    flags
}
