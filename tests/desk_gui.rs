//! The desk driven through egui_kittest on the wgpu renderer (a software Vulkan driver in CI):
//! open a project, select a generation, press 2 and find the label in the store; undo and find
//! it gone; and snapshots of the welcome screen, the list with the pair view, and the stats.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use replicant::app::{Command, DeskApp, SettingCommand, StartMode};
use replicant::review::{Label, PairKey, ReviewStore};

/// A project scanned from the fixtures: AugLy's edits against its inputs, the emoji and the
/// screenshot template.
fn fixtures_project(root: &Path) -> Option<PathBuf> {
    let fixtures = common::fixtures_dir()?;
    let generations = root.join("generations");
    let training = root.join("training");
    let augly = "facebookresearch-augly/augly";
    let outputs = fixtures
        .join(augly)
        .join("tests/assets/image/dfdc_expected_output");
    for name in ["test_hflip.png", "test_crop.png", "test_grayscale.png"] {
        common::link(&outputs, name, &generations);
    }
    for (dir, name) in [
        ("tests/assets/image/inputs", "dfdc_1.jpg"),
        ("tests/assets/image/inputs", "dfdc_2.jpg"),
        ("assets/screenshot_templates", "web.png"),
    ] {
        common::link(&fixtures.join(augly).join(dir), name, &training);
    }
    let project = root.join("project");
    common::scan(common::options(&generations, &[training], &project));
    Some(project)
}

fn harness(start: StartMode, size: egui::Vec2) -> Harness<'static, DeskApp> {
    harness_with_regions(start, size, None)
}

/// The desk, with its choice of regions for the scans it starts when given.
fn harness_with_regions(
    start: StartMode,
    size: egui::Vec2,
    regions: Option<replicant::ranking::regions::RegionMode>,
) -> Harness<'static, DeskApp> {
    Harness::builder()
        .with_size(size)
        .wgpu()
        .build_eframe(move |cc| {
            let mut app = DeskApp::new(cc, start).with_model(common::sscd());
            if let Some(regions) = regions {
                app = app.with_regions(regions);
            }
            // Fixed texts, so the snapshots do not depend on who runs them.
            app.settings_mut().reviewer = "reviewer".into();
            app.settings_mut().reviewer_confirmed = true;
            app.settings_mut().show_frame_time = false;
            app
        })
}

/// Steps the harness until `done` holds (background work wakes it), or fails after a while.
fn step_until(harness: &mut Harness<'_, DeskApp>, what: &str, done: impl Fn(&DeskApp) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !done(harness.state()) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        harness.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    harness.run_steps(4);
}

/// The desk on [`fixtures_project`], its scan done: the project and the harness.
fn opened_fixtures(root: &Path) -> Option<(PathBuf, Harness<'static, DeskApp>)> {
    let project = fixtures_project(root)?;
    let harness = opened(&project);
    Some((project, harness))
}

/// The desk on a project of [`fixtures_project`], its scan (three generations) done.
fn opened(project: &Path) -> Harness<'static, DeskApp> {
    let mut harness = harness(
        StartMode::Project(project.to_path_buf()),
        egui::vec2(1280.0, 800.0),
    );
    step_until(&mut harness, "the scan", |app| {
        app.desk().is_some_and(|d| !d.scanning()) && results(app) == 3
    });
    harness
}

/// Labels the fixtures project's `test_crop.png ~ dfdc_1.jpg` through the CLI as `reviewer`.
fn label_crop_as(project: &Path, label: &str, reviewer: &str) {
    let (code, _, err) = common::run_replicant(&[
        "label",
        "--project",
        project.to_str().expect("utf-8"),
        "--generation",
        "test_crop.png",
        "--training",
        "dfdc_1.jpg",
        "--label",
        label,
        "--reviewer",
        reviewer,
    ]);
    assert_eq!(code, 0, "label failed: {err}");
}

fn images_ready(app: &DeskApp) -> bool {
    app.desk().is_some_and(|d| {
        d.current_locations()
            .is_some_and(|(g, t)| d.images().get(&g).is_some() && d.images().get(&t).is_some())
    })
}

fn results(app: &DeskApp) -> usize {
    app.desk().map_or(0, |d| d.review().results().len())
}

#[test]
fn pressing_2_labels_the_pair_in_the_store_and_undo_removes_it() {
    let root = tempfile::tempdir().expect("tempdir");
    let Some((project, mut harness)) = opened_fixtures(root.path()) else {
        return;
    };
    // This test labels one pair several times: stay on it.
    harness
        .state_mut()
        .push(Command::Setting(SettingCommand::AutoAdvance(false)));

    // Select a generation by clicking its row.
    harness
        .get_by_role_and_label(egui::accesskit::Role::Button, "test_crop.png")
        .click();
    harness.run_steps(3);
    let desk = harness.state().desk().expect("desk");
    let (generation, m) = desk.current().expect("selected pair");
    assert_eq!(generation.generation, "test_crop.png");
    assert_eq!(m.training, "dfdc_1.jpg");
    let key = PairKey::of(generation, m).expect("content key");

    harness.key_press(egui::Key::Num2);
    harness.run_steps(2);
    let store = ReviewStore::open(&project.join("review.sqlite")).expect("store");
    let record = store.get(&key).expect("read").expect("label stored");
    assert_eq!(record.label, Some(Label::NearCopy));
    assert_eq!(record.reviewer, "reviewer");
    assert_eq!(record.context.rank, 1);

    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    harness.run_steps(2);
    assert_eq!(
        store.get(&key).expect("read"),
        None,
        "undo left the label in the store"
    );
    harness.key_press_modifiers(
        egui::Modifiers::COMMAND | egui::Modifiers::SHIFT,
        egui::Key::Z,
    );
    harness.run_steps(2);
    assert_eq!(
        store.get(&key).expect("read").and_then(|r| r.label),
        Some(Label::NearCopy),
        "redo"
    );

    // The buttons do what the keys do.
    harness.get_by_label("3  Distinct").click();
    harness.run_steps(2);
    assert_eq!(
        store.get(&key).expect("read").and_then(|r| r.label),
        Some(Label::Distinct)
    );
}

#[test]
fn snapshot_welcome_screen() {
    let mut harness = harness(StartMode::Resume, egui::vec2(1280.0, 800.0));
    harness.run_steps(4);
    harness.get_by_label("Open generations…");
    harness.snapshot("welcome");
}

#[test]
fn snapshots_of_the_list_with_the_pair_view_and_the_stats_panel() {
    let root = tempfile::tempdir().expect("tempdir");
    let Some(project) = fixtures_project(root.path()) else {
        return;
    };
    let mut harness = harness(StartMode::Project(project), egui::vec2(1280.0, 800.0));
    step_until(&mut harness, "the scan", |app| {
        app.desk().is_some_and(|d| !d.scanning()) && results(app) == 3
    });
    harness.state_mut().push(Command::SelectGeneration(0));
    step_until(&mut harness, "the pair's images", images_ready);
    step_until(&mut harness, "the pair's alignment", |app| {
        app.desk().is_some_and(|d| d.current_alignment().is_some())
    });
    std::thread::sleep(Duration::from_millis(1500));
    harness.run_steps(6);
    harness.snapshot("desk_pair_view");

    harness.state_mut().push(Command::ToggleStats);
    step_until(&mut harness, "the evidence report", |app| {
        app.desk().is_some_and(|d| d.report().last().is_some())
    });
    harness.run_steps(4);
    harness.get_by_label("Replication rate");
    // The baseline came from the project: the three training images against each other.
    let sample = harness
        .state()
        .desk()
        .and_then(|d| d.report().last())
        .and_then(|r| r.baseline.as_ref())
        .map(|b| b.sample);
    assert_eq!(sample, Some(3));
    harness.snapshot("desk_stats");
}

/// The welcome screen's "generations + an existing index": the desk scans the generations
/// against a training index built from tar shards, lists matches by their `SHARD.tar/MEMBER`
/// names, and loads the training image of the pair on screen from its shard by offset.
#[test]
fn opens_generations_with_an_existing_index_and_shows_tar_members() {
    let root = tempfile::tempdir().expect("tempdir");
    let set = replicant::demo::make_demo(
        root.path(),
        &replicant::demo::DemoSpec {
            training: 12,
            generations: 4,
            seed: 9,
        },
    )
    .expect("demo");
    let shards = root.path().join("shards");
    common::pack_shards(&common::image_files(&set.training), &shards, 5, 0);
    let embeddings = root.path().join("embeddings");
    let index = root.path().join("index");
    for args in [
        vec![
            "embed".into(),
            "--training".into(),
            shards.clone().into_os_string(),
            "--out".into(),
            embeddings.clone().into_os_string(),
        ],
        vec![
            "index".into(),
            "build".into(),
            "--embeddings".into(),
            embeddings.clone().into_os_string(),
            "--out".into(),
            index.clone().into_os_string(),
        ],
    ] {
        let done = std::process::Command::new(common::replicant_bin())
            .args(&args)
            .output()
            .expect("run replicant");
        assert!(
            done.status.success(),
            "{:?}: {}",
            args,
            String::from_utf8_lossy(&done.stderr)
        );
    }
    let mut harness = harness(StartMode::Resume, egui::vec2(1280.0, 800.0));
    harness.state_mut().push(Command::OpenFolders {
        generations: set.generations.clone(),
        training: Vec::new(),
        training_index: Some(index.clone()),
        project: Some(root.path().join("project")),
    });
    step_until(&mut harness, "the scan against the index", |app| {
        app.desk()
            .is_some_and(|d| !d.scanning() && d.review().results().len() == 4)
    });
    let desk = harness.state().desk().expect("desk");
    assert_eq!(
        desk.review().project().spec.training_index.as_deref(),
        Some(replicant::project::absolute(&index).as_path())
    );
    assert!(
        desk.review()
            .results()
            .iter()
            .flat_map(|r| &r.matches)
            .all(|m| m.training.contains(".tar/") && m.training_path.member().is_some()),
        "every match is a tar member"
    );
    harness.state_mut().push(Command::SelectGeneration(0));
    step_until(&mut harness, "the pair's images", images_ready);
    let desk = harness.state().desk().expect("desk");
    let (_, m) = desk.current().expect("pair");
    let original = desk
        .images()
        .get(&m.training_path)
        .expect("uploaded")
        .original;
    assert_eq!(original, (640, 480), "the member decoded at its own size");
}

/// A training image shown small (20% of the width) inside a web page: the fine windows find
/// it, the pair view outlines the window on the generation and says under the match strip
/// which window found it.
#[test]
fn a_small_copy_shows_the_window_that_found_it() {
    let Some(fixtures) = common::fixtures_dir() else {
        return;
    };
    let root = tempfile::tempdir().expect("tempdir");
    let augly = fixtures.join("facebookresearch-augly/augly");
    let source = augly.join("tests/assets/image/inputs/dfdc_1.jpg");
    let generations = root.path().join("generations");
    let training = root.path().join("training");
    std::fs::create_dir_all(&generations).expect("mkdir");
    common::link(
        &augly.join("tests/assets/image/inputs"),
        "dfdc_1.jpg",
        &training,
    );
    common::link(
        &augly.join("assets/screenshot_templates"),
        "web.png",
        &training,
    );
    // A plain page of grey text bars, and the source pasted at 20% of its width.
    let mut page = image::RgbImage::from_pixel(1280, 800, image::Rgb([255, 255, 255]));
    for row in (140..700).step_by(30) {
        for x in 60..860 {
            for y in row..row + 10 {
                page.put_pixel(x, y, image::Rgb([150, 150, 150]));
            }
        }
    }
    let pasted = image::open(&source).expect("source").to_rgb8();
    let width = 256;
    let height = pasted.height() * width / pasted.width();
    let small = image::imageops::resize(&pasted, width, height, image::imageops::Lanczos3);
    image::imageops::overlay(&mut page, &small, 940, 120);
    page.save(generations.join("page.png")).expect("save");
    let project = root.path().join("project");
    let mut options = common::options(&generations, &[training], &project);
    options.matching.regions = replicant::ranking::regions::RegionMode::On;
    let (results, _) = common::scan(options);
    let top = &results[0].matches[0];
    assert_eq!(top.training, "dfdc_1.jpg");
    let [x, y, w, h] = top.region.expect("found by a window");
    assert!(
        w < 400,
        "a fine window (18% of 1280 = 230 px) found it: {w}"
    );
    // The window lies mostly on the paste (940..1196 x 120..264).
    let across = (x + w).min(940 + width).saturating_sub(x.max(940));
    let down = (y + h).min(120 + height).saturating_sub(y.max(120));
    assert!(
        (across * down) as f32 >= 0.4 * (w * h) as f32,
        "{:?} is mostly off the paste",
        top.region
    );

    // The desk scans the project again on opening, with its own choice of regions: on here,
    // as the scan above.
    let mut harness = harness_with_regions(
        StartMode::Project(project),
        egui::vec2(1280.0, 800.0),
        Some(replicant::ranking::regions::RegionMode::On),
    );
    step_until(&mut harness, "the project", |app| results_of(app) == 1);
    harness.state_mut().push(Command::SelectGeneration(0));
    step_until(&mut harness, "the pair's images", images_ready);
    step_until(&mut harness, "the pair's alignment", |app| {
        app.desk().is_some_and(|d| d.current_alignment().is_some())
    });
    // Aligned within the window (grown to hold the whole paste): the training image is laid
    // over the paste at 1920 / 256 = 7.5 times its size.
    let scale = harness
        .state()
        .desk()
        .and_then(|d| d.current_alignment())
        .map(|a| a.scale);
    assert!(scale.is_some_and(|s| (7.0..8.0).contains(&s)), "{scale:?}");
    std::thread::sleep(Duration::from_millis(1500));
    harness.run_steps(6);
    harness.snapshot("desk_window_match");
    harness.get_by_label_contains("Found by a window of the generation");
}

fn results_of(app: &DeskApp) -> usize {
    app.desk()
        .filter(|d| !d.scanning())
        .map_or(0, |d| d.review().results().len())
}

/// Sample for review: a plan of one generation per similarity band is saved in the project
/// with its seed, the list shows only its generations, and N walks them.
#[test]
fn a_review_plan_is_saved_and_the_list_walks_it() {
    let root = tempfile::tempdir().expect("tempdir");
    let Some((project, mut harness)) = opened_fixtures(root.path()) else {
        return;
    };
    let tops: Vec<f32> = harness
        .state()
        .desk()
        .map(|d| {
            d.review()
                .results()
                .iter()
                .map(|r| r.top_similarity().unwrap_or(0.0))
                .collect()
        })
        .unwrap_or_default();
    let bands: std::collections::BTreeSet<i32> =
        tops.iter().map(|&s| replicant::stats::band_of(s)).collect();
    harness.state_mut().push(Command::SamplePlan(1));
    harness.run_steps(4);
    let saved = replicant::review::plan::load(&project)
        .expect("readable")
        .expect("saved in the project");
    assert_eq!(saved.per_band, 1);
    assert_eq!(saved.generations.len(), bands.len(), "one per band");
    let listed = harness
        .state()
        .desk()
        .map(|d| d.view().order().to_vec())
        .unwrap_or_default();
    assert_eq!(listed.len(), bands.len(), "the list shows only the plan");
    harness.state_mut().push(Command::NextUnlabelled);
    harness.run_steps(2);
    let desk = harness.state().desk().expect("desk");
    let i = desk.view().selected().expect("a generation selected");
    assert!(desk.review().in_plan(i), "N walks the plan");
}

/// Blind review: a pair another reviewer labelled shows unlabelled to the desk's reviewer
/// until they label it; then the other's label shows beside theirs, and both stay in the
/// store as each reviewer's own.
#[test]
fn blind_review_hides_another_reviewers_label_until_ones_own_is_given() {
    let root = tempfile::tempdir().expect("tempdir");
    let Some(project) = fixtures_project(root.path()) else {
        return;
    };
    label_crop_as(&project, "full_copy", "alice");
    let mut harness = opened(&project);
    harness
        .state_mut()
        .push(Command::Setting(SettingCommand::AutoAdvance(false)));
    harness
        .get_by_role_and_label(egui::accesskit::Role::Button, "test_crop.png")
        .click();
    harness.run_steps(3);
    let at = |app: &DeskApp| {
        let desk = app.desk().expect("desk");
        let i = desk.view().selected().expect("selected");
        (i, desk.view().selected_match())
    };
    let pair = at(harness.state());
    let review = harness.state().desk().expect("desk").review();
    assert!(review.is_blind());
    assert_eq!(review.pair_label(pair), None, "alice's label is hidden");
    assert!(review.others_on(pair).is_none());

    harness.key_press(egui::Key::Num2);
    harness.run_steps(2);
    let review = harness.state().desk().expect("desk").review();
    assert_eq!(review.pair_label(pair), Some(Label::NearCopy));
    let others = review.others_on(pair).expect("shown once labelled");
    assert_eq!(others.get("alice"), Some(&Label::FullCopy));
    // They disagree, so the pair joins the adjudication queue and says so.
    harness.get_by_label_contains("Disputed — alice: Full copy, reviewer: Near copy");

    let store = ReviewStore::open(&project.join("review.sqlite")).expect("store");
    let mut given: Vec<(String, Label)> = store
        .reviewer_labels()
        .expect("labels")
        .into_iter()
        .map(|l| (l.reviewer, l.label))
        .collect();
    given.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        given,
        [
            ("alice".to_string(), Label::FullCopy),
            ("reviewer".to_string(), Label::NearCopy)
        ]
    );
    // Undo takes back the desk reviewer's own label only: alice's stays hidden, and hers.
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    harness.run_steps(2);
    let review = harness.state().desk().expect("desk").review();
    assert_eq!(review.pair_label(pair), None);
    assert!(
        !review.has_disputes(),
        "undoing one's label settles the disagreement it opened"
    );
    let desk = harness.state().desk().expect("desk");
    let (generation, m) = desk.current().expect("selected pair");
    let key = PairKey::of(generation, m).expect("content key");
    let latest = store.get(&key).expect("read").expect("alice's label");
    assert_eq!(
        (latest.reviewer.as_str(), latest.label),
        ("alice", Some(Label::FullCopy))
    );
    assert_eq!(store.reviewer_labels().expect("labels").len(), 1);
}

/// The adjudication queue: a pair two reviewers disagree on is listed under "Disputed"; its
/// labels show to a reviewer who has not labelled it only once they choose to adjudicate, and
/// adjudicating it sets its final label in the store and empties the queue.
#[test]
fn a_disputed_pair_is_queued_and_adjudicated_in_the_desk() {
    let root = tempfile::tempdir().expect("tempdir");
    let Some(project) = fixtures_project(root.path()) else {
        return;
    };
    label_crop_as(&project, "full_copy", "alice");
    label_crop_as(&project, "distinct", "bob");
    let mut harness = opened(&project);
    assert!(
        harness
            .state()
            .desk()
            .is_some_and(|d| d.review().has_disputes())
    );
    harness
        .state_mut()
        .push(Command::List(replicant::app::ListCommand::DisputedOnly(
            true,
        )));
    harness.run_steps(3);
    let listed = harness
        .state()
        .desk()
        .map(|d| d.view().order().to_vec())
        .unwrap_or_default();
    assert_eq!(
        listed.len(),
        1,
        "the queue holds the one disputed generation"
    );
    harness
        .state_mut()
        .push(Command::SelectGeneration(listed[0]));
    harness.run_steps(3);
    // Blind review: the desk's reviewer has not labelled the pair, so the labels stay hidden
    // until they choose to adjudicate.
    harness.get_by_label_contains("Disputed by 2 reviewers — their labels stay hidden");
    assert!(
        harness
            .query_by_label_contains("alice: Full copy")
            .is_none()
    );
    harness
        .get_by_label("Adjudicate (show their labels)")
        .click();
    harness.run_steps(3);
    harness.get_by_label_contains("Disputed — alice: Full copy, bob: Distinct");
    harness
        .state_mut()
        .push(Command::Adjudicate(Label::NearCopy));
    harness.run_steps(2);
    let store = ReviewStore::open(&project.join("review.sqlite")).expect("store");
    let adjudicated: Vec<(Label, String)> = store
        .adjudications()
        .expect("read")
        .into_iter()
        .map(|a| (a.label, a.reviewer))
        .collect();
    assert_eq!(adjudicated, [(Label::NearCopy, "reviewer".to_string())]);
    assert!(
        !harness
            .state()
            .desk()
            .is_some_and(|d| d.review().has_disputes())
    );
}

/// The desk asks once who is reviewing; confirming a name shows that reviewer's own labels.
#[test]
fn the_desk_asks_who_reviews_once_and_shows_their_labels() {
    let root = tempfile::tempdir().expect("tempdir");
    let Some(project) = fixtures_project(root.path()) else {
        return;
    };
    label_crop_as(&project, "full_copy", "alice");
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .wgpu()
        .build_eframe(move |cc| {
            let mut app = DeskApp::new(cc, StartMode::Project(project)).with_model(common::sscd());
            app.settings_mut().reviewer = "someone".into();
            app.settings_mut().reviewer_confirmed = false;
            app
        });
    step_until(&mut harness, "the scan", |app| {
        app.desk().is_some_and(|d| !d.scanning()) && results(app) == 3
    });
    harness.get_by_label("Start reviewing");
    assert!(
        harness
            .state()
            .desk()
            .is_some_and(|d| d.review().is_blind())
    );
    harness
        .state_mut()
        .push(Command::Setting(SettingCommand::Reviewer("alice".into())));
    harness
        .state_mut()
        .push(Command::Setting(SettingCommand::ConfirmReviewer));
    harness.run_steps(3);
    assert!(harness.state().settings().reviewer_confirmed);
    assert!(
        harness.query_by_label("Start reviewing").is_none(),
        "asked once"
    );
    let desk = harness.state().desk().expect("desk");
    assert!(!desk.review().is_blind(), "alice alone has labelled");
    let labelled: Vec<Option<Label>> = desk.review().records().map(|r| r.label).collect();
    assert_eq!(labelled, [Some(Label::FullCopy)]);
}

/// File > Evidence report on a project scanned with the shortlist cascade: the report embeds
/// its baseline's training images with full SSCD off the UI thread, can be cancelled (no file
/// then), and once made the statistics panel reads the same baseline without embedding.
#[test]
fn the_evidence_report_of_a_cascade_project_embeds_its_baseline_and_can_be_cancelled() {
    let root = tempfile::tempdir().expect("tempdir");
    let set = replicant::demo::make_demo(
        root.path(),
        &replicant::demo::DemoSpec {
            training: 60,
            generations: 3,
            seed: 64,
        },
    )
    .expect("demo");
    let project = root.path().join("project");
    let (_, summary) = common::scan(common::options(
        &set.generations,
        std::slice::from_ref(&set.training),
        &project,
    ));
    assert!(summary.cascade.is_some(), "auto runs the cascade at 20:1");
    let mut harness = harness(
        StartMode::Project(project.clone()),
        egui::vec2(1280.0, 800.0),
    );
    step_until(&mut harness, "the scan", |app| {
        app.desk().is_some_and(|d| !d.scanning()) && results(app) == 3
    });
    let report_done = |app: &DeskApp| app.desk().is_some_and(|d| !d.report().running());

    // The statistics panel's reading: no baseline yet, and the command that makes it.
    harness.state_mut().push(Command::Report(None));
    harness.run_steps(2);
    step_until(&mut harness, "the panel's report", report_done);
    let why = harness
        .state()
        .desk()
        .and_then(|d| d.report().last())
        .and_then(|r| r.baseline_unavailable.clone())
        .expect("no baseline before the report embeds it");
    assert!(why.contains("replicant report --project"), "{why}");

    // Cancelled at once: no file, and the desk says why.
    let out = root.path().join("evidence.html");
    harness.state_mut().push(Command::Report(Some(out.clone())));
    harness.state_mut().push(Command::CancelReport);
    harness.run_steps(2);
    step_until(&mut harness, "the cancelled report", report_done);
    let error = harness
        .state()
        .desk()
        .and_then(|d| d.report().error().map(str::to_string));
    assert!(
        error.as_deref().is_some_and(|e| e.contains("cancelled")),
        "{error:?}"
    );
    assert!(!out.exists());

    // Made: the page says how the baseline was found; the panel then reads it.
    harness.state_mut().push(Command::Report(Some(out.clone())));
    harness.run_steps(2);
    step_until(&mut harness, "the report", report_done);
    let page = std::fs::read_to_string(&out).expect("the report page");
    assert!(page.contains("shortlist cascade: each sampled image"));
    harness.state_mut().push(Command::Report(None));
    harness.run_steps(2);
    step_until(&mut harness, "the panel's report", report_done);
    let sample = harness
        .state()
        .desk()
        .and_then(|d| d.report().last())
        .and_then(|r| r.baseline.as_ref().map(|b| b.sample));
    assert_eq!(sample, Some(60));
}

/// After a scan the pair view said "No generation selected" until J or a click, and the desk
/// read a project at its own threshold slider whatever the scan had used.
#[test]
fn the_desk_opens_on_the_first_generation_at_the_scans_threshold() {
    let root = tempfile::tempdir().expect("tempdir");
    let Some(fixtures) = common::fixtures_dir() else {
        return;
    };
    let generations = root.path().join("generations");
    let training = root.path().join("training");
    let augly = fixtures.join("facebookresearch-augly/augly/tests/assets/image");
    for name in ["test_hflip.png", "test_crop.png", "test_grayscale.png"] {
        common::link(&augly.join("dfdc_expected_output"), name, &generations);
    }
    for name in ["dfdc_1.jpg", "dfdc_2.jpg"] {
        common::link(&augly.join("inputs"), name, &training);
    }
    let project = root.path().join("project");
    let mut options = common::options(&generations, &[training], &project);
    options.matching.threshold = 0.8;
    common::scan(options);
    let harness = opened(&project);
    let app = harness.state();
    assert!(
        (app.settings().threshold - 0.8).abs() < 1e-6,
        "the scan's threshold, not the slider's default: {}",
        app.settings().threshold
    );
    let desk = app.desk().expect("desk");
    let first = desk.view().order().first().copied();
    assert!(first.is_some());
    assert_eq!(desk.view().selected(), first, "the list's first generation");
    assert!(harness.query_by_label("No generation selected.").is_none());
    harness.get_by_label_contains("threshold 0.80");
}

/// The prompt side in the desk: the statistics panel lists the phrases five of six prompts
/// share; a click on one lists only their generations (a second click shows all again), and
/// the pair view marks what the prompt shares with the training image's caption.
#[test]
fn a_phrase_in_the_statistics_panel_filters_the_list() {
    let root = tempfile::tempdir().expect("tempdir");
    let Some(fixtures) = common::fixtures_dir() else {
        return;
    };
    let augly = fixtures.join("facebookresearch-augly/augly");
    let outputs = augly.join("tests/assets/image/dfdc_expected_output");
    let (generations, training) = (
        root.path().join("generations"),
        root.path().join("training"),
    );
    let names = [
        "test_hflip.png",
        "test_crop.png",
        "test_grayscale.png",
        "test_blur.png",
        "test_brightness.png",
        "test_contrast.png",
    ];
    let mut metadata = String::new();
    for (i, name) in names.iter().enumerate() {
        common::link(&outputs, name, &generations);
        let prompt = if i < 5 {
            format!("take {i}: a Vintage Poster Print")
        } else {
            "a portrait".to_string()
        };
        metadata.push_str(&serde_json::json!({"file_name": name, "prompt": prompt}).to_string());
        metadata.push('\n');
    }
    std::fs::write(generations.join("metadata.jsonl"), metadata).expect("metadata");
    for name in ["dfdc_1.jpg", "dfdc_2.jpg"] {
        common::link(&augly.join("tests/assets/image/inputs"), name, &training);
    }
    std::fs::write(
        training.join("metadata.jsonl"),
        "{\"file_name\": \"dfdc_1.jpg\", \"caption\": \"vintage poster print of a man indoors\"}\n",
    )
    .expect("captions");
    let project = root.path().join("project");
    common::scan(common::options(&generations, &[training], &project));
    let mut harness = harness(StartMode::Project(project), egui::vec2(1280.0, 800.0));
    step_until(&mut harness, "the scan", |app| {
        app.desk().is_some_and(|d| !d.scanning()) && results(app) == 6
    });
    harness.state_mut().push(Command::ToggleStats);
    step_until(&mut harness, "the evidence report", |app| {
        app.desk().is_some_and(|d| d.report().last().is_some())
    });
    harness.run_steps(4);
    let listed = |harness: &Harness<'_, DeskApp>| {
        harness
            .state()
            .desk()
            .map(|d| d.view().order().len())
            .unwrap_or_default()
    };
    assert_eq!(listed(&harness), 6);
    harness.get_by_label("vintage poster print").click();
    harness.run_steps(4);
    assert_eq!(listed(&harness), 5, "only the prompts using the phrase");
    let filter = harness
        .state()
        .desk()
        .and_then(|d| d.view().filter().phrase.clone());
    assert_eq!(filter.as_deref(), Some("vintage poster print"));
    // The pair view of the first: its prompt and dfdc_1.jpg's caption share the phrase.
    let hflip = harness
        .state()
        .desk()
        .and_then(|d| {
            d.review()
                .results()
                .iter()
                .position(|r| r.generation == "test_hflip.png")
        })
        .expect("test_hflip.png scanned");
    harness.state_mut().push(Command::SelectGeneration(hflip));
    step_until(&mut harness, "the pair's images", images_ready);
    harness.run_steps(6);
    if let Some(dir) = std::env::var_os("REPLICANT_SCREENSHOTS") {
        let image = harness.render().expect("render");
        image
            .save(std::path::Path::new(&dir).join("desk_phrases.png"))
            .expect("save");
    }
    harness.get_by_label("vintage poster print").click();
    harness.run_steps(4);
    assert_eq!(listed(&harness), 6, "a second click shows every generation");
}
