//! Matching one generation against the training index: the whole image, each region when
//! regions are on (see [`crate::ranking::regions`]), then the pool of candidates ranked by layout
//! agreement too (see [`crate::ranking::layout`]), top-k kept. The training side is reached through
//! [`TrainingLookup`], so a project's own index and a shared prebuilt one match alike.

use crate::catalog::ImageLocation;
use crate::index::IndexError;
use crate::index::TrainingIndex;
use crate::ranking::blank::window_is_blank;
use crate::ranking::layout::{
    LAYOUT_VIEW, Ranking, layout_agreement, signature_from_luma, verified_rank_score,
};
use crate::ranking::matches::{Match, RegionHit};
use crate::ranking::regions;
use crate::ranking::structure::structure_vector;
use crate::ranking::verify::{Verification, Verifier};

/// How matches are found and kept.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MatchSettings {
    /// Matches kept.
    pub top_k: usize,
    /// The similarity at which a region piece counts towards a collage.
    pub threshold: f32,
    /// Whether the pool is ranked by layout agreement too.
    pub layout_rerank: bool,
    /// The layout weight and the pool size of that re-rank.
    pub ranking: Ranking,
    /// Whether candidates are ranked by their cosine after centring both embeddings on the
    /// training mean (a lever against style matches; the reported similarity stays SSCD's).
    pub centring: bool,
    /// Which region views are searched (a cache may hold others from an earlier scan): their
    /// plans say which view names are regions and the similarity a region needs to count.
    pub regions: regions::RegionChoice,
}

/// A training image as matching needs it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TrainingImage {
    /// Its name in results.
    pub name: String,
    /// Where its bytes are.
    pub location: ImageLocation,
    /// Its caption.
    pub caption: Option<String>,
    /// For a shard member, img2dataset's `key` and `url`.
    pub sample: Option<crate::catalog::ShardSample>,
    /// Its layout thumbnail (see [`crate::ranking::layout::layout_luma`]), when known.
    pub luma: Option<Vec<f32>>,
    /// blake3 of its bytes, when known.
    pub hash: Option<[u8; 32]>,
}

/// The training images behind an index's keys. `Error` is the caller's (the scan's), so
/// ranking reports what the lookup met without knowing where it reads from.
pub(crate) trait TrainingLookup {
    /// What reading the training side can fail with; an index error must convert into it.
    type Error: From<IndexError>;

    /// The training image with index key `key`, if there is one.
    fn image(&self, key: u64) -> Result<Option<TrainingImage>, Self::Error>;

    /// The whole-image embedding of the training image with key `key`, when known.
    fn whole_vector(&self, _key: u64) -> Result<Option<Vec<f32>>, Self::Error> {
        Ok(None)
    }

    /// The mean of the training images' whole-image embeddings, when ranking centres on it.
    fn mean(&self) -> Option<&[f32]> {
        None
    }
}

/// A generation's matches.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Matched {
    /// Likeliest source first.
    pub matches: Vec<Match>,
    /// Each region's best training image (empty with regions off).
    pub region_hits: Vec<RegionHit>,
    /// Whether regions match two or more training images at or above the threshold.
    pub collage: bool,
    /// Region windows not searched because they are blank ([`crate::ranking::blank`]).
    pub blank_windows: usize,
    /// Whether its views included fine windows (of `settings.regions.fine`).
    pub fine_windows: bool,
}

/// Matches a generation from its views: the whole image (`""`), its layout thumbnail
/// ([`LAYOUT_VIEW`]) and its regions (named by [`regions::RegionPlan::view_name`]; searched
/// when their plan is in `settings.regions`). Returns `None` without a whole-image view.
/// The scan runs its two halves apart ([`search_views`] in parallel, then [`assemble`]).
#[cfg(test)]
pub(crate) fn match_generation<E: From<IndexError>>(
    views: &[(String, Vec<f32>)],
    index: &dyn TrainingIndex,
    training: &dyn TrainingLookup<Error = E>,
    settings: MatchSettings,
) -> Result<Option<Matched>, E> {
    match search_views(views, index, None, settings)? {
        Some(searched) => assemble(views, searched, training, settings),
        None => Ok(None),
    }
}

/// What the index found for one generation's views, before the training side is read.
pub(crate) struct Searched {
    whole_hits: Vec<crate::index::Hit>,
    region_hits: Vec<regions::RegionSearch>,
    /// Training images drawn by structure and missing from `whole_hits`, at SSCD's similarity.
    structure_hits: Vec<crate::index::Hit>,
    blank_windows: usize,
    fine_windows: bool,
}

/// The index searches of a generation's views (the whole image's pool, each region's best):
/// the costly part of matching, and the only one that touches nothing but the index, so
/// generations may be searched in parallel. `None` without a whole-image view.
pub(crate) fn search_views(
    views: &[(String, Vec<f32>)],
    index: &dyn TrainingIndex,
    structure: Option<&dyn TrainingIndex>,
    settings: MatchSettings,
) -> Result<Option<Searched>, IndexError> {
    let Some((_, whole)) = views.iter().find(|(name, _)| name.is_empty()) else {
        return Ok(None);
    };
    let top_k = settings.top_k;
    let whole_hits = index.search(whole, pool_size(settings))?;
    let mut region_hits = Vec::new();
    let plans = [settings.regions.coarse, settings.regions.fine];
    let windows: Vec<(&Vec<f32>, [u32; 4], &regions::RegionPlan)> = views
        .iter()
        .filter_map(|(name, vector)| {
            plans
                .iter()
                .flatten()
                .find_map(|plan| Some((vector, plan.cell_of_view(name)?, plan)))
        })
        .collect();
    // The generation's size: every plan's last window reaches the far edges.
    let extent = windows.iter().fold((0, 0), |(w, h), (_, cell, _)| {
        (w.max(cell[0] + cell[2]), h.max(cell[1] + cell[3]))
    });
    let luma = views
        .iter()
        .find(|(name, _)| name == LAYOUT_VIEW)
        .map(|(_, luma)| luma.as_slice());
    // Fine windows come from the fine pass, or from the cache of a generation an earlier scan
    // refined; a window's plan is the one in `plans` that named it.
    let fine_windows = plans[1]
        .as_ref()
        .is_some_and(|fine| windows.iter().any(|(_, _, plan)| std::ptr::eq(*plan, fine)));
    let mut blank_windows = 0;
    for (vector, cell, plan) in windows {
        // A window found blank when it was cut was never embedded (an empty vector); the
        // thumbnail test covers windows embedded by earlier scans.
        if vector.is_empty()
            || luma.is_some_and(|luma| window_is_blank(luma, extent, cell, plan.blank_std))
        {
            blank_windows += 1;
            continue;
        }
        let hits = index.search(vector, 3.min(top_k).max(1))?;
        region_hits.push(regions::RegionSearch {
            cell,
            min_similarity: plan.min_similarity,
            hits,
        });
    }
    // Structure's candidates that SSCD's pool lacks, with SSCD's similarity to the whole
    // image from the vector the index stores (one it does not hold cannot be ranked).
    let mut structure_hits = Vec::new();
    if let Some(structure) = structure {
        for hit in structure_search(structure, luma, settings)? {
            if whole_hits.iter().any(|h| h.key == hit.key) {
                continue;
            }
            if let Some(vector) = index.vector(hit.key)? {
                structure_hits.push(crate::index::Hit {
                    key: hit.key,
                    similarity: cosine(whole, &vector),
                });
            }
        }
    }
    Ok(Some(Searched {
        whole_hits,
        region_hits,
        structure_hits,
        blank_windows,
        fine_windows,
    }))
}

/// The training images nearest the generation's layout thumbnail by structure
/// ([`crate::ranking::structure`]), when the re-rank is on and asks for some.
pub(crate) fn structure_search(
    structure: &dyn TrainingIndex,
    luma: Option<&[f32]>,
    settings: MatchSettings,
) -> Result<Vec<crate::index::Hit>, IndexError> {
    let ranking = settings.ranking;
    if !settings.layout_rerank || ranking.structure_candidates == 0 || structure.is_empty() {
        return Ok(Vec::new());
    }
    match luma.and_then(|luma| structure_vector(luma, ranking.structure_grid)) {
        Some(vector) if vector.len() == structure.dims() => {
            structure.search(&vector, ranking.structure_candidates)
        }
        _ => Ok(Vec::new()),
    }
}

/// Candidates ranked before the top-k are kept: more than top-k when layout re-ranks them.
fn pool_size(settings: MatchSettings) -> usize {
    if settings.layout_rerank {
        settings.top_k.max(settings.ranking.pool)
    } else {
        settings.top_k
    }
}

/// A generation's matches from its searched views: the candidates named and ranked through
/// `training`, the top-k kept, collages told.
pub(crate) fn assemble<E: From<IndexError>>(
    views: &[(String, Vec<f32>)],
    searched: Searched,
    training: &dyn TrainingLookup<Error = E>,
    settings: MatchSettings,
) -> Result<Option<Matched>, E> {
    let Some((_, whole)) = views.iter().find(|(name, _)| name.is_empty()) else {
        return Ok(None);
    };
    let Searched {
        whole_hits,
        mut region_hits,
        structure_hits,
        blank_windows,
        fine_windows,
    } = searched;
    let mut images = ReadOnce {
        training,
        read: std::collections::HashMap::new(),
    };
    drop_blank_training_images(&mut region_hits, &mut images)?;
    let top_k = settings.top_k;
    let pool = pool_size(settings);
    let mut merged = regions::merge(&whole_hits, &region_hits, pool);
    // Structure's candidates join the pool at SSCD's similarity (a window may have found one).
    for hit in structure_hits {
        if !merged.iter().any(|c| c.key == hit.key) {
            merged.push(regions::Candidate {
                key: hit.key,
                similarity: hit.similarity,
                region: None,
            });
        }
    }
    let generation_luma = views
        .iter()
        .find(|(name, _)| name == LAYOUT_VIEW)
        .map(|(_, luma)| luma.as_slice());
    let generation_layout = generation_luma.map(signature_from_luma);
    let verifier = generation_luma.and_then(|luma| Verifier::new(luma, settings.ranking.structure));
    let mean = training.mean().filter(|_| settings.centring);
    let mut ranked = Vec::with_capacity(merged.len());
    for candidate in merged {
        let Some(image) = images.image(candidate.key)? else {
            continue;
        };
        // The ranking's similarity: SSCD's, or the centred cosine for a whole-image match
        // (a window's match keeps its own, which the mean of whole images does not describe).
        let ranking_similarity = match (mean, candidate.region) {
            (Some(mean), None) => match training.whole_vector(candidate.key)? {
                Some(vector) => centred_cosine(whole, &vector, mean),
                None => candidate.similarity,
            },
            _ => candidate.similarity,
        };
        let layout = match (&generation_layout, &image.luma) {
            (Some(generation), Some(luma)) => {
                layout_agreement(generation, &signature_from_luma(luma))
            }
            _ => None,
        };
        let verification = match (&verifier, &image.luma) {
            (Some(verifier), Some(luma)) => verifier.verify(luma),
            _ => None,
        };
        ranked.push((candidate, ranking_similarity, layout, verification, image));
    }
    if settings.layout_rerank || mean.is_some() {
        sort_ranked(&mut ranked, settings);
    }
    ranked.truncate(top_k);
    let best_cells = regions::best_per_region(&region_hits);
    let collage = regions::is_collage(&best_cells, settings.threshold);
    let matches = ranked
        .into_iter()
        .enumerate()
        .map(|(rank, ranked)| to_match(rank + 1, ranked, settings))
        .collect();
    let mut hits = Vec::with_capacity(best_cells.len());
    for best in &best_cells {
        if let Some(image) = images.image(best.key)? {
            hits.push(RegionHit {
                region: best.cell,
                training: image.name,
                training_path: image.location,
                similarity: best.similarity,
            });
        }
    }
    Ok(Some(Matched {
        matches,
        region_hits: hits,
        collage,
        blank_windows,
        fine_windows,
    }))
}

/// A candidate as it is ranked: its hit, the similarity it is ranked by, its layout agreement
/// and verification, and the training image.
type Ranked = (
    regions::Candidate,
    f32,
    Option<f32>,
    Option<Verification>,
    TrainingImage,
);

/// Sorts candidates by the ranking score: SSCD's (or the centred) similarity with the layout
/// agreement and verification at their weights when the layout re-rank is on, without them
/// when only centring asks for a sort. Stable: equal scores keep SSCD's order.
fn sort_ranked(ranked: &mut [Ranked], settings: MatchSettings) {
    ranked.sort_by(|(_, a, la, va, _), (_, b, lb, vb, _)| {
        ranking_score(settings, *b, *lb, vb).total_cmp(&ranking_score(settings, *a, *la, va))
    });
}

/// The score a candidate is ranked by: its ranking similarity (SSCD's, or the centred cosine)
/// plus the layout agreement and verification at their weights when the re-rank is on.
fn ranking_score(
    settings: MatchSettings,
    similarity: f32,
    layout: Option<f32>,
    verified: &Option<Verification>,
) -> f32 {
    let ranking = if settings.layout_rerank {
        settings.ranking
    } else {
        Ranking {
            weight: 0.0,
            verify_weight: 0.0,
            ..settings.ranking
        }
    };
    verified_rank_score(
        similarity,
        layout,
        verified.as_ref().map(|v| v.score),
        &ranking,
    )
}

/// The match at `rank` (1 first) of a ranked candidate.
fn to_match(
    rank: usize,
    (candidate, ranking_similarity, layout, verification, image): Ranked,
    settings: MatchSettings,
) -> Match {
    let score = ranking_score(settings, ranking_similarity, layout, &verification);
    Match {
        score: Some(score),
        rank,
        training: image.name,
        similarity: candidate.similarity,
        region: candidate.region,
        layout,
        verification,
        training_path: image.location,
        training_caption: image.caption,
        training_key: image.sample.as_ref().map(|s| s.key.clone()),
        training_url: image.sample.and_then(|s| s.url),
        training_hash: image
            .hash
            .map(|h| blake3::Hash::from_bytes(h).to_hex().to_string()),
        ranked_by: None,
        duplicates: None,
        index_key: Some(candidate.key),
    }
}

/// The training images one generation's matching has read, each read once: a window's hit,
/// a candidate and a region's best are often the same image.
struct ReadOnce<'a, E> {
    training: &'a dyn TrainingLookup<Error = E>,
    read: std::collections::HashMap<u64, Option<TrainingImage>>,
}

impl<E: From<IndexError>> ReadOnce<'_, E> {
    fn image(&mut self, key: u64) -> Result<Option<TrainingImage>, E> {
        if let Some(image) = self.read.get(&key) {
            return Ok(image.clone());
        }
        let image = self.training.image(key)?;
        self.read.insert(key, image.clone());
        Ok(image)
    }
}

/// Removes from the windows' hits every training image whose layout thumbnail is blank
/// ([`crate::ranking::blank::thumbnail_is_blank`]): a flat training image matches any window
/// that looks flat to SSCD (a white margin, an empty panel) at about 1.0, and that is no
/// evidence of copying. The whole image's hits keep them, for the reviewer to see.
fn drop_blank_training_images<E: From<IndexError>>(
    region_hits: &mut [regions::RegionSearch],
    images: &mut ReadOnce<'_, E>,
) -> Result<(), E> {
    let mut blank: std::collections::HashMap<u64, bool> = std::collections::HashMap::new();
    for search in region_hits.iter() {
        for hit in &search.hits {
            if let std::collections::hash_map::Entry::Vacant(entry) = blank.entry(hit.key) {
                let luma = images.image(hit.key)?.and_then(|image| image.luma);
                entry.insert(luma.is_some_and(|luma| {
                    crate::ranking::blank::thumbnail_is_blank(
                        &luma,
                        crate::ranking::blank::BLANK_WINDOW_STD,
                    )
                }));
            }
        }
    }
    for search in region_hits.iter_mut() {
        search
            .hits
            .retain(|hit| !blank.get(&hit.key).copied().unwrap_or(false));
    }
    Ok(())
}

/// The cosine of two embeddings (0 when either is zero).
fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut dot, mut na, mut nb) = (0f32, 0f32, 0f32);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na <= 0.0 || nb <= 0.0 {
        0.0
    } else {
        dot / (na.sqrt() * nb.sqrt())
    }
}

/// The cosine of `a` and `b` after subtracting `mean` from both.
fn centred_cosine(a: &[f32], b: &[f32], mean: &[f32]) -> f32 {
    let (mut dot, mut na, mut nb) = (0f32, 0f32, 0f32);
    for ((x, y), m) in a.iter().zip(b).zip(mean) {
        let (x, y) = (x - m, y - m);
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na <= 0.0 || nb <= 0.0 {
        0.0
    } else {
        dot / (na.sqrt() * nb.sqrt())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::tests::{f32_index, unit};
    use crate::index::{Dtype, IndexParams, VectorStore, build};

    struct Fake(Vec<TrainingImage>);

    impl TrainingLookup for Fake {
        type Error = IndexError;
        fn image(&self, key: u64) -> Result<Option<TrainingImage>, IndexError> {
            Ok(self.0.get(key as usize).cloned())
        }
    }

    fn image(i: usize, luma: Option<Vec<f32>>) -> TrainingImage {
        TrainingImage {
            name: format!("t{i}.png"),
            location: ImageLocation::File(format!("/t/t{i}.png").into()),
            caption: None,
            sample: None,
            luma,
            hash: None,
        }
    }

    /// A layout thumbnail: a bright band at `row`.
    fn band(row: usize) -> Vec<f32> {
        (0..1024)
            .map(|i| if i / 32 == row { 250.0 } else { 10.0 })
            .collect()
    }

    fn settings(layout_rerank: bool) -> MatchSettings {
        MatchSettings {
            top_k: 2,
            threshold: 0.5,
            layout_rerank,
            centring: false,
            ranking: Ranking::default(),
            regions: regions::RegionChoice {
                coarse: Some(regions::RegionPlan::default()),
                fine: Some(regions::RegionPlan::fine()),
                fine_budget: None,
            },
        }
    }

    #[test]
    fn layout_agreement_lifts_a_close_second_and_names_come_from_the_lookup() {
        let dims = 16;
        let base = unit(1, dims);
        // Training 0 is nearest by SSCD; training 1 is a little further but shares the
        // generation's layout; training 2 is unrelated.
        let mut near: Vec<f32> = base
            .iter()
            .zip(unit(2, dims))
            .map(|(a, b)| a + 0.2 * b)
            .collect();
        crate::embed::l2_normalise(&mut near);
        let mut second: Vec<f32> = base
            .iter()
            .zip(unit(3, dims))
            .map(|(a, b)| a + 0.3 * b)
            .collect();
        crate::embed::l2_normalise(&mut second);
        let vectors = [near, second, unit(9, dims)];
        let index = f32_index(&vectors);
        let lookup = Fake(vec![
            image(0, Some(band(3))),
            image(1, Some(band(20))),
            image(2, None),
        ]);
        let views = vec![
            (String::new(), base.clone()),
            (LAYOUT_VIEW.to_string(), band(20)),
        ];
        let plain = match_generation(&views, index.as_ref(), &lookup, settings(false))
            .expect("match")
            .expect("matched");
        let names: Vec<&str> = plain.matches.iter().map(|m| m.training.as_str()).collect();
        assert_eq!(names, ["t0.png", "t1.png"]);
        let reranked = match_generation(&views, index.as_ref(), &lookup, settings(true))
            .expect("match")
            .expect("matched");
        let names: Vec<&str> = reranked
            .matches
            .iter()
            .map(|m| m.training.as_str())
            .collect();
        assert_eq!(names, ["t1.png", "t0.png"]);
        assert_eq!(reranked.matches[0].rank, 1);
        // Weights of zero give layout and verification no say: SSCD's order stands.
        let mut weightless = settings(true);
        weightless.ranking.weight = 0.0;
        weightless.ranking.verify_weight = 0.0;
        let kept = match_generation(&views, index.as_ref(), &lookup, weightless)
            .expect("match")
            .expect("matched");
        let names: Vec<&str> = kept.matches.iter().map(|m| m.training.as_str()).collect();
        assert_eq!(names, ["t0.png", "t1.png"]);
        // Verification alone lifts the image with the generation's structure: the band at the
        // same row agrees, the band 17 rows away does not (no small shift reaches it).
        let mut verified_only = settings(true);
        verified_only.ranking.weight = 0.0;
        let lifted = match_generation(&views, index.as_ref(), &lookup, verified_only)
            .expect("match")
            .expect("matched");
        let names: Vec<&str> = lifted.matches.iter().map(|m| m.training.as_str()).collect();
        assert_eq!(names, ["t1.png", "t0.png"]);
        let verified = |m: &Match| m.verification.as_ref().map_or(0.0, |v| v.score);
        assert!(verified(&lifted.matches[0]) > 0.95);
        assert!(verified(&lifted.matches[1]) < 0.2);
        assert!(reranked.matches[0].layout.is_some_and(|l| l > 0.9));
        assert!(reranked.matches[0].similarity < reranked.matches[1].similarity);
        assert!(reranked.region_hits.is_empty() && !reranked.collage);
    }

    #[test]
    fn a_source_outside_sscds_pool_is_drawn_by_structure_and_ranked_first() {
        let dims = 16;
        let axis = |i: usize| -> Vec<f32> { (0..dims).map(|d| f32::from(d == i)).collect() };
        let base = axis(0);
        // Twelve training images, each further from the generation by SSCD (similarity 0.60
        // down to 0.49); the last (the restyled copy's source) is below the pool of ten but has
        // the generation's geometry.
        let vectors: Vec<Vec<f32>> = (0..12)
            .map(|i| {
                let similarity = 0.60 - 0.01 * i as f32;
                let side = (1.0 - similarity * similarity).sqrt();
                (0..dims)
                    .map(|d| match d {
                        0 => similarity,
                        d if d == i + 1 => side,
                        _ => 0.0,
                    })
                    .collect()
            })
            .collect();
        let index = f32_index(&vectors);
        let lumas: Vec<Vec<f32>> = (0..12)
            .map(|i| band(if i == 11 { 20 } else { 3 + i }))
            .collect();
        let grid = Ranking::default().structure_grid;
        let structure_vectors: Vec<(u64, Vec<f32>)> = lumas
            .iter()
            .enumerate()
            .map(|(i, l)| (i as u64, structure_vector(l, grid).expect("structure")))
            .collect();
        let refs: Vec<(u64, &[f32])> = structure_vectors
            .iter()
            .map(|(k, v)| (*k, v.as_slice()))
            .collect();
        let structure_params = IndexParams {
            dims: crate::ranking::structure::structure_dims(grid),
            dtype: Dtype::F16,
        };
        let structure =
            build(&*VectorStore::default(), structure_params, &refs).expect("structure index");
        let lookup = Fake((0..12).map(|i| image(i, Some(lumas[i].clone()))).collect());
        let views = vec![
            (String::new(), base.clone()),
            (LAYOUT_VIEW.to_string(), band(20)),
        ];
        let run = |structure: Option<&dyn TrainingIndex>, settings: MatchSettings| {
            let searched = search_views(&views, index.as_ref(), structure, settings)
                .expect("search")
                .expect("whole view");
            assemble(&views, searched, &lookup, settings)
                .expect("assemble")
                .expect("matched")
        };
        let names =
            |m: &Matched| -> Vec<String> { m.matches.iter().map(|m| m.training.clone()).collect() };
        // SSCD's pool of ten never holds it, so no re-rank can lift it.
        assert_eq!(Ranking::default().pool, 10);
        let without = run(None, settings(true));
        assert!(!names(&without).contains(&"t11.png".to_string()));
        let with = run(Some(structure.as_ref()), settings(true));
        assert_eq!(names(&with)[0], "t11.png");
        // Its similarity is SSCD's, computed from the stored vector; the score that ranked it
        // adds its layout and structure at their weights.
        let expected: f32 = base.iter().zip(&vectors[11]).map(|(a, b)| a * b).sum();
        let first = &with.matches[0];
        assert!((first.similarity - expected).abs() < 1e-4);
        let (layout, verified) = (
            first.layout.expect("layout"),
            first.verification.as_ref().expect("verified").score,
        );
        let score = expected + 0.3 * layout.max(0.0) + 0.2 * verified.max(0.0);
        assert!(
            (first.score.expect("score") - score).abs() < 1e-4,
            "{first:?}"
        );
        assert!(with.matches.windows(2).all(|w| w[0].score >= w[1].score));
        // None drawn when the ranking asks for none, or without the re-rank.
        let mut none = settings(true);
        none.ranking.structure_candidates = 0;
        assert_eq!(names(&run(Some(structure.as_ref()), none)), names(&without));
        let plain = run(Some(structure.as_ref()), settings(false));
        assert!(!names(&plain).contains(&"t11.png".to_string()));
    }

    #[test]
    fn no_whole_view_means_no_result() {
        let params = IndexParams {
            dims: 4,
            dtype: Dtype::F32,
        };
        let index = build(&*VectorStore::default(), params, &[]).expect("index");
        let found = match_generation(&[], index.as_ref(), &Fake(Vec::new()), settings(true))
            .expect("match");
        assert!(found.is_none());
    }
}
