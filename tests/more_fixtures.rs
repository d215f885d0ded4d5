//! Both fixture folders scanned together with default settings, scored on the report half of
//! the split over both (`tests/fixture_split/all_report.csv`, on which no constant was
//! chosen; `docs/tuning.md`, "The fixture split over both folders"): issue 21's targets where
//! they are met, and the measured figures held where they are not yet.

mod common;

use std::path::{Path, PathBuf};

use replicant::eval::{Figures, evaluate, read_truth};

/// The layout of `examples/eval_fixtures.sh`: generations are every derived image of both
/// folders (and the old fixtures' odd files and look-alikes), training images every source and
/// style image that is not itself derived (and the wallpapers, the sample images and the new
/// folder's unpaired images).
fn layout(fixtures: &Path, more: &Path, root: &Path) -> (PathBuf, PathBuf) {
    let (generations, training) = (root.join("generations"), root.join("training"));
    for base in [fixtures, more] {
        let pairs = common::pairs(base);
        let derived: std::collections::HashSet<&str> =
            pairs.iter().map(|p| p.derived_path.as_str()).collect();
        let sources: std::collections::HashSet<&str> =
            pairs.iter().map(|p| p.source_path.as_str()).collect();
        for rel in &derived {
            common::link(base, rel, &generations);
        }
        for rel in sources.difference(&derived) {
            common::link(base, rel, &training);
        }
        for path in common::image_files(base) {
            let rel = path
                .strip_prefix(base)
                .expect("under the folder")
                .to_string_lossy()
                .into_owned();
            if !common::image_like(&rel)
                || derived.contains(rel.as_str())
                || sources.contains(rel.as_str())
            {
                continue;
            }
            if rel.starts_with("idealo-imagededup/")
                || rel.ends_with("dfdc_2.jpg")
                || rel.ends_with("dfdc_3.jpg")
            {
                common::link(base, &rel, &generations);
            } else if base == more
                || rel.starts_with("debian-wallpapers/")
                || rel.starts_with("pkg-sample-images/")
            {
                common::link(base, &rel, &training);
            }
        }
    }
    (generations, training)
}

fn near_at(figures: &Figures, what: &str) -> (f64, f64) {
    let near = figures.near_copy;
    (
        near.recall_at_1
            .unwrap_or_else(|| panic!("{what}: no near copies")),
        near.recall_at_5
            .unwrap_or_else(|| panic!("{what}: no near copies")),
    )
}

#[test]
fn a_default_scan_of_both_folders_meets_the_report_half_targets() {
    let (Some(fixtures), Some(more)) = (common::fixtures_dir(), common::more_fixtures_dir()) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let (generations, training) = layout(&fixtures, &more, dir.path());
    let (results, summary) = common::scan(common::options(
        &generations,
        &[training],
        &dir.path().join("project"),
    ));
    let listed = common::listed(&results);
    let split = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixture_split");
    let truth = read_truth(&split.join("all_report.csv")).expect("the committed split");
    let evaluation = evaluate(&truth, &listed, 0.5);
    let figures = evaluation.overall;
    println!(
        "report half: {figures:?}; {:?}",
        summary.settings.regions_reason
    );
    assert_eq!(figures.missing, 0, "generations not scanned");
    assert_eq!(
        (figures.full_copy.n, figures.near_copy.n),
        (30, 71),
        "the committed report half changed"
    );
    assert_eq!(
        figures.full_copy.recall_at_1,
        Some(1.0),
        "a full copy not first"
    );
    let (at_1, at_5) = near_at(&figures, "overall");
    assert!(at_1 >= 0.80, "near R@1 {at_1:.3}, below the target 0.80");
    assert!(at_5 >= 0.95, "near R@5 {at_5:.3}, below the target 0.95");
    for (kind, kind_figures) in &evaluation.by_category {
        let n = kind_figures.near_copy.n;
        if n >= 10 {
            let (at_1, at_5) = near_at(kind_figures, kind);
            assert!(
                at_1 >= 0.80,
                "{kind}: near R@1 {at_1:.3}, below the target 0.80"
            );
            // Two artistic pairs cannot be found: jcjohnson's Brad Pitt restyled at content
            // weights 0.0025 and 0.01 shows nothing of the photo (docs/scanning.md); for that
            // kind the target applies to the rest, which is the most the pairs allow.
            let unreachable = if kind == "artistic style transfer" {
                2.0
            } else {
                0.0
            };
            let bound = (0.95f64).min((n as f64 - unreachable) / n as f64);
            assert!(
                at_5 >= bound - 1e-9,
                "{kind}: near R@5 {at_5:.3}, below {bound:.3}"
            );
        }
    }
    assert_eq!(
        (figures.style_only.n, figures.style_only.flagged),
        (28, 0),
        "style-only pairs flagged at 0.5"
    );
    assert_eq!(
        (figures.negative.n, figures.negative.flagged),
        (1, 0),
        "the look-alike flagged at 0.5"
    );
}
