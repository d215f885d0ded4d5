//! The review plan: N generations drawn at random from each similarity band (0.05 wide, by
//! each generation's highest similarity), seeded and saved in the project, so the precision
//! of every band, above all those near the threshold, can be estimated from labels rather
//! than from whichever pairs a reviewer happened to open. The evidence report's copy-rate
//! estimate uses exactly these bands.

use std::path::Path;

use rand::SeedableRng;
use rand::seq::SliceRandom;

use crate::ranking::matches::GenerationMatches;
use crate::stats::{BAND, band_of};

/// The plan's file in the project folder.
pub const PLAN_FILE: &str = "review_plan.json";

/// A review plan.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReviewPlan {
    /// Generations drawn per band (all of a band's when it holds fewer).
    pub per_band: usize,
    /// The random generator's seed.
    pub seed: u64,
    /// When it was drawn (RFC 3339, UTC).
    pub created_at: String,
    /// Each band's size and draw.
    pub bands: Vec<PlanBand>,
    /// The generations drawn, by name, band by band.
    pub generations: Vec<String>,
}

/// One band of a plan.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PlanBand {
    /// The band's lower edge.
    pub from: f32,
    /// Generations in the band.
    pub generations: usize,
    /// Drawn for review.
    pub sampled: usize,
}

/// Draws `per_band` generations from each band of `results`, with a generator seeded by
/// `seed` (bands in ascending order, each band's generations in name order before the
/// shuffle, so the same results and seed give the same plan).
pub fn sample(results: &[GenerationMatches], per_band: usize, seed: u64) -> ReviewPlan {
    let mut by_band: std::collections::BTreeMap<i32, Vec<&str>> = Default::default();
    for r in results {
        let band = band_of(r.top_similarity().unwrap_or(0.0));
        by_band.entry(band).or_default().push(&r.generation);
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut bands = Vec::new();
    let mut generations = Vec::new();
    for (band, mut names) in by_band {
        names.sort_unstable();
        let size = names.len();
        names.shuffle(&mut rng);
        names.truncate(per_band);
        bands.push(PlanBand {
            from: band as f32 * BAND,
            generations: size,
            sampled: names.len(),
        });
        generations.extend(names.into_iter().map(str::to_string));
    }
    ReviewPlan {
        per_band,
        seed,
        created_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        bands,
        generations,
    }
}

/// The project's plan, if one was drawn.
pub fn load(project_dir: &Path) -> Result<Option<ReviewPlan>, String> {
    let path = project_dir.join(PLAN_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|err| {
            format!(
                "the review plan {} cannot be read ({err}); draw it again (Sample for review, or `replicant plan --force`)",
                path.display()
            )
        }),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(format!(
            "the review plan {} cannot be read: {err}; {}",
            path.display(),
            crate::fsutil::io_remedy(&err, "check the project folder's permissions")
        )),
    }
}

/// Saves `plan` in the project folder (whole, under a temporary name, then renamed).
pub fn save(project_dir: &Path, plan: &ReviewPlan) -> Result<(), String> {
    let path = project_dir.join(PLAN_FILE);
    let json = serde_json::to_vec_pretty(plan).map_err(|e| e.to_string())?;
    crate::fsutil::write_atomically(&path, &json).map_err(|err| {
        format!(
            "cannot save the review plan {}: {err}; {}",
            path.display(),
            crate::fsutil::io_remedy(&err, "check the project folder is writable")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::ImageLocation;
    use crate::ranking::matches::Match;

    fn generation(name: &str, similarity: f32) -> GenerationMatches {
        GenerationMatches {
            generation: name.into(),
            generation_path: format!("/g/{name}").into(),
            generation_hash: None,
            prompt: None,
            prompt_source: None,
            key: None,
            url: None,
            matches: vec![Match {
                rank: 1,
                training: "t.jpg".into(),
                similarity,
                score: None,
                region: None,
                layout: None,
                verification: None,
                training_path: ImageLocation::File("/t/t.jpg".into()),
                training_caption: None,
                training_key: None,
                training_url: None,
                training_hash: None,
                ranked_by: None,
                duplicates: None,
                index_key: None,
            }],
            region_hits: Vec::new(),
            collage: false,
            notes: Vec::new(),
        }
    }

    #[test]
    fn draws_up_to_n_per_band_reproducibly() {
        // 30 generations in band [0.10, 0.15), 2 in [0.50, 0.55), 1 in [0.95, 1.0).
        let mut results: Vec<GenerationMatches> = (0..30)
            .map(|i| generation(&format!("low{i:02}.png"), 0.12))
            .collect();
        results.push(generation("a.png", 0.51));
        results.push(generation("b.png", 0.53));
        results.push(generation("dup.png", 0.97));
        let plan = sample(&results, 5, 7);
        let sizes: Vec<(usize, usize)> = plan
            .bands
            .iter()
            .map(|b| (b.generations, b.sampled))
            .collect();
        assert_eq!(sizes, [(30, 5), (2, 2), (1, 1)]);
        assert_eq!(plan.generations.len(), 8);
        assert!(plan.generations[..5].iter().all(|g| g.starts_with("low")));
        // The same seed draws the same plan, whatever the order of the results.
        results.reverse();
        let again = sample(&results, 5, 7);
        assert_eq!(again.generations, plan.generations);
        assert_ne!(sample(&results, 5, 8).generations, plan.generations);
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(load(dir.path()), Ok(None));
        save(dir.path(), &plan).expect("save");
        assert_eq!(load(dir.path()), Ok(Some(plan)));
    }
}
