//! Checks of the code's shape: every WGSL shader validates with naga, and nothing below the
//! desk (`src/app`) uses egui, eframe, wgpu or winit.

use std::path::Path;

#[test]
fn every_shader_validates() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("shaders folder") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "wgsl") {
            continue;
        }
        let source = std::fs::read_to_string(&path).expect("read shader");
        let module = naga::front::wgsl::parse_str(&source)
            .unwrap_or_else(|e| panic!("{}: {}", path.display(), e.emit_to_string(&source)));
        naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::default(),
        )
        .validate(&module)
        .unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
        checked += 1;
    }
    assert!(checked >= 1, "no shaders found in {}", dir.display());
}

#[test]
fn the_core_does_not_use_the_gui_stack() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut offenders = Vec::new();
    for entry in walkdir::WalkDir::new(&src)
        .into_iter()
        .filter_map(Result::ok)
    {
        let path = entry.path();
        let rel = path.strip_prefix(&src).expect("under src");
        if path.extension().is_none_or(|e| e != "rs")
            || rel.starts_with("app")
            || rel == Path::new("main.rs")
        {
            continue;
        }
        let text = std::fs::read_to_string(path).expect("read");
        for name in ["egui", "eframe", "wgpu", "winit"] {
            if text.lines().any(|l| {
                !l.trim_start().starts_with("//")
                    && (l.contains(&format!("{name}::")) || l.contains(&format!("use {name}")))
            }) {
                offenders.push(format!("{} uses {name}", rel.display()));
            }
        }
    }
    assert!(offenders.is_empty(), "{offenders:?}");
}
