//! How often the structure index alone ([`replicant::ranking::structure`]) draws a near copy's
//! source among its first S candidates, by kind of copy, for several grids: the measurement the
//! grid and the number of structure candidates were chosen by (on the tuning half; see
//! `docs/tuning.md`, "Structure candidates").
//!
//!   cargo run --release --example structure_recall -- DATA_DIR TRUTH.csv [GRID...]
//!
//! DATA_DIR is the layout `examples/eval_fixtures.sh` makes (`generations/`, `training/`, names
//! relative to them as in the truth file); the training folder may hold distractors besides.
use std::collections::BTreeMap;
use std::path::Path;

use replicant::ranking::layout::layout_luma;
use replicant::ranking::structure::structure_vector;

const DEPTHS: [usize; 5] = [1, 3, 5, 10, 20];

fn luma(path: &Path) -> Option<Vec<f32>> {
    let decoded = replicant::decode::decode_file(path, &Default::default()).ok()?;
    Some(
        layout_luma(&decoded.rgb)
            .iter()
            .map(|&v| f32::from(v))
            .collect(),
    )
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(data), Some(truth)) = (args.first(), args.get(1)) else {
        eprintln!("usage: structure_recall DATA_DIR TRUTH.csv [GRID...]");
        std::process::exit(2);
    };
    let grids: Vec<usize> = match args[2..].iter().map(|g| g.parse()).collect() {
        Ok(grids) if !args[2..].is_empty() => grids,
        _ => vec![8, 10, 15],
    };
    let data = Path::new(data);
    let catalog = replicant::catalog::walk_images(&data.join("training")).expect("training folder");
    let training: Vec<(String, Vec<f32>)> = catalog
        .images
        .iter()
        .filter_map(|e| Some((e.rel_path.clone(), luma(e.location.file())?)))
        .collect();
    let mut reader = csv::Reader::from_path(truth).expect("truth file");
    let rows: Vec<BTreeMap<String, String>> =
        reader.deserialize().map(|r| r.expect("row")).collect();
    println!("{} training images", training.len());
    for grid in grids {
        let vectors: Vec<(&str, Option<Vec<f32>>)> = training
            .iter()
            .map(|(name, luma)| (name.as_str(), structure_vector(luma, grid)))
            .collect();
        // kind -> (pairs, found within each depth)
        let mut by_kind: BTreeMap<String, (usize, [usize; DEPTHS.len()])> = BTreeMap::new();
        for row in rows
            .iter()
            .filter(|r| r.get("kind").map(String::as_str) == Some("near_copy"))
        {
            let (Some(derived), Some(source)) = (row.get("derived_path"), row.get("source_path"))
            else {
                continue;
            };
            let kind = row.get("category").cloned().unwrap_or_default();
            let query = luma(&data.join("generations").join(derived))
                .and_then(|l| structure_vector(&l, grid));
            let source_score = vectors
                .iter()
                .find(|(name, _)| name == source)
                .and_then(|(_, v)| v.as_ref());
            let rank = match (&query, source_score) {
                (Some(q), Some(s)) => {
                    let dot = |v: &[f32]| v.iter().zip(q).map(|(a, b)| a * b).sum::<f32>();
                    let own = dot(s);
                    Some(
                        1 + vectors
                            .iter()
                            .filter(|(_, v)| v.as_ref().is_some_and(|v| dot(v) > own))
                            .count(),
                    )
                }
                _ => None,
            };
            for key in [kind, "overall".to_string()] {
                let entry = by_kind.entry(key).or_default();
                entry.0 += 1;
                for (i, depth) in DEPTHS.iter().enumerate() {
                    if rank.is_some_and(|r| r <= *depth) {
                        entry.1[i] += 1;
                    }
                }
            }
        }
        println!(
            "grid {grid} ({} values): recall of the source within S structure candidates",
            2 * grid * grid
        );
        println!(
            "  {:32} {:>5} {}",
            "kind",
            "pairs",
            DEPTHS.map(|d| format!("{:>6}", format!("S={d}"))).join("")
        );
        for (kind, (pairs, found)) in &by_kind {
            let cells: String = found
                .iter()
                .map(|f| format!("{:>6.2}", *f as f64 / *pairs as f64))
                .collect();
            println!("  {kind:32} {pairs:>5} {cells}");
        }
    }
}
