//! The shortlist cascade end to end with the real models: the training side is indexed with
//! sscd-distilled, each generation's shortlist is read again (files, or tar members by
//! offset) and re-scored with full SSCD, and what is reported is full SSCD's cosine.

mod common;

use common::run_replicant as run;

use std::collections::HashMap;
use std::path::Path;

use replicant::audit::{AuditOptions, audit_report};
use replicant::demo::{DemoSpec, make_demo};
use replicant::export::report::AuditReport;
use replicant::ranking::cascade::{DEFAULT_SHORTLIST_SIZE, Shortlist, ShortlistMode};
use replicant::ranking::matches::{GenerationMatches, Match};
use replicant::ranking::regions::RegionMode;

fn mode(mode: ShortlistMode) -> Shortlist {
    Shortlist { mode, size: None }
}

/// (generation, the training image as `training` names it) -> `value`, over every match.
fn per_pair<T>(
    results: &[GenerationMatches],
    training: impl Fn(&Match) -> String,
    value: impl Fn(&Match) -> T,
) -> HashMap<(String, String), T> {
    results
        .iter()
        .flat_map(|r| {
            r.matches
                .iter()
                .map(|m| ((r.generation.clone(), training(m)), value(m)))
        })
        .collect()
}

/// (generation, training hash) -> similarity, over every match.
fn by_pair(results: &[GenerationMatches]) -> HashMap<(String, String), f32> {
    per_pair(
        results,
        |m| m.training_hash.clone().expect("training hash"),
        |m| m.similarity,
    )
}

#[test]
fn the_cascade_reports_full_sscd_similarities_and_saves_embeddings() {
    let root = tempfile::tempdir().expect("tempdir");
    // 20 training images per generation: `auto` turns the cascade on.
    let set = make_demo(
        root.path(),
        &DemoSpec {
            training: 240,
            generations: 12,
            seed: 61,
        },
    )
    .expect("demo");
    let training = [set.training.clone()];
    let on_project = root.path().join("on");
    let (on, on_summary) = common::scan(common::options(&set.generations, &training, &on_project));
    let mut off_options = common::options(&set.generations, &training, &root.path().join("off"));
    off_options.shortlist = mode(ShortlistMode::Off);
    let (off, off_summary) = common::scan(off_options);

    let cascade = on_summary
        .cascade
        .clone()
        .expect("auto turns the cascade on at 20:1");
    assert!(off_summary.cascade.is_none());
    assert!(cascade.shortlist_model.starts_with("sscd-distilled@"));
    assert!(
        on_summary.model_key.starts_with("sscd@"),
        "similarities are full SSCD's"
    );
    assert_eq!(cascade.shortlist_size, DEFAULT_SHORTLIST_SIZE);
    assert!(cascade.rescored >= DEFAULT_SHORTLIST_SIZE);
    assert!(cascade.rescored - cascade.duplicate_neighbours <= 12 * DEFAULT_SHORTLIST_SIZE);
    assert_eq!(cascade.rescored, cascade.rescored_embedded);
    assert_eq!(cascade.full_embeddings_saved, 240 - cascade.rescored);
    assert_eq!(on.len(), 12);
    for result in &on {
        for m in &result.matches {
            assert_eq!(m.ranked_by.as_deref(), Some("sscd-distilled+sscd"));
        }
    }
    for result in &off {
        for m in &result.matches {
            assert_eq!(m.ranked_by.as_deref(), Some("sscd"));
        }
    }

    // Every similarity the cascade reports is full SSCD's cosine: the same pair found without
    // the cascade has the same similarity (up to the f16 storage of the full index).
    let off_pairs = by_pair(&off);
    let mut compared = 0;
    for (pair, similarity) in by_pair(&on) {
        if let Some(full) = off_pairs.get(&pair) {
            assert!(
                (similarity - full).abs() < 0.003,
                "{pair:?}: cascade {similarity}, full SSCD {full}"
            );
            compared += 1;
        }
    }
    assert!(compared >= 24, "only {compared} pairs in common");
    // Copies keep their source at rank 1.
    let off_by_generation: HashMap<&str, &GenerationMatches> =
        off.iter().map(|r| (r.generation.as_str(), r)).collect();
    let mut copies = 0;
    for result in &on {
        let full = off_by_generation[result.generation.as_str()];
        let Some(top) = full.matches.first().filter(|m| m.similarity >= 0.5) else {
            continue;
        };
        assert_eq!(
            result.matches[0].training_hash, top.training_hash,
            "{}: the cascade lost the top match {}",
            result.generation, top.training
        );
        copies += 1;
    }
    assert!(copies >= 4, "only {copies} copies in the demo set");
    assert_eq!(
        on_summary.at_or_above_threshold, off_summary.at_or_above_threshold,
        "the replication rate is full SSCD's either way"
    );

    // Scanning again embeds nothing, re-scores from the cache, and gives the same results.
    let (again, again_summary) =
        common::scan(common::options(&set.generations, &training, &on_project));
    assert_eq!(again_summary.embedded, 0);
    let again_cascade = again_summary.cascade.expect("cascade");
    assert_eq!(again_cascade.rescored_embedded, 0);
    assert_eq!(again_cascade.rescored, cascade.rescored);
    assert_eq!(by_pair(&again), by_pair(&on));
}

fn text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// `images` packed into tar shards of 15 under `root/shards`, embedded with sscd-distilled by
/// one worker and built into a prebuilt index at `root/index`: (shards, index).
fn distilled_index_of_shards(
    root: &Path,
    images: &[std::path::PathBuf],
) -> (std::path::PathBuf, std::path::PathBuf) {
    let shards = root.join("shards");
    common::pack_shards(images, &shards, 15, 0);
    let parts = root.join("parts");
    common::run_ok(&[
        "embed",
        "--training",
        &text(&shards),
        "--out",
        &text(&parts),
        "--model",
        "sscd-distilled",
    ]);
    let index = root.join("index");
    common::run_ok(&[
        "index",
        "build",
        "--embeddings",
        &text(&parts),
        "--out",
        &text(&index),
    ]);
    (shards, index)
}

#[test]
fn a_distilled_index_of_shards_is_rescored_by_member_offset() {
    let root = tempfile::tempdir().expect("tempdir");
    let set = make_demo(
        root.path(),
        &DemoSpec {
            training: 40,
            generations: 4,
            seed: 62,
        },
    )
    .expect("demo");
    let (_, index) = distilled_index_of_shards(root.path(), &common::image_files(&set.training));

    // A distilled index turns the cascade on whatever the counts.
    let mut options = common::options(&set.generations, &[], &root.path().join("p"));
    options.training = Vec::new();
    options.training_index = Some(index.clone());
    // Regions off on both sides: `auto` weighs them differently when only the generations
    // are embedded.
    options.matching.regions = RegionMode::Off;
    let (with_index, summary) = common::scan(options);
    let cascade = summary
        .cascade
        .expect("a distilled index turns the cascade on");
    assert!(cascade.rescored > 0 && cascade.rescored <= 40);
    assert_eq!(cascade.full_embeddings_saved, 40 - cascade.rescored);
    // The same images in a folder, without the cascade: the same similarities.
    let mut plain = common::options(
        &set.generations,
        std::slice::from_ref(&set.training),
        &root.path().join("plain"),
    );
    plain.shortlist = mode(ShortlistMode::Off);
    plain.matching.regions = RegionMode::Off;
    let (folder, _) = common::scan(plain);
    let folder_pairs = by_pair(&folder);
    let mut compared = 0;
    for result in &with_index {
        for m in &result.matches {
            assert!(m.training.contains(".tar/"), "{}", m.training);
            assert_eq!(m.ranked_by.as_deref(), Some("sscd-distilled+sscd"));
            let key = (
                result.generation.clone(),
                m.training_hash.clone().expect("hash"),
            );
            if let Some(full) = folder_pairs.get(&key) {
                assert!(
                    (m.similarity - full).abs() < 0.003,
                    "{key:?}: cascade {}, full SSCD {full}",
                    m.similarity
                );
                compared += 1;
            }
        }
    }
    assert!(compared >= 8, "only {compared} pairs compared");
    // Duplicate counts and the report's baseline come from the distilled index too, re-scored
    // with full SSCD; each member is read again by its offset.
    assert!(
        with_index
            .iter()
            .flat_map(|r| &r.matches)
            .all(|m| m.duplicates.is_some())
    );
    let out = root.path().join("report.json");
    common::run_ok(&[
        "report",
        "--project",
        &text(&root.path().join("p")),
        "--out",
        &text(&out),
    ]);
    let report: AuditReport =
        serde_json::from_slice(&std::fs::read(&out).expect("read")).expect("report json");
    assert_eq!(report.training_images, 40);
    let baseline = report.baseline.expect("baseline from the distilled index");
    assert_eq!(baseline.sample, 40);
    assert!(
        baseline
            .method
            .as_deref()
            .is_some_and(|m| m.contains("top 16 by sscd-distilled@")),
        "{:?}",
        baseline.method
    );
    assert!(
        report.provenance.index.starts_with("prebuilt "),
        "{}",
        report.provenance.index
    );

    // With the cascade off, a distilled index needs the distilled model: a clear error.
    let (code, _, stderr) = run(&[
        "scan",
        "--generations",
        &text(&set.generations),
        "--training-index",
        &text(&index),
        "--project",
        &text(&root.path().join("off")),
        "--shortlist",
        "off",
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("built with model sscd-distilled@") && stderr.contains("--shortlist off"),
        "{stderr}"
    );
    // Asked for with a model it cannot re-score with: said, and the scan goes on without it.
    let (code, _, stderr) = run(&[
        "scan",
        "--generations",
        &text(&set.generations),
        "--training-index",
        &text(&index),
        "--project",
        &text(&root.path().join("distilled")),
        "--model",
        "sscd-distilled",
        "--shortlist",
        "on",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("shortlist cascade off: it re-scores with full SSCD"),
        "{stderr}"
    );
}

/// (generation, training path) -> duplicate count, over every match (by path: a copy byte
/// for byte has its original's hash).
fn duplicates_by_pair(results: &[GenerationMatches]) -> HashMap<(String, String), Option<usize>> {
    per_pair(results, |m| m.training.clone(), |m| m.duplicates)
}

#[test]
fn the_cascade_counts_duplicates_with_full_sscd() {
    let root = tempfile::tempdir().expect("tempdir");
    let set = make_demo(
        root.path(),
        &DemoSpec {
            training: 40,
            generations: 12,
            seed: 63,
        },
    )
    .expect("demo");
    // Every training image has a duplicate: a copy byte for byte, or re-encoded as a JPEG
    // (a near duplicate, not the same bytes).
    let files = common::image_files(&set.training);
    for (i, file) in files.iter().enumerate() {
        let name = file.file_stem().expect("stem").to_string_lossy();
        match i % 2 {
            0 => {
                std::fs::copy(file, set.training.join(format!("{name}-copy.png"))).expect("copy");
            }
            _ => image::open(file)
                .expect("decode")
                .to_rgb8()
                .save_with_format(
                    set.training.join(format!("{name}-again.jpg")),
                    image::ImageFormat::Jpeg,
                )
                .expect("jpeg"),
        }
    }
    let training = [set.training.clone()];
    let on_project = root.path().join("on");
    let mut on = common::options(&set.generations, &training, &on_project);
    // A shortlist of one, so that the duplicates are re-scored as the shortlisted images'
    // near duplicates, not as shortlisted images themselves.
    on.shortlist = Shortlist {
        mode: ShortlistMode::On,
        size: Some(1),
    };
    on.matching.regions = RegionMode::Off;
    let (with_cascade, summary) = common::scan(on);
    let cascade = summary.cascade.expect("cascade on");
    assert!(
        cascade.duplicate_neighbours > 0,
        "no near duplicate was re-scored: {cascade:?}"
    );
    let off_project = root.path().join("off");
    let mut off = common::options(&set.generations, &training, &off_project);
    off.shortlist = mode(ShortlistMode::Off);
    off.matching.regions = RegionMode::Off;
    let (full, _) = common::scan(off);

    // The same pair has the same full-SSCD duplicate count with the cascade as without it.
    let full_counts = duplicates_by_pair(&full);
    let mut compared = 0;
    let mut with_duplicates = 0;
    for (pair, count) in duplicates_by_pair(&with_cascade) {
        let count = count.unwrap_or_else(|| panic!("{pair:?}: no duplicate count"));
        if let Some(expected) = full_counts.get(&pair) {
            assert_eq!(Some(count), *expected, "{pair:?}");
            compared += 1;
            with_duplicates += usize::from(count > 0);
        }
    }
    assert!(compared >= 8, "only {compared} pairs in common");
    assert!(
        with_duplicates >= 8,
        "only {with_duplicates} matches have duplicates"
    );

    // The report's baseline: the desk's reading finds the full-SSCD embeddings missing and
    // names the command that makes them; `replicant report` embeds them, once.
    let options = AuditOptions::default();
    let unread = audit_report(&on_project, &options).expect("report");
    assert!(unread.baseline.is_none());
    let why = unread.baseline_unavailable.expect("why no baseline");
    assert!(why.contains("replicant report --project"), "{why}");
    let out = root.path().join("cascade.json");
    // Without a runtime the report is still made, and says why it has no baseline.
    let missing = root.path().join("no-such-libonnxruntime.so");
    common::run_ok(&[
        "report",
        "--project",
        &text(&on_project),
        "--out",
        &text(&out),
        "--ort-lib",
        &text(&missing),
        "--no-setup",
    ]);
    let without: AuditReport =
        serde_json::from_slice(&std::fs::read(&out).expect("read")).expect("report json");
    assert!(without.baseline.is_none());
    let why = without.baseline_unavailable.unwrap_or_default();
    assert!(
        why.contains("could not be made") && why.contains("no-such-libonnxruntime.so"),
        "{why}"
    );
    std::fs::remove_file(&out).expect("remove");
    let stderr = common::run_ok(&[
        "report",
        "--project",
        &text(&on_project),
        "--out",
        &text(&out),
    ]);
    assert!(
        stderr.contains("embedded with full SSCD for the baseline"),
        "{stderr}"
    );
    let stderr = common::run_ok(&[
        "report",
        "--project",
        &text(&on_project),
        "--out",
        &text(&out),
        "--force",
    ]);
    assert!(
        !stderr.contains("for the baseline"),
        "embedded again: {stderr}"
    );
    let report: AuditReport =
        serde_json::from_slice(&std::fs::read(&out).expect("read")).expect("report json");
    let exact = audit_report(&off_project, &options).expect("report");
    assert_eq!(report.training_images, 80);
    assert_eq!(exact.training_images, 80);
    let baseline = report.baseline.expect("cascade baseline");
    let exact_baseline = exact.baseline.expect("exact baseline");
    assert!(
        baseline
            .method
            .as_deref()
            .is_some_and(|m| m
                .starts_with("shortlist cascade: each sampled image's top 1 by sscd-distilled@")),
        "{:?}",
        baseline.method
    );
    assert!(exact_baseline.method.is_none());
    // The same sample (every training image, in the same order). Each top-1 is the best of
    // a shortlist, so never above the exact search's, and the same where the nearest other
    // image is a near duplicate (a JPEG copy: byte-identical copies are skipped), which the
    // cascade always re-scores.
    assert_eq!(baseline.sample, 80);
    assert_eq!(baseline.train_top1.len(), exact_baseline.train_top1.len());
    let mut near_duplicates = 0;
    for (i, (cascade, full)) in baseline
        .train_top1
        .iter()
        .zip(&exact_baseline.train_top1)
        .enumerate()
    {
        assert!(
            *cascade <= full + 1e-4,
            "sample {i}: cascade {cascade}, exact {full}"
        );
        if *full >= 0.95 {
            assert!(
                (cascade - full).abs() < 1e-4,
                "sample {i}: cascade {cascade}, exact {full}"
            );
            near_duplicates += 1;
        }
    }
    assert!(
        near_duplicates >= 30,
        "only {near_duplicates} near duplicates"
    );
    let counts = report.duplicate_counts.expect("duplicate counts");
    let exact_counts = exact.duplicate_counts.expect("exact duplicate counts");
    assert!(counts.all_mean.is_some_and(|m| m > 0.0), "{counts:?}");
    assert_eq!(counts.all_mean, exact_counts.all_mean);
    assert_eq!(counts.replicated_mean, exact_counts.replicated_mean);
}

#[test]
fn training_images_unreadable_at_report_time_are_left_out_of_the_baseline_and_listed() {
    let root = tempfile::tempdir().expect("tempdir");
    let set = make_demo(
        root.path(),
        &DemoSpec {
            training: 40,
            generations: 2,
            seed: 65,
        },
    )
    .expect("demo");
    let images: Vec<_> = common::image_files(&set.training)
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "png" || e == "jpg"))
        .collect();

    // A prebuilt distilled index of shards, one of which is gone by the time of the report:
    // its members cannot be read again for full SSCD.
    let (shards, index) = distilled_index_of_shards(root.path(), &images);
    let project = root.path().join("p");
    let mut options = common::options(&set.generations, &[], &project);
    options.training = Vec::new();
    options.training_index = Some(index);
    options.shortlist = Shortlist {
        mode: ShortlistMode::On,
        size: Some(1),
    };
    options.matching.regions = RegionMode::Off;
    common::scan(options);
    let mut shard_files: Vec<_> = std::fs::read_dir(&shards)
        .expect("shards")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "tar"))
        .collect();
    shard_files.sort();
    let gone = shard_files.last().expect("a shard").clone();
    std::fs::remove_file(&gone).expect("remove");
    let gone_name = gone
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();

    let out = root.path().join("report.json");
    let stderr = common::run_ok(&["report", "--project", &text(&project), "--out", &text(&out)]);
    assert!(
        stderr.contains("left out of the baseline") && stderr.contains(&gone_name),
        "{gone_name}: {stderr}"
    );
    let failures = std::fs::read_to_string(project.join("baseline_failures.json"))
        .expect("the list of images left out");
    assert!(failures.contains(&gone_name), "{failures}");
    let report: AuditReport =
        serde_json::from_slice(&std::fs::read(&out).expect("read")).expect("json");
    assert_eq!(report.training_images, 40);
    let baseline = report.baseline.expect("a baseline without the gone shard");
    // The last shard holds 10 of the 40; at most the one re-scored by the scan is cached.
    assert!(
        (30..=31).contains(&baseline.sample),
        "sample {}",
        baseline.sample
    );
    let method = baseline.method.unwrap_or_default();
    assert!(
        method.contains("training images could not be read again") && method.contains(&gone_name),
        "{method}"
    );

    // On the project's own folders, an image that rotted since the scan (zeroed in place,
    // size and time kept) is read once, found damaged, named, and the report says the
    // folders no longer match the scan.
    let own = root.path().join("own");
    let mut options = common::options(&set.generations, std::slice::from_ref(&set.training), &own);
    options.shortlist = Shortlist {
        mode: ShortlistMode::On,
        size: Some(1),
    };
    options.matching.regions = RegionMode::Off;
    let (results, _) = common::scan(options);
    let matched: std::collections::HashSet<String> = results
        .iter()
        .flat_map(|r| r.matches.iter().map(|m| m.training.clone()))
        .collect();
    let rotten = images
        .iter()
        .find(|f| {
            let name = f.file_name().expect("name").to_string_lossy().into_owned();
            !matched.iter().any(|m| m.ends_with(&name))
        })
        .expect("an image no generation matched");
    let rotten_name = rotten
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let modified = std::fs::metadata(rotten)
        .and_then(|m| m.modified())
        .expect("mtime");
    let size = std::fs::metadata(rotten).expect("size").len();
    std::fs::write(rotten, vec![0u8; usize::try_from(size).expect("size")]).expect("zero");
    std::fs::File::options()
        .write(true)
        .open(rotten)
        .and_then(|f| f.set_modified(modified))
        .expect("mtime back");
    let stderr = common::run_ok(&[
        "report",
        "--project",
        &text(&own),
        "--out",
        &text(&out),
        "--force",
    ]);
    assert!(
        stderr.contains("left out of the baseline") && stderr.contains(&rotten_name),
        "{rotten_name}: {stderr}"
    );
    let report: AuditReport =
        serde_json::from_slice(&std::fs::read(&out).expect("read")).expect("json");
    assert_eq!(report.baseline.map(|b| b.sample), Some(39));
    assert!(
        report
            .provenance
            .index
            .contains("1 more images in the training folders have no embedding from the last scan"),
        "{}",
        report.provenance.index
    );
}
