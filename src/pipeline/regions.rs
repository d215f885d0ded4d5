//! Region matching: besides the whole image, each generation is embedded in nine windows
//! (3x3 positions of a window 45% of the width and height, overlapping by about a fifth), and
//! each window is searched against the training index. A window that finds a training image
//! confidently (similarity at least [`REGION_MIN_SIMILARITY`]) adds or lifts that match and
//! remembers its rectangle; a generation whose windows match two or more different training
//! images at or above the threshold, each clearly ahead of its window's other candidates, is a
//! collage.
//!
//! Chosen by measurement on sources pasted into other images and 3-piece collages made from
//! the fixtures (recall@1, same images for every plan): whole image 0.55; 2x2 grid 0.60; 3x3
//! grid 0.65; 3x3 windows of 50% 0.62; 3x3 windows of 45% 0.69; 4x4 windows of 40% 0.75 (16
//! views); 3x3 grid plus 3x3 windows of 50% 0.68 (18 views). The 3x3 windows of 45% give the
//! most for nine views. Windows below 0.45 are ignored: letting every window vote lowered
//! near-copy recall@1 on the fixtures' style transfers from 0.57 to 0.49, because parts of a
//! restyled photo resemble the style painting.
//!
//! Those choices are in-sample. On the tuning half of the fixture split alone (`--regions
//! on`, window shares 0.3 to 0.6, minimum similarities 0.35 to 0.55) every combination gives
//! the same recall (full copies 1.00 / 1.00, near copies 0.86 / 1.00): the split's pairs hold
//! no source that only a window finds, so they cannot choose these constants, and they stay
//! until held-out pasted copies can.

/// Window positions per side.
pub const REGION_GRID: u32 = 3;

/// A window's width and height as a share of the image's.
pub const WINDOW_SHARE: f32 = 0.45;

/// A region's similarity must reach this to count as a match.
pub const REGION_MIN_SIMILARITY: f32 = 0.45;

/// Embeddings per generation with regions on (the whole image and the grid's cells).
pub const VIEWS_PER_GENERATION: usize = 1 + (REGION_GRID * REGION_GRID) as usize;

/// The largest scan-time cost, relative to whole-image matching, at which `auto` turns
/// regions on.
pub const AUTO_MAX_COST: f64 = 3.0;

/// Whether generations are matched by region too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum RegionMode {
    /// On when the estimated scan time is within [`AUTO_MAX_COST`] of whole-image matching.
    #[default]
    Auto,
    /// Always.
    On,
    /// Never.
    Off,
}

impl std::str::FromStr for RegionMode {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(match super::switch::parse_switch(text, "region mode")? {
            super::switch::Switch::Auto => Self::Auto,
            super::switch::Switch::On => Self::On,
            super::switch::Switch::Off => Self::Off,
        })
    }
}

/// The estimated scan-time cost of regions relative to whole-image matching: each image is
/// one embedding without regions; with them, each generation is [`VIEWS_PER_GENERATION`].
pub fn region_cost(generations: usize, training: usize) -> f64 {
    let base = (generations + training).max(1) as f64;
    (training + generations * VIEWS_PER_GENERATION) as f64 / base
}

/// The windows' geometry and the similarity a window needs to count: the defaults are
/// [`WINDOW_SHARE`] and [`REGION_MIN_SIMILARITY`]; other values exist for choosing them on
/// held-out pairs (`scan --window-share`, `--region-min-similarity`, hidden). View names carry
/// the share, so a cache never mixes windows of two plans.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RegionPlan {
    /// A window's width and height as a share of the image's.
    pub window_share: f32,
    /// A region's similarity must reach this to count as a match.
    pub min_similarity: f32,
}

impl Default for RegionPlan {
    fn default() -> Self {
        Self {
            window_share: WINDOW_SHARE,
            min_similarity: REGION_MIN_SIMILARITY,
        }
    }
}

impl RegionPlan {
    /// The windows of a `width x height` image, as `[x, y, w, h]`: [`REGION_GRID`] positions
    /// per side, evenly spread from edge to edge, each `window_share` of the side.
    pub fn cells(&self, width: u32, height: u32) -> Vec<[u32; 4]> {
        let n = REGION_GRID;
        let share = self.window_share.clamp(0.05, 1.0);
        let size = |side: u32| ((side as f32 * share).round() as u32).clamp(1, side.max(1));
        let (w, h) = (size(width), size(height));
        let position = |i: u32, side: u32, window: u32| {
            ((side - window) as f32 * i as f32 / (n - 1).max(1) as f32).round() as u32
        };
        let mut cells = Vec::with_capacity((n * n) as usize);
        for row in 0..n {
            for col in 0..n {
                cells.push([position(col, width, w), position(row, height, h), w, h]);
            }
        }
        cells
    }

    /// The cache's view name of a region: `r3w45:x,y,w,h` (the plan, then the rectangle in
    /// generation pixels), so views of another plan are never mixed in.
    pub fn view_name(&self, cell: [u32; 4]) -> String {
        format!(
            "{}{},{},{},{}",
            self.view_prefix(),
            cell[0],
            cell[1],
            cell[2],
            cell[3]
        )
    }

    /// The rectangle of a region view name of this plan; `None` for the whole image or
    /// another name.
    pub fn cell_of_view(&self, name: &str) -> Option<[u32; 4]> {
        let rest = name.strip_prefix(&self.view_prefix())?;
        let parts: Vec<u32> = rest
            .split(',')
            .map(str::parse)
            .collect::<Result<_, _>>()
            .ok()?;
        <[u32; 4]>::try_from(parts).ok()
    }

    /// The prefix shared by this plan's view names.
    pub fn view_prefix(&self) -> String {
        format!("r{REGION_GRID}w{:.0}:", self.window_share * 100.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_span_the_image_from_edge_to_edge() {
        let plan = RegionPlan::default();
        let cells = plan.cells(200, 100);
        assert_eq!(cells.len(), 9);
        assert_eq!(cells[0], [0, 0, 90, 45]);
        assert_eq!(cells[4], [55, 28, 90, 45]);
        assert_eq!(cells[8], [110, 55, 90, 45]);
        assert!(
            cells
                .iter()
                .all(|c| c[0] + c[2] <= 200 && c[1] + c[3] <= 100)
        );
        assert_eq!(plan.cells(1, 1)[8], [0, 0, 1, 1]);
        let narrow = RegionPlan {
            window_share: 0.25,
            ..plan
        };
        assert_eq!(narrow.cells(200, 100)[8], [150, 75, 50, 25]);
    }

    #[test]
    fn view_names_round_trip() {
        let plan = RegionPlan::default();
        let cell = [10, 20, 30, 40];
        assert_eq!(plan.cell_of_view(&plan.view_name(cell)), Some(cell));
        assert_eq!(plan.cell_of_view(""), None);
        // Another window share is another plan: its views are not read as this one's.
        let other = RegionPlan {
            window_share: 0.3,
            ..plan
        };
        assert_eq!(plan.cell_of_view(&other.view_name(cell)), None);
    }

    #[test]
    fn cost_favours_large_training_sets() {
        assert!(region_cost(100, 10_000) < 1.1);
        assert!(region_cost(1_000, 1_000) > 5.0);
        assert!((region_cost(2, 7) - 3.0).abs() < 1e-9);
    }
}

/// One merged candidate: a training key, its similarity and the region that found it (`None`
/// for the whole image).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    /// The training image's key in the index.
    pub key: u64,
    /// Its similarity (the whole image's, or the region's when the region is stronger).
    pub similarity: f32,
    /// The region that found it.
    pub region: Option<[u32; 4]>,
}

/// Merges whole-image hits with each region's hits into one list, most similar first: a
/// region counts only at `min_similarity` (by default [`REGION_MIN_SIMILARITY`]) or above,
/// and replaces the whole-image similarity of a training image when it is higher.
pub fn merge(
    global: &[crate::index::Hit],
    regions: &[([u32; 4], Vec<crate::index::Hit>)],
    top_k: usize,
    min_similarity: f32,
) -> Vec<Candidate> {
    let mut best: std::collections::HashMap<u64, Candidate> = std::collections::HashMap::new();
    for hit in global {
        best.insert(
            hit.key,
            Candidate {
                key: hit.key,
                similarity: hit.similarity,
                region: None,
            },
        );
    }
    for (cell, hits) in regions {
        for hit in hits.iter().filter(|h| h.similarity >= min_similarity) {
            let entry = best.entry(hit.key).or_insert(Candidate {
                key: hit.key,
                similarity: f32::NEG_INFINITY,
                region: None,
            });
            if hit.similarity > entry.similarity {
                *entry = Candidate {
                    key: hit.key,
                    similarity: hit.similarity,
                    region: Some(*cell),
                };
            }
        }
    }
    let mut merged: Vec<Candidate> = best.into_values().collect();
    merged.sort_by(|a, b| {
        b.similarity
            .total_cmp(&a.similarity)
            .then(a.key.cmp(&b.key))
    });
    merged.truncate(top_k);
    merged
}

/// How far a region's best training image must lead its second best to count as a collage
/// piece: a cell of an unrelated image resembles many training images about equally, a piece
/// of a copied image resembles its source far more than anything else.
pub const COLLAGE_MARGIN: f32 = 0.1;

/// One region's best training image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RegionBest {
    /// The region.
    pub cell: [u32; 4],
    /// The training image's key.
    pub key: u64,
    /// Its similarity.
    pub similarity: f32,
    /// How far it leads the region's second best (1 when there is none).
    pub margin: f32,
}

/// Each region's best training image, at any similarity, for the collage map.
pub fn best_per_region(regions: &[([u32; 4], Vec<crate::index::Hit>)]) -> Vec<RegionBest> {
    regions
        .iter()
        .filter_map(|(cell, hits)| {
            let first = hits.first()?;
            let margin = hits
                .get(1)
                .map_or(1.0, |second| first.similarity - second.similarity);
            Some(RegionBest {
                cell: *cell,
                key: first.key,
                similarity: first.similarity,
                margin,
            })
        })
        .collect()
}

/// Whether regions match two or more different training images at or above `threshold`,
/// each clearly ahead of the region's other candidates ([`COLLAGE_MARGIN`]).
pub fn is_collage(best: &[RegionBest], threshold: f32) -> bool {
    let mut keys: Vec<u64> = best
        .iter()
        .filter(|b| b.similarity >= threshold && b.margin >= COLLAGE_MARGIN)
        .map(|b| b.key)
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys.len() >= 2
}

#[cfg(test)]
mod merge_tests {
    use super::*;
    use crate::index::Hit;

    #[test]
    fn confident_regions_add_and_lift_matches_and_remember_their_cell() {
        let global = [
            Hit {
                key: 1,
                similarity: 0.6,
            },
            Hit {
                key: 2,
                similarity: 0.3,
            },
        ];
        let cell_a = [0, 0, 10, 10];
        let cell_b = [10, 0, 10, 10];
        let regions = vec![
            (
                cell_a,
                vec![
                    Hit {
                        key: 2,
                        similarity: 0.7,
                    },
                    Hit {
                        key: 9,
                        similarity: 0.44,
                    },
                ],
            ),
            (
                cell_b,
                vec![
                    Hit {
                        key: 3,
                        similarity: 0.5,
                    },
                    Hit {
                        key: 1,
                        similarity: 0.55,
                    },
                ],
            ),
        ];
        let merged = merge(&global, &regions, 5, REGION_MIN_SIMILARITY);
        assert_eq!(
            merged[0],
            Candidate {
                key: 2,
                similarity: 0.7,
                region: Some(cell_a)
            }
        );
        assert_eq!(
            merged[1],
            Candidate {
                key: 1,
                similarity: 0.6,
                region: None
            }
        );
        assert_eq!(
            merged[2],
            Candidate {
                key: 3,
                similarity: 0.5,
                region: Some(cell_b)
            }
        );
        assert!(
            merged.iter().all(|c| c.key != 9),
            "a region below the bar does not count"
        );
        assert_eq!(merge(&global, &regions, 1, REGION_MIN_SIMILARITY).len(), 1);
    }

    #[test]
    fn collage_needs_two_different_sources_at_the_threshold() {
        let b = |x: u32, key: u64, similarity: f32, margin: f32| RegionBest {
            cell: [x, 0, 1, 1],
            key,
            similarity,
            margin,
        };
        let best = vec![b(0, 1, 0.8, 0.3), b(1, 1, 0.9, 0.3), b(2, 2, 0.49, 0.2)];
        assert!(!is_collage(&best, 0.5));
        assert!(is_collage(&best, 0.45));
        let unclear = vec![b(0, 1, 0.8, 0.3), b(1, 2, 0.6, 0.02)];
        assert!(
            !is_collage(&unclear, 0.5),
            "a piece that barely leads its region is not a source"
        );
    }
}
