//! Region matching, coarse to fine. Besides the whole image, each generation is embedded in
//! nine coarse windows (3x3 positions of a window 45% of the width and height, overlapping by
//! about a fifth), and each window is searched against the training index. A generation that
//! the whole image and the coarse windows leave without a match at the threshold is embedded
//! again in 49 fine windows (7x7 positions of a window 18% of each side), for training images
//! shown small inside a screenshot, a web page or a poster (see `src/scan/coordinator/fine.rs`). A window
//! that finds a training image confidently (at least its plan's minimum similarity) adds or
//! lifts that match and remembers its rectangle; a generation whose windows match two or more
//! different training images at or above the threshold, each clearly ahead of its window's
//! other candidates, is a collage.
//!
//! A window's plan (its grid, share and minimum similarity) and the blank-window floor are
//! constants here; how each was chosen, on which half of the fixtures and with what figures, is
//! in `docs/tuning.md` ("Region windows", "Blank windows").

/// Window positions per side of the coarse windows.
pub const REGION_GRID: u32 = 3;

/// A coarse window's width and height as a share of the image's.
pub const WINDOW_SHARE: f32 = 0.45;

/// A coarse region's similarity must reach this to count as a match.
pub const REGION_MIN_SIMILARITY: f32 = 0.45;

/// Window positions per side of the fine windows, searched only in generations the whole
/// image and the coarse windows left without a match at the threshold.
pub const FINE_GRID: u32 = 7;

/// A fine window's width and height as a share of the image's.
pub const FINE_SHARE: f32 = 0.18;

/// A fine region's similarity must reach this to count as a match.
pub const FINE_MIN_SIMILARITY: f32 = 0.4;

/// The largest scan-time cost, relative to whole-image matching, at which `auto` turns
/// regions on: the coarse windows when they alone fit, the fine windows too when both fit
/// even if every generation needed them.
pub const AUTO_MAX_COST: f64 = 2.5;

/// Whether generations are matched by region too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum RegionMode {
    /// On when the estimated scan time is within [`AUTO_MAX_COST`] of whole-image matching.
    #[default]
    Auto,
    /// Always.
    On,
    /// The coarse windows only, never the fine ones (what auto decides on folders where the
    /// fine windows would cost too much; this flag gives that decision again).
    Coarse,
    /// Never.
    Off,
}

impl RegionMode {
    /// The flag's word: `auto`, `on`, `coarse` or `off`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::On => "on",
            Self::Coarse => "coarse",
            Self::Off => "off",
        }
    }
}

impl std::str::FromStr for RegionMode {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.trim().eq_ignore_ascii_case("coarse") {
            return Ok(Self::Coarse);
        }
        Ok(
            match crate::ranking::switch::parse_switch(text, "region mode")? {
                crate::ranking::switch::Switch::Auto => Self::Auto,
                crate::ranking::switch::Switch::On => Self::On,
                crate::ranking::switch::Switch::Off => Self::Off,
            },
        )
    }
}

/// The estimated scan-time cost of region windows relative to whole-image matching: each
/// image is one embedding without them; with them, each generation also embeds every window
/// of `plans` (and the fine pass embeds the whole image again).
pub fn region_cost(generations: usize, training: usize, plans: &[RegionPlan]) -> f64 {
    let base = (generations + training).max(1) as f64;
    let windows: usize = plans.iter().map(RegionPlan::cell_count).sum();
    let passes = plans.len().saturating_sub(1);
    (training + generations * (1 + windows + passes)) as f64 / base
}

/// The embeddings the fine windows may spend within [`AUTO_MAX_COST`]: what the limit allows,
/// less the whole images and the coarse windows (when on).
fn composite_budget(generations: usize, training: usize, coarse: Option<RegionPlan>) -> usize {
    let base = (generations + training) as f64;
    let used = region_cost(
        generations,
        training,
        &coarse.into_iter().collect::<Vec<_>>(),
    ) * base;
    (AUTO_MAX_COST * base - used).max(0.0).floor() as usize
}

/// What the fine pass would embed for a generation with this layout thumbnail: the whole image
/// again and each of `fine`'s windows that is not blank ([`crate::ranking::blank`]), estimated
/// on a square frame (the windows scale with the image).
pub fn fine_cost(luma: &[f32], fine: RegionPlan) -> usize {
    let extent = (1_000, 1_000);
    1 + fine
        .cells(extent.0, extent.1)
        .into_iter()
        .filter(|cell| !crate::ranking::blank::window_is_blank(luma, extent, *cell, fine.blank_std))
        .count()
}

/// What `--regions` decided for a scan: the coarse windows, and the fine ones.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RegionChoice {
    /// The coarse windows, searched in every generation.
    pub coarse: Option<RegionPlan>,
    /// The fine windows, searched in generations still without a match at the threshold.
    pub fine: Option<RegionPlan>,
    /// `None`: every such generation gets the fine windows. `Some(n)`: only those that look
    /// like composites ([`crate::ranking::composite`]), while their embeddings (the whole image
    /// again and each window that is not blank) total at most `n`: the room the cost limit
    /// leaves.
    pub fine_budget: Option<usize>,
}

impl RegionChoice {
    /// Decides for `generations` against `training` images: `on` takes both plans, `off`
    /// neither, `auto` the coarse plan when its cost is within [`AUTO_MAX_COST`] and the fine
    /// plan too when both are. Returns the choice and, for `auto`, the reasoning in a line.
    pub fn decide(
        mode: RegionMode,
        coarse: RegionPlan,
        fine: Option<RegionPlan>,
        generations: usize,
        training: usize,
    ) -> (Self, Option<String>) {
        match mode {
            RegionMode::On => (
                Self {
                    coarse: Some(coarse),
                    fine,
                    fine_budget: None,
                },
                None,
            ),
            RegionMode::Coarse => (
                Self {
                    coarse: Some(coarse),
                    fine: None,
                    fine_budget: None,
                },
                None,
            ),
            RegionMode::Off => (Self::default(), None),
            RegionMode::Auto => {
                let coarse_cost = region_cost(generations, training, &[coarse]);
                let coarse = (coarse_cost <= AUTO_MAX_COST).then_some(coarse);
                let plans = |fine: RegionPlan| coarse.into_iter().chain([fine]).collect::<Vec<_>>();
                let both_cost = fine.map(|f| region_cost(generations, training, &plans(f)));
                let budget = composite_budget(generations, training, coarse);
                let (fine, fine_budget, fine_text) = match (fine, both_cost) {
                    (None, _) | (_, None) => (None, None, "fine windows off".to_string()),
                    (Some(f), Some(cost)) if cost <= AUTO_MAX_COST => (
                        Some(f),
                        None,
                        format!("fine windows on (at most {cost:.1}x)"),
                    ),
                    (Some(f), Some(cost)) if budget >= 2 => (
                        Some(f),
                        Some(budget),
                        format!(
                            "fine windows for generations that look like screenshots, pages or figures, within {budget} more embeddings ({cost:.1}x if every generation needed them all)"
                        ),
                    ),
                    (Some(_), Some(cost)) => {
                        (None, None, format!("fine windows off (up to {cost:.1}x)"))
                    }
                };
                let choice = Self {
                    coarse,
                    fine,
                    fine_budget,
                };
                let again = match (choice.coarse.is_some(), choice.fine.is_some()) {
                    _ if choice.fine_budget.is_some() => "auto",
                    (false, false) => "off",
                    (true, false) => "coarse",
                    _ => "on",
                };
                let line = format!(
                    "region matching (auto): coarse windows {} ({coarse_cost:.1}x of whole-image matching); {fine_text}; the limit is {AUTO_MAX_COST:.1}x; --regions {again} gives this decision again, --regions on|coarse|off decides",
                    if choice.coarse.is_some() { "on" } else { "off" },
                );
                (choice, Some(line))
            }
        }
    }
}

/// The windows' geometry and the similarity a window needs to count: coarse windows default
/// to [`REGION_GRID`], [`WINDOW_SHARE`] and [`REGION_MIN_SIMILARITY`], fine ones to
/// [`FINE_GRID`], [`FINE_SHARE`] and [`FINE_MIN_SIMILARITY`]; other values exist for choosing
/// them on held-out pairs (hidden `scan` flags). View names carry the grid and share, so a
/// cache never mixes windows of two plans.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RegionPlan {
    /// Window positions per side.
    pub grid: u32,
    /// A window's width and height as a share of the image's.
    pub window_share: f32,
    /// A region's similarity must reach this to count as a match.
    pub min_similarity: f32,
    /// A window whose part of the layout thumbnail varies less than this (grey levels) is
    /// blank and not searched (see [`crate::ranking::blank`]); 0 searches every window.
    pub blank_std: f32,
}

impl Default for RegionPlan {
    fn default() -> Self {
        Self {
            grid: REGION_GRID,
            window_share: WINDOW_SHARE,
            min_similarity: REGION_MIN_SIMILARITY,
            blank_std: crate::ranking::blank::BLANK_WINDOW_STD,
        }
    }
}

impl RegionPlan {
    /// The fine windows' default plan.
    pub fn fine() -> Self {
        Self {
            grid: FINE_GRID,
            window_share: FINE_SHARE,
            min_similarity: FINE_MIN_SIMILARITY,
            blank_std: crate::ranking::blank::BLANK_WINDOW_STD,
        }
    }

    /// Windows per image.
    pub fn cell_count(&self) -> usize {
        let n = self.grid.max(1) as usize;
        n * n
    }

    /// The windows of a `width x height` image, as `[x, y, w, h]`: `grid` positions per side,
    /// evenly spread from edge to edge, each `window_share` of the side.
    pub fn cells(&self, width: u32, height: u32) -> Vec<[u32; 4]> {
        let n = self.grid.max(1);
        let share = self.window_share.clamp(0.05, 1.0);
        let size = |side: u32| ((side as f32 * share).round() as u32).clamp(1, side.max(1));
        let (w, h) = (size(width), size(height));
        let position = |i: u32, side: u32, window: u32| {
            ((side - window) as f32 * i as f32 / (n - 1).max(1) as f32).round() as u32
        };
        let mut cells = Vec::with_capacity(self.cell_count());
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
        format!("r{}w{:.0}:", self.grid.max(1), self.window_share * 100.0)
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
        let coarse = [RegionPlan::default()];
        assert!(region_cost(100, 10_000, &coarse) < 1.1);
        assert!(region_cost(1_000, 1_000, &coarse) > 5.0);
        // 7 training images and 2 generations of 1 + 9 views: 27 embeddings for 9.
        assert!((region_cost(2, 7, &coarse) - 3.0).abs() < 1e-9);
        // The fine pass adds 49 windows and the whole image again: 2 x 60 + 7 = 127.
        let both = [RegionPlan::default(), RegionPlan::fine()];
        assert!((region_cost(2, 7, &both) - 127.0 / 9.0).abs() < 1e-9);
    }

    #[test]
    fn auto_takes_the_coarse_windows_before_the_fine_ones() {
        let (coarse, fine) = (RegionPlan::default(), Some(RegionPlan::fine()));
        let decide = |g, t| RegionChoice::decide(RegionMode::Auto, coarse, fine, g, t).0;
        // 100 to 1: both fit ((100 + 60) / 101 = 1.58).
        assert_eq!(decide(10, 1_000).fine, fine);
        assert_eq!(decide(10, 1_000).fine_budget, None, "every generation");
        // 10 to 1: the coarse windows fit ((10 + 10) / 11 = 1.8), both would not (6.4): the
        // fine windows go to composites only, within the embeddings the limit leaves room for:
        // 2.5 x 1,100 - 2,000 = 750.
        let ten = decide(100, 1_000);
        assert_eq!((ten.coarse, ten.fine), (Some(coarse), fine));
        assert_eq!(ten.fine_budget, Some(750));
        // As many generations as training images: no coarse windows (5.5); the fine ones
        // within 2.5 x 2,000 - 2,000 = 3,000 embeddings.
        let even = decide(1_000, 1_000);
        assert_eq!(
            (even.coarse, even.fine, even.fine_budget),
            (None, fine, Some(3_000))
        );
        // Ten times more generations than training images: 2.5 x 1,100 - 1,100 = 1,650; one
        // generation alone leaves room for one embedding, too few for a window.
        assert_eq!(decide(1_000, 100).fine_budget, Some(1_650));
        assert_eq!(decide(1, 0), RegionChoice::default());
        let (on, line) = RegionChoice::decide(RegionMode::On, coarse, fine, 1_000, 1);
        assert_eq!((on.coarse, on.fine, line), (Some(coarse), fine, None));
        let (off, _) = RegionChoice::decide(RegionMode::Off, coarse, fine, 1, 1_000_000);
        assert_eq!(off, RegionChoice::default());
    }

    #[test]
    fn a_page_costs_its_drawn_windows_and_a_photo_all_of_them() {
        let fine = RegionPlan::fine();
        // White, with a picture in the top-left quarter.
        let page: Vec<f32> = (0..1024)
            .map(|i| {
                let (x, y) = (i % 32, i / 32);
                if x < 16 && y < 16 {
                    ((x * 37 + y * 91) % 200) as f32
                } else {
                    255.0
                }
            })
            .collect();
        let photo: Vec<f32> = (0..1024).map(|i| ((i * 7919) % 97) as f32 + 50.0).collect();
        assert_eq!(fine_cost(&photo, fine), 1 + 49);
        let page_cost = fine_cost(&page, fine);
        assert!((10..40).contains(&page_cost), "{page_cost}");
    }

    #[test]
    fn fine_windows_are_another_plan_with_their_own_grid() {
        let fine = RegionPlan::fine();
        let cells = fine.cells(1000, 400);
        assert_eq!(cells.len(), 49);
        assert_eq!(cells[0], [0, 0, 180, 72]);
        assert_eq!(cells[48], [820, 328, 180, 72]);
        // Neighbours overlap: 7 windows of 18% cover the side with a stride of 82/6 = 13.7%.
        assert_eq!(cells[1][0], 137);
        let coarse = RegionPlan::default();
        assert_eq!(coarse.cell_of_view(&fine.view_name(cells[3])), None);
        assert_eq!(fine.cell_of_view(&fine.view_name(cells[3])), Some(cells[3]));
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

/// One region's search: its window, the similarity its plan asks of a match, and its hits.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionSearch {
    /// The window, `[x, y, w, h]` in generation pixels.
    pub cell: [u32; 4],
    /// A hit counts as a match at this similarity or above.
    pub min_similarity: f32,
    /// Its nearest training images, best first.
    pub hits: Vec<crate::index::Hit>,
}

/// Merges whole-image hits with each region's hits into one list, most similar first: a
/// region's hit counts only at its plan's minimum similarity or above, and replaces the
/// whole-image similarity of a training image when it is higher.
pub fn merge(
    global: &[crate::index::Hit],
    regions: &[RegionSearch],
    top_k: usize,
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
    for region in regions {
        let cell = &region.cell;
        for hit in region
            .hits
            .iter()
            .filter(|h| h.similarity >= region.min_similarity)
        {
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
pub fn best_per_region(regions: &[RegionSearch]) -> Vec<RegionBest> {
    regions
        .iter()
        .filter_map(|region| {
            let first = region.hits.first()?;
            let margin = region
                .hits
                .get(1)
                .map_or(1.0, |second| first.similarity - second.similarity);
            Some(RegionBest {
                cell: region.cell,
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
mod merge_tests;
