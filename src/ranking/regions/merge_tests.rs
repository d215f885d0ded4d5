//! Tests of [`super`]'s merging of region hits (`src/ranking/regions.rs`).

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
        RegionSearch {
            cell: cell_a,
            min_similarity: REGION_MIN_SIMILARITY,
            hits: vec![
                Hit {
                    key: 2,
                    similarity: 0.7,
                },
                Hit {
                    key: 9,
                    similarity: 0.44,
                },
            ],
        },
        RegionSearch {
            cell: cell_b,
            min_similarity: REGION_MIN_SIMILARITY,
            hits: vec![
                Hit {
                    key: 3,
                    similarity: 0.5,
                },
                Hit {
                    key: 1,
                    similarity: 0.55,
                },
            ],
        },
    ];
    let merged = merge(&global, &regions, 5);
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
    assert_eq!(merge(&global, &regions, 1).len(), 1);
}

#[test]
fn each_region_is_held_to_its_own_plans_bar() {
    let hit = |key, similarity| Hit { key, similarity };
    let regions = vec![
        RegionSearch {
            cell: [0, 0, 10, 10],
            min_similarity: 0.45,
            hits: vec![hit(1, 0.47)],
        },
        RegionSearch {
            cell: [0, 0, 4, 4],
            min_similarity: 0.5,
            hits: vec![hit(2, 0.48)],
        },
    ];
    let merged = merge(&[], &regions, 5);
    let keys: Vec<u64> = merged.iter().map(|c| c.key).collect();
    assert_eq!(keys, [1], "0.48 is under the second region's bar of 0.5");
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
