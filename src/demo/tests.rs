//! Tests of [`super`] (`src/demo.rs`).

use super::*;

#[test]
fn scenes_are_deterministic_and_differ_by_seed() {
    assert_eq!(scene(3, 64, 48), scene(3, 64, 48));
    assert_ne!(scene(3, 64, 48), scene(4, 64, 48));
}

#[test]
fn demo_holds_every_kind_with_its_sources() {
    let dir = tempfile::tempdir().expect("tempdir");
    let set = make_demo(
        dir.path(),
        &DemoSpec {
            training: 12,
            generations: 16,
            seed: 1,
        },
    )
    .expect("demo");
    assert_eq!(set.truth.len(), 16);
    for kind in [
        DemoKind::FullCopy,
        DemoKind::NearCopy,
        DemoKind::Collage,
        DemoKind::Distinct,
    ] {
        assert!(set.truth.iter().any(|t| t.kind == kind), "{kind:?} missing");
    }
    for t in &set.truth {
        assert!(set.generations.join(&t.generation).is_file());
        for s in &t.sources {
            assert!(set.training.join(s).is_file());
        }
    }
    let collage = set
        .truth
        .iter()
        .find(|t| t.kind == DemoKind::Collage)
        .expect("collage");
    assert!((2..=4).contains(&collage.sources.len()));
    // The CSV truth is what `replicant eval` reads: a row per source, distinct scenes as
    // negatives.
    let rows = crate::eval::read_truth(&dir.path().join("demo_truth.csv")).expect("truth");
    let expected: usize = set.truth.iter().map(|t| t.sources.len().max(1)).sum();
    assert_eq!(rows.len(), expected);
    let negatives = rows
        .iter()
        .filter(|r| r.kind == crate::eval::Kind::Negative)
        .count();
    let distinct = set
        .truth
        .iter()
        .filter(|t| t.kind == DemoKind::Distinct)
        .count();
    assert_eq!(negatives, distinct);
}
