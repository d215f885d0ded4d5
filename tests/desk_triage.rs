//! Reviewing many pairs fast, driven through egui_kittest on the wgpu renderer: grid triage
//! (select with the mouse and Shift, label the selection with one key in one undo step, label
//! the rest of the page after a question), auto-advance in the pair view, the desk and the
//! GPU agreeing on what is uploaded while stepping through many matches, and snapshots of the
//! grid in dark and light.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use replicant::app::compare::CompareResources;
use replicant::app::{Command, DeskApp, GridCommand, Mode, SettingCommand, StartMode};
use replicant::demo::{DemoSpec, make_demo};
use replicant::review::{Label, ReviewStore};

type RenderSlot = Arc<Mutex<Option<eframe::egui_wgpu::RenderState>>>;

/// A demo project scanned with `top_k` matches per generation.
fn demo_project(root: &Path, training: usize, generations: usize, top_k: usize) -> PathBuf {
    let set = make_demo(
        root,
        &DemoSpec {
            training,
            generations,
            seed: 17,
        },
    )
    .expect("demo");
    let project = root.join("project");
    let mut options = common::options(
        &set.generations,
        std::slice::from_ref(&set.training),
        &project,
    );
    options.matching.top_k = top_k;
    options.matching.regions = replicant::ranking::regions::RegionMode::Off;
    common::scan(options);
    project
}

fn harness(
    project: &Path,
    size: egui::Vec2,
    theme: replicant::app::settings::ThemeChoice,
) -> (Harness<'static, DeskApp>, RenderSlot) {
    let slot: RenderSlot = Arc::new(Mutex::new(None));
    let keep = slot.clone();
    let project = project.to_path_buf();
    let harness = Harness::builder()
        .with_size(size)
        .wgpu()
        .build_eframe(move |cc| {
            *keep.lock().expect("slot") = cc.wgpu_render_state.clone();
            let mut app = DeskApp::new(cc, StartMode::Project(project)).with_model(common::sscd());
            let settings = app.settings_mut();
            settings.reviewer = "reviewer".into();
            settings.reviewer_confirmed = true;
            settings.show_frame_time = false;
            settings.theme = theme;
            settings.top_k = 10;
            app
        });
    (harness, slot)
}

fn step_until(harness: &mut Harness<'_, DeskApp>, what: &str, done: impl Fn(&DeskApp) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !done(harness.state()) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        harness.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    harness.run_steps(3);
}

fn scanned(app: &DeskApp, n: usize) -> bool {
    app.desk()
        .is_some_and(|d| !d.scanning() && d.review().results().len() == n)
}

fn labels(project: &Path) -> Vec<(String, Option<Label>)> {
    let store = ReviewStore::open(&project.join("review.sqlite")).expect("store");
    store
        .all()
        .expect("all")
        .into_iter()
        .map(|r| (r.generation, r.label))
        .collect()
}

fn images_ready(app: &DeskApp) -> bool {
    app.desk().is_some_and(|d| {
        d.current_locations()
            .is_some_and(|(g, t)| d.images().get(&g).is_some() && d.images().get(&t).is_some())
    })
}

#[test]
fn grid_selection_is_labelled_in_one_step_and_undone_in_one() {
    let root = tempfile::tempdir().expect("tempdir");
    let project = demo_project(root.path(), 20, 12, 5);
    let (mut harness, _) = harness(
        &project,
        egui::vec2(1280.0, 800.0),
        replicant::app::settings::ThemeChoice::Dark,
    );
    step_until(&mut harness, "the scan", |app| scanned(app, 12));
    harness.key_press(egui::Key::G);
    harness.run_steps(3);
    assert_eq!(
        harness.state().desk().expect("desk").view().mode(),
        Mode::Grid
    );
    let order: Vec<String> = {
        let desk = harness.state().desk().expect("desk");
        desk.view()
            .order()
            .iter()
            .map(|&i| desk.review().results()[i].generation.clone())
            .collect()
    };
    // Click the first tile, Shift-click the fourth.
    harness
        .get_by_role_and_label(egui::accesskit::Role::Button, &order[0])
        .click();
    harness.run_steps(2);
    harness
        .get_by_role_and_label(egui::accesskit::Role::Button, &order[3])
        .click_modifiers(egui::Modifiers::SHIFT);
    harness.run_steps(2);
    let selected = harness
        .state()
        .desk()
        .expect("desk")
        .view()
        .grid()
        .selected
        .len();
    assert_eq!(selected, 4, "Shift-click selects the range");
    // Shift+Right extends it by one more.
    harness.key_press_modifiers(egui::Modifiers::SHIFT, egui::Key::ArrowRight);
    harness.run_steps(2);
    harness.key_press(egui::Key::Num3);
    harness.run_steps(2);
    let stored = labels(&project);
    assert_eq!(stored.len(), 5, "{stored:?}");
    for name in &order[..5] {
        assert!(
            stored
                .iter()
                .any(|(g, l)| g == name && *l == Some(Label::Distinct)),
            "{name} labelled distinct"
        );
    }
    // One undo takes the whole selection's labels back.
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    harness.run_steps(2);
    assert!(labels(&project).is_empty(), "one undo step");
    harness.key_press_modifiers(
        egui::Modifiers::COMMAND | egui::Modifiers::SHIFT,
        egui::Key::Z,
    );
    harness.run_steps(2);
    assert_eq!(labels(&project).len(), 5, "redo");

    // Label the rest of the page distinct: asked first, then done.
    harness
        .get_by_label_contains("Label the rest of this page distinct")
        .click();
    harness.run_steps(2);
    assert!(
        harness
            .state()
            .desk()
            .expect("desk")
            .view()
            .question()
            .is_some(),
        "the button asks first"
    );
    harness.run_steps(4);
    harness.get_by_label("Cancel").click();
    harness.run_steps(2);
    assert_eq!(labels(&project).len(), 5, "cancel labels nothing");
    harness
        .get_by_label_contains("Label the rest of this page distinct")
        .click();
    harness.run_steps(4);
    harness.get_by_label("Label distinct").click();
    harness.run_steps(2);
    let per_page = harness
        .state()
        .desk()
        .expect("desk")
        .view()
        .grid()
        .per_page()
        .min(order.len());
    assert_eq!(labels(&project).len(), per_page);

    // Enter opens the cursor's generation in the pair view.
    harness.key_press(egui::Key::Enter);
    harness.run_steps(2);
    let desk = harness.state().desk().expect("desk");
    assert_eq!(desk.view().mode(), Mode::Pair);
    assert!(desk.current().is_some());
}

#[test]
fn a_label_moves_to_the_next_generation_unless_auto_advance_is_off() {
    let root = tempfile::tempdir().expect("tempdir");
    let project = demo_project(root.path(), 20, 8, 5);
    let (mut harness, _) = harness(
        &project,
        egui::vec2(1280.0, 800.0),
        replicant::app::settings::ThemeChoice::Dark,
    );
    step_until(&mut harness, "the scan", |app| scanned(app, 8));
    let first = harness.state().desk().expect("desk").view().order()[0];
    let second = harness.state().desk().expect("desk").view().order()[1];
    harness.state_mut().push(Command::SelectGeneration(first));
    harness.run_steps(2);
    harness.key_press(egui::Key::Num1);
    harness.run_steps(2);
    let desk = harness.state().desk().expect("desk");
    assert_eq!(desk.view().selected(), Some(second), "advanced to the next");
    assert_eq!(desk.review().generation_label(first), Some(Label::FullCopy));
    harness
        .state_mut()
        .push(Command::Setting(SettingCommand::AutoAdvance(false)));
    harness.key_press(egui::Key::Num2);
    harness.run_steps(2);
    let desk = harness.state().desk().expect("desk");
    assert_eq!(desk.view().selected(), Some(second), "stays when off");
    assert_eq!(
        desk.review().generation_label(second),
        Some(Label::NearCopy)
    );
}

/// Regression: the GPU kept its own 8 most recently uploaded textures while the desk kept
/// others, so stepping through 8+ matches left an image the desk thought uploaded undrawn.
/// Now the desk owns what is uploaded and the GPU side drops exactly what it evicts.
#[test]
fn stepping_through_many_matches_keeps_the_pair_drawn_and_the_gpu_in_agreement() {
    let root = tempfile::tempdir().expect("tempdir");
    let project = demo_project(root.path(), 40, 4, 10);
    let (mut harness, slot) = harness(
        &project,
        egui::vec2(1280.0, 800.0),
        replicant::app::settings::ThemeChoice::Dark,
    );
    step_until(&mut harness, "the scan", |app| scanned(app, 4));
    let render_state = slot
        .lock()
        .expect("slot")
        .clone()
        .expect("wgpu render state");
    let gpu_has = |id: u64| {
        render_state
            .renderer
            .read()
            .callback_resources
            .get::<CompareResources>()
            .is_some_and(|r| r.has(id))
    };
    let gpu_count = || {
        render_state
            .renderer
            .read()
            .callback_resources
            .get::<CompareResources>()
            .map_or(0, CompareResources::uploaded_count)
    };
    let mut steps = 0;
    let mut previous = None;
    for generation in 0..2 {
        harness
            .state_mut()
            .push(Command::SelectGeneration(generation));
        for m in 0..10 {
            harness.state_mut().push(Command::SelectMatch(m));
            // Let the command apply before waiting: the previous pair is ready already.
            harness.step();
            step_until(&mut harness, "the pair's images", images_ready);
            steps += 1;
            let desk = harness.state().desk().expect("desk");
            let (g, t) = desk.current_locations().expect("pair");
            if let Some(previous) = &previous {
                assert!(
                    !desk.images().aligning(previous),
                    "the alignment of a pair left behind is cancelled (latest wins)"
                );
            }
            previous = Some((g.clone(), t.clone()));
            for location in [&g, &t] {
                let uploaded = desk.images().get(location).expect("uploaded");
                assert!(
                    gpu_has(uploaded.image.id),
                    "step {steps}: {} is uploaded for the desk but not on the GPU",
                    location.display()
                );
            }
            assert!(gpu_count() <= replicant::app::MAX_UPLOADED);
        }
    }
    assert!(steps >= 20);
}

fn grid_snapshot(theme: replicant::app::settings::ThemeChoice, name: &str) {
    let root = tempfile::tempdir().expect("tempdir");
    let project = demo_project(root.path(), 30, 16, 5);
    {
        let (mut harness, _) = harness(&project, egui::vec2(1280.0, 800.0), theme);
        harness
            .state_mut()
            .push(Command::Setting(SettingCommand::Theme(theme)));
        step_until(&mut harness, "the scan", |app| scanned(app, 16));
        harness.state_mut().push(Command::ToggleGrid);
        harness.run_steps(3);
        harness.state_mut().push(Command::Grid(GridCommand::Click {
            position: 1,
            extend: false,
            toggle: false,
        }));
        harness.state_mut().push(Command::Grid(GridCommand::Move {
            dx: 1,
            dy: 0,
            extend: true,
        }));
        harness.run_steps(2);
        // Every tile's two thumbnails decoded before the picture is taken.
        harness.run_steps(2);
        step_until(&mut harness, "the thumbnails", |app| {
            app.thumbnails_loading() == 0
        });
        harness.run_steps(4);
        harness.snapshot(name);
    }
}

#[test]
fn snapshot_of_the_grid_in_dark() {
    grid_snapshot(replicant::app::settings::ThemeChoice::Dark, "grid_dark");
}

#[test]
fn snapshot_of_the_grid_in_light() {
    grid_snapshot(replicant::app::settings::ThemeChoice::Light, "grid_light");
}

/// A scripted reviewer (`cargo test --release --test desk_triage scripted_reviewer -- --ignored
/// --nocapture`): labels the same 48 pairs once in the pair view (look at both images, press
/// 3, auto-advance) and once in the grid (look at a page of thumbnails, Ctrl+A, 3, Page Down)
/// and prints the pairs labelled per minute and the key presses per pair. The reviewer waits
/// only for what must be on screen before judging, so this is the desk's own ceiling; a
/// person's looking time comes on top.
#[test]
#[ignore = "a measurement, run by hand (see docs/)"]
fn scripted_reviewer() {
    let pairs = 48;
    let mut rates = Vec::new();
    for grid in [false, true] {
        let root = tempfile::tempdir().expect("tempdir");
        let project = demo_project(root.path(), 60, pairs, 5);
        let (mut harness, _) = harness(
            &project,
            egui::vec2(1280.0, 800.0),
            replicant::app::settings::ThemeChoice::Dark,
        );
        step_until(&mut harness, "the scan", |app| scanned(app, pairs));
        let labelled = |project: &Path| labels(project).len();
        let started = Instant::now();
        let mut keys = 0;
        if grid {
            harness.key_press(egui::Key::G);
            keys += 1;
            harness.run_steps(3);
            while labelled(&project) < pairs {
                step_until(&mut harness, "the page's thumbnails", |app| {
                    app.thumbnails_loading() == 0
                });
                harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
                harness.key_press(egui::Key::Num3);
                harness.key_press(egui::Key::PageDown);
                keys += 3;
                harness.run_steps(2);
            }
        } else {
            let first = harness.state().desk().expect("desk").view().order()[0];
            harness.state_mut().push(Command::SelectGeneration(first));
            harness.step();
            while labelled(&project) < pairs {
                step_until(&mut harness, "the pair's images", images_ready);
                harness.key_press(egui::Key::Num3);
                keys += 1;
                harness.step();
            }
        }
        let secs = started.elapsed().as_secs_f64();
        let per_minute = pairs as f64 * 60.0 / secs;
        println!(
            "{}: {pairs} pairs in {secs:.2} s = {per_minute:.0} pairs/min, {:.2} keys per pair",
            if grid { "grid" } else { "pair view" },
            keys as f64 / pairs as f64
        );
        rates.push(per_minute);
    }
    println!("grid / pair view: {:.1}x", rates[1] / rates[0]);
}

/// Every generation is listed from the start of a scan, pending until its matches come, so
/// a reviewer can start on those that are done.
#[test]
fn generations_are_listed_before_their_matches() {
    let root = tempfile::tempdir().expect("tempdir");
    let set = make_demo(
        root.path(),
        &DemoSpec {
            training: 30,
            generations: 10,
            seed: 41,
        },
    )
    .expect("demo");
    let project = root.path().join("project");
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .wgpu()
        .build_eframe(move |cc| {
            let mut app = DeskApp::new(
                cc,
                StartMode::Folders {
                    generations: set.generations,
                    training: vec![set.training],
                    training_index: None,
                    project: Some(project),
                },
            )
            .with_model(common::sscd());
            app.settings_mut().reviewer_confirmed = true;
            app
        });
    let mut seen_pending = false;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        harness.step();
        let app = harness.state();
        if let Some(desk) = app.desk() {
            let listed = desk.review().results().len();
            // The list is rebuilt at most every 200 ms while a scan runs, so it may trail the
            // results by a few frames.
            if desk.scanning()
                && listed == 10
                && desk.review().pending_count() > 0
                && desk.view().order().len() == 10
            {
                seen_pending = true;
            }
            if !desk.scanning() && listed == 10 && desk.review().pending_count() == 0 {
                break;
            }
        }
        assert!(Instant::now() < deadline, "the scan did not finish");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        seen_pending,
        "all ten were in the list while some were still pending"
    );
}

/// Exports run off the UI thread, with progress, and can be cancelled (nothing is written).
#[test]
fn exports_run_in_the_background_and_can_be_cancelled() {
    let root = tempfile::tempdir().expect("tempdir");
    let project = demo_project(root.path(), 20, 12, 5);
    let (mut harness, _) = harness(
        &project,
        egui::vec2(1280.0, 800.0),
        replicant::app::settings::ThemeChoice::Dark,
    );
    step_until(&mut harness, "the scan", |app| scanned(app, 12));
    harness.state_mut().push(Command::ToggleGrid);
    harness.run_steps(2);
    harness
        .state_mut()
        .push(Command::Grid(GridCommand::SelectPage));
    harness
        .state_mut()
        .push(Command::Label(Some(Label::NearCopy)));
    harness.run_steps(2);
    let out = root.path().join("set.html");
    harness.state_mut().push(Command::Export {
        path: out.clone(),
        format: replicant::export::ReviewFormat::Html,
        overwrite: false,
    });
    harness.state_mut().push(Command::CancelExport);
    harness.step();
    step_until(&mut harness, "the cancelled export", |app| {
        app.desk().is_some_and(|d| d.export().running().is_none())
    });
    assert!(!out.exists(), "a cancelled export writes nothing");
    assert!(
        harness
            .state()
            .notices()
            .iter()
            .any(|n| n.contains("cancelled")),
        "{:?}",
        harness.state().notices()
    );
    harness.state_mut().push(Command::DismissNotices);
    harness.state_mut().push(Command::Export {
        path: out.clone(),
        format: replicant::export::ReviewFormat::Html,
        overwrite: false,
    });
    harness.step();
    assert!(
        harness
            .state()
            .desk()
            .is_some_and(|d| d.export().running().is_some()),
        "the export runs in the background"
    );
    step_until(&mut harness, "the export", |app| {
        app.desk().is_some_and(|d| d.export().running().is_none())
    });
    let html = std::fs::read_to_string(&out).expect("exported");
    assert_eq!(html.matches("class=\"pair\"").count(), 12);
    assert!(
        harness
            .state()
            .notices()
            .iter()
            .any(|n| n.contains("Exported 12 labelled pairs"))
    );
}

/// Keys are configurable: `?` shows them, "Change" and a key press rebinds one, and the new
/// key does the action (the settings keep it).
#[test]
fn a_key_rebound_in_the_help_labels() {
    let root = tempfile::tempdir().expect("tempdir");
    let project = demo_project(root.path(), 12, 3, 3);
    let (mut harness, _) = harness(
        &project,
        egui::vec2(1280.0, 800.0),
        replicant::app::settings::ThemeChoice::Dark,
    );
    step_until(&mut harness, "the scan", |app| scanned(app, 3));
    harness
        .state_mut()
        .push(Command::Setting(SettingCommand::AutoAdvance(false)));
    let first = harness.state().desk().expect("desk").view().order()[0];
    harness.state_mut().push(Command::SelectGeneration(first));
    harness.key_press_modifiers(egui::Modifiers::SHIFT, egui::Key::Questionmark);
    harness.run_steps(3);
    // The Distinct row's "Change" button: the third action listed.
    harness
        .get_all_by_label("Change")
        .nth(2)
        .expect("a Change button")
        .click();
    harness.run_steps(2);
    harness.get_by_label("press a key… (Esc cancels)");
    harness.key_press(egui::Key::D);
    harness.run_steps(2);
    assert_eq!(
        harness
            .state()
            .settings()
            .keys
            .shown(replicant::app::keys::KeyAction::Distinct),
        "D / 3"
    );
    harness.key_press_modifiers(egui::Modifiers::SHIFT, egui::Key::Questionmark);
    harness.run_steps(2);
    harness.key_press(egui::Key::D);
    harness.run_steps(2);
    assert_eq!(
        harness
            .state()
            .desk()
            .expect("desk")
            .review()
            .generation_label(first),
        Some(Label::Distinct)
    );
}
