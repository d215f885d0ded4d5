//! The GPU runtime without a system CUDA install: `replicant setup --gpu` puts
//! `onnxruntime-gpu` and NVIDIA's CUDA, cuDNN (and, with `--tensorrt`, TensorRT) libraries from
//! their PyPI wheels into one folder, and before a CUDA session starts those libraries are
//! loaded by full path, globally, so that ONNX Runtime's CUDA provider finds them by name, as
//! `onnxruntime.preload_dlls()` does in Python. Only the GPU driver (`libcuda.so.1`) comes
//! from the system.
//!
//! `onnxruntime-gpu` 1.31.1 on PyPI is built for CUDA 13 (its provider needs
//! `libcudart.so.13`, `libcublas(Lt).so.13`, `libcurand.so.10`, and loads cuDNN 9 and cuFFT
//! 12); the wheel versions below are its own `cuda`/`cudnn` extras, plus cuBLAS.

use std::path::{Path, PathBuf};

/// The CUDA 13 and cuDNN 9 wheels `onnxruntime-gpu` 1.31.1 runs with (its extras, and cuBLAS).
pub const CUDA_WHEELS: &[&str] = &[
    "nvidia-cuda-runtime~=13.0",
    "nvidia-cublas~=13.0",
    "nvidia-cufft~=12.0",
    "nvidia-curand~=10.0",
    "nvidia-cuda-nvrtc~=13.0",
    "nvidia-cudnn-cu13~=9.0",
];

/// TensorRT 10 for CUDA 13: the TensorRT provider in `onnxruntime-gpu` 1.31.1 needs
/// `libnvinfer.so.10`.
pub const TENSORRT_WHEELS: &[&str] = &["tensorrt-cu13-libs~=10.13"];

/// Libraries loaded before a CUDA session, in dependency order (sonames). cuDNN's parts come
/// before cuDNN itself, which loads them by name.
const CUDA_LIBRARIES: &[&str] = &[
    "libcudart.so.13",
    "libnvrtc.so.13",
    "libcublasLt.so.13",
    "libcublas.so.13",
    "libcurand.so.10",
    "libcufft.so.12",
    "libcudnn_graph.so.9",
    "libcudnn_engines_precompiled.so.9",
    "libcudnn_engines_runtime_compiled.so.9",
    "libcudnn_heuristic.so.9",
    "libcudnn_ops.so.9",
    "libcudnn_cnn.so.9",
    "libcudnn_adv.so.9",
    "libcudnn.so.9",
];

/// TensorRT's libraries, loaded after CUDA's when the TensorRT provider is asked for.
const TENSORRT_LIBRARIES: &[&str] = &[
    "libnvinfer.so.10",
    "libnvinfer_plugin.so.10",
    "libnvonnxparser.so.10",
];

/// The folder pip installed into, from the ONNX Runtime library inside it
/// (`SITE/onnxruntime/capi/libonnxruntime.so.X`).
pub fn site_of(ort_library: &Path) -> Option<&Path> {
    ort_library.parent()?.parent()?.parent()
}

/// The library folders of NVIDIA's wheels under `site`: `nvidia/*/lib` (CUDA 13's
/// `nvidia/cu13/lib` among them) and `tensorrt_libs`.
pub fn library_dirs(site: &Path) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Ok(entries) = std::fs::read_dir(site.join("nvidia")) {
        let mut found: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path().join("lib"))
            .filter(|p| p.is_dir())
            .collect();
        found.sort();
        dirs.extend(found);
    }
    let tensorrt = site.join("tensorrt_libs");
    if tensorrt.is_dir() {
        dirs.push(tensorrt);
    }
    dirs
}

/// Where `soname` is among `dirs`, if anywhere.
fn find(dirs: &[PathBuf], soname: &str) -> Option<PathBuf> {
    dirs.iter().map(|d| d.join(soname)).find(|p| p.is_file())
}

/// What a preload found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preloaded {
    /// Libraries loaded, by soname.
    pub loaded: Vec<String>,
    /// Libraries not found in the wheels' folders (the system's, if any, are used then).
    pub missing: Vec<String>,
    /// Libraries found that failed to load, with the loader's message.
    pub failed: Vec<String>,
}

/// The libraries to load for CUDA (and TensorRT), with where each is, in load order.
pub fn plan(dirs: &[PathBuf], tensorrt: bool) -> Vec<(&'static str, Option<PathBuf>)> {
    let extra: &[&'static str] = if tensorrt { TENSORRT_LIBRARIES } else { &[] };
    CUDA_LIBRARIES
        .iter()
        .chain(extra)
        .map(|name| (*name, find(dirs, name)))
        .collect()
}

/// Loads the CUDA (and TensorRT) libraries of the wheels under `site`, globally and for the
/// life of the process. Harmless to call again: a library already loaded is only counted.
pub fn preload(site: &Path, tensorrt: bool) -> Preloaded {
    let dirs = library_dirs(site);
    let mut report = Preloaded::default();
    for (name, path) in plan(&dirs, tensorrt) {
        let Some(path) = path else {
            report.missing.push(name.to_string());
            continue;
        };
        match load_global(&path) {
            Ok(()) => report.loaded.push(name.to_string()),
            Err(err) => report.failed.push(format!("{name}: {err}")),
        }
    }
    report
}

#[cfg(unix)]
fn load_global(path: &Path) -> Result<(), String> {
    use libloading::os::unix::{Library, RTLD_GLOBAL, RTLD_NOW};
    // SAFETY: these are NVIDIA's CUDA libraries from their own wheels; their initialisers
    // only register themselves. The handle is leaked on purpose: the libraries must stay
    // loaded for as long as ONNX Runtime may use them, that is, the whole process.
    let library = unsafe { Library::open(Some(path), RTLD_NOW | RTLD_GLOBAL) }
        .map_err(|err| err.to_string())?;
    std::mem::forget(library);
    Ok(())
}

#[cfg(not(unix))]
fn load_global(_path: &Path) -> Result<(), String> {
    Err("preloading is only done on Linux; put the CUDA libraries on PATH".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_wheels_libraries_in_load_order() {
        let site = tempfile::tempdir().expect("tempdir");
        let cu13 = site.path().join("nvidia/cu13/lib");
        let cudnn = site.path().join("nvidia/cudnn/lib");
        std::fs::create_dir_all(&cu13).expect("mkdir");
        std::fs::create_dir_all(&cudnn).expect("mkdir");
        for name in ["libcudart.so.13", "libcublas.so.13", "libcublasLt.so.13"] {
            std::fs::write(cu13.join(name), b"").expect("write");
        }
        std::fs::write(cudnn.join("libcudnn.so.9"), b"").expect("write");
        let dirs = library_dirs(site.path());
        assert_eq!(dirs, vec![cu13.clone(), cudnn.clone()]);
        let planned = plan(&dirs, false);
        let order: Vec<&str> = planned.iter().map(|(n, _)| *n).collect();
        let position = |n: &str| order.iter().position(|o| *o == n).expect(n);
        assert!(position("libcudart.so.13") < position("libcublas.so.13"));
        assert!(position("libcublasLt.so.13") < position("libcublas.so.13"));
        assert!(position("libcudnn_graph.so.9") < position("libcudnn.so.9"));
        let found: Vec<&str> = planned
            .iter()
            .filter(|(_, p)| p.is_some())
            .map(|(n, _)| *n)
            .collect();
        assert_eq!(
            found,
            [
                "libcudart.so.13",
                "libcublasLt.so.13",
                "libcublas.so.13",
                "libcudnn.so.9"
            ]
        );
        assert!(
            plan(&dirs, true)
                .iter()
                .any(|(n, _)| *n == "libnvinfer.so.10")
        );
        // Empty files are not libraries: each is reported as failed, none loaded, no crash.
        let report = preload(site.path(), false);
        assert!(report.loaded.is_empty());
        assert_eq!(report.failed.len(), 4);
        assert!(report.missing.contains(&"libcurand.so.10".to_string()));
        assert_eq!(
            site_of(Path::new("/x/site/onnxruntime/capi/libonnxruntime.so.1")),
            Some(Path::new("/x/site"))
        );
    }
}
