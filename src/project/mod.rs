//! A project directory: where one audit's caches, index, last results and labels live.
//!
//! ```text
//! <project>/project.json      the folders and model this project audits
//! <project>/cache.sqlite      embeddings by content hash and model key (safe to delete)
//! <project>/index/            the saved training index
//! <project>/last_scan.json    the latest scan's results, for opening without re-scanning
//! <project>/review.sqlite     reviewers' labels (precious: never deleted by the program)
//! <project>/.replicant-project the marker: this folder is a project, and its format
//! <project>/.scan.lock         held (advisory lock) by the one scan that writes the project
//! ```
//!
//! A folder is adopted as a project only when it is new, empty, or already marked (or a
//! project from before the marker: a `project.json` this program reads beside its
//! `cache.sqlite` or `review.sqlite`): a folder of the user's own files is refused, so no file
//! the program did not write is ever overwritten.

pub mod cache;
pub mod export;
pub mod label_import;
pub mod last_scan;
pub mod open;
pub mod review;

pub use cache::{CacheError, ContentHash, EmbeddingCache};
pub use last_scan::{LastScan, LastScanError};
pub use open::{OpenJob, OpenedProject, ProjectSource, read_project, spawn_open};
pub use review::{fill_hashes, open_review};

use std::path::{Path, PathBuf};

use crate::embed::provision::data_dir;
pub use crate::fsutil::write_atomically;

/// What a project audits.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ProjectSpec {
    /// The folder of generated images (absolute).
    #[serde(with = "crate::fsutil::serde_path")]
    pub generations: PathBuf,
    /// The training sources (absolute): folders, folders of tar shards, or shards.
    #[serde(with = "crate::fsutil::serde_path::vec")]
    pub training: Vec<PathBuf>,
    /// A prebuilt training index used instead of training sources (absolute).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::fsutil::serde_path::option"
    )]
    pub training_index: Option<PathBuf>,
    /// The model name or file last scanned with.
    #[serde(default = "default_model")]
    pub model: String,
}

fn default_model() -> String {
    crate::embed::ModelChoice::default().name()
}

/// Errors opening or writing a project. Each names the path and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// The project folder cannot be created or written.
    #[error("cannot write the project folder {path}: {source}; choose another with --project DIR")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The folder holds files this program did not write.
    #[error(
        "{path} is not empty and is not a Replicant project (it has no {MARKER_FILE}); nothing was written into it. Give --project an empty or new folder, or the folder of an existing project"
    )]
    Foreign {
        /// The folder.
        path: PathBuf,
    },
    /// The project was made by a newer program.
    #[error(
        "{path} is a project of format {found}, newer than this program's {PROJECT_FORMAT}; update Replicant"
    )]
    NewerFormat {
        /// The folder.
        path: PathBuf,
        /// The format found.
        found: u32,
    },
    /// Another scan holds the project.
    #[error(
        "another scan is writing the project {path} ({holder}); wait for it to finish, or scan into another --project"
    )]
    Busy {
        /// The folder.
        path: PathBuf,
        /// Who holds it, as it wrote itself into the lock file.
        holder: String,
    },
    /// `project.json` is missing or damaged.
    #[error(
        "{path} is not a Replicant project ({detail}); give the folder a scan created, or scan again with --project"
    )]
    NotAProject {
        /// The folder.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
}

/// The marker file that makes a folder a project.
pub const MARKER_FILE: &str = ".replicant-project";
/// The project format this program writes and reads.
pub const PROJECT_FORMAT: u32 = 1;
/// The lock file a scan holds while it writes the project.
pub const LOCK_FILE: &str = ".scan.lock";

/// The marker's content.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Marker {
    /// Always "replicant-project".
    kind: String,
    /// The project format.
    format: u32,
    /// The program that made the project.
    created_by: String,
    /// When (RFC 3339 UTC).
    created_at: String,
}

/// A project folder held by one scan: a second writer is refused, naming this one. The lock
/// is the operating system's (released when the process ends, however it ends).
#[derive(Debug)]
pub struct ProjectLock {
    _file: std::fs::File,
}

/// An open project directory.
#[derive(Debug, Clone)]
pub struct Project {
    /// The project folder.
    pub dir: PathBuf,
    /// What it audits.
    pub spec: ProjectSpec,
}

/// `path` made absolute (and resolved through links where it exists), for stable keys.
pub fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path)
        .unwrap_or_else(|_| std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()))
}

impl Project {
    /// The default project folder for these folders (and training index): under the data
    /// folder, named by a stable hash of their absolute paths (blake3, so it is the same in
    /// every build).
    pub fn default_dir(
        generations: &Path,
        training: &[PathBuf],
        training_index: Option<&Path>,
    ) -> PathBuf {
        let mut hasher = blake3::Hasher::new();
        hasher.update(absolute(generations).as_os_str().as_encoded_bytes());
        for folder in training {
            hasher.update(b"\0");
            hasher.update(absolute(folder).as_os_str().as_encoded_bytes());
        }
        if let Some(index) = training_index {
            hasher.update(b"\0index\0");
            hasher.update(absolute(index).as_os_str().as_encoded_bytes());
        }
        let name = generations.file_name().map_or_else(
            || "generations".into(),
            |n| n.to_string_lossy().into_owned(),
        );
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .take(40)
            .collect();
        data_dir()
            .join("projects")
            .join(format!("{safe}-{}", &hasher.finalize().to_hex()[..12]))
    }

    /// Makes `dir` a project, or checks that it is one: a new or empty folder gets the
    /// marker; a marked folder (or a project from before the marker) is accepted; a folder
    /// holding anything else is refused before anything is written into it.
    pub fn adopt(dir: &Path) -> Result<(), ProjectError> {
        let io = |source| ProjectError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let marker_path = dir.join(MARKER_FILE);
        match std::fs::read(&marker_path) {
            Ok(bytes) => {
                let marker: Marker =
                    serde_json::from_slice(&bytes).map_err(|err| ProjectError::NotAProject {
                        path: dir.to_path_buf(),
                        detail: format!("{MARKER_FILE} is damaged: {err}"),
                    })?;
                if marker.format > PROJECT_FORMAT {
                    return Err(ProjectError::NewerFormat {
                        path: dir.to_path_buf(),
                        found: marker.format,
                    });
                }
                return Ok(());
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(io(source)),
        }
        let empty = match std::fs::read_dir(dir) {
            Ok(mut entries) => entries.next().is_none(),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => true,
            Err(source) => return Err(io(source)),
        };
        let legacy = !empty
            && Self::open_unmarked(dir).is_ok()
            && (dir.join("cache.sqlite").is_file() || dir.join("review.sqlite").is_file());
        if !empty && !legacy {
            return Err(ProjectError::Foreign {
                path: dir.to_path_buf(),
            });
        }
        std::fs::create_dir_all(dir).map_err(io)?;
        let marker = Marker {
            kind: "replicant-project".into(),
            format: PROJECT_FORMAT,
            created_by: format!("replicant {}", env!("CARGO_PKG_VERSION")),
            created_at: crate::fsutil::utc_now(),
        };
        let body = serde_json::to_vec_pretty(&marker).unwrap_or_default();
        write_atomically(&marker_path, &body).map_err(|source| ProjectError::Io {
            path: marker_path.clone(),
            source,
        })
    }

    /// Takes the project's writer lock for a scan (adopting the folder first): a second
    /// scan is refused at once, with the first one's process, host and start time.
    pub fn lock_for_scan(dir: &Path) -> Result<ProjectLock, ProjectError> {
        use std::io::{Read, Seek, Write};
        Self::adopt(dir)?;
        let path = dir.join(LOCK_FILE);
        let io = |source| ProjectError::Io {
            path: path.clone(),
            source,
        };
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        if let Err(err) = file.try_lock() {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            return match err {
                std::fs::TryLockError::WouldBlock => Err(ProjectError::Busy {
                    path: dir.to_path_buf(),
                    holder: crate::fsutil::printable(holder.trim()).into_owned(),
                }),
                std::fs::TryLockError::Error(source) => Err(io(source)),
            };
        }
        let holder = format!(
            "process {} on {}, started {}",
            std::process::id(),
            whoami::fallible::hostname().unwrap_or_else(|_| "this machine".into()),
            crate::fsutil::utc_now()
        );
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        file.write_all(holder.as_bytes()).map_err(io)?;
        Ok(ProjectLock { _file: file })
    }

    /// Opens the project at `dir`, creating it (and writing `project.json`) when needed; an
    /// existing project is updated to `spec`. A folder that is not a project and not empty
    /// is refused (see [`Project::adopt`]).
    pub fn create_or_update(dir: &Path, spec: ProjectSpec) -> Result<Self, ProjectError> {
        let project = Self::for_scan(dir, spec)?;
        project.save_spec()?;
        Ok(project)
    }

    /// Opens the project at `dir` for a scan of `spec`, creating it when needed. An existing
    /// project keeps its `project.json` until the scan saves its results
    /// ([`Project::save_spec`] just before them): until then a reader finds the folders and
    /// the results of one scan, the previous one, never this one's folders beside the last
    /// one's results.
    pub fn for_scan(dir: &Path, spec: ProjectSpec) -> Result<Self, ProjectError> {
        Self::adopt(dir)?;
        std::fs::create_dir_all(dir.join("index")).map_err(|source| ProjectError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let project = Self {
            dir: dir.to_path_buf(),
            spec,
        };
        if Self::open(dir).is_err() {
            project.save_spec()?;
        }
        Ok(project)
    }

    /// Writes `project.json` when it does not say what [`Project::spec`] says.
    pub fn save_spec(&self) -> Result<(), ProjectError> {
        let existing = Self::open(&self.dir).ok();
        if existing.as_ref().map(|p| &p.spec) != Some(&self.spec) {
            let path = self.dir.join("project.json");
            let json = serde_json::to_vec_pretty(&self.spec).unwrap_or_default();
            write_atomically(&path, &json).map_err(|source| ProjectError::Io { path, source })?;
        }
        Ok(())
    }

    /// Opens an existing project.
    pub fn open(dir: &Path) -> Result<Self, ProjectError> {
        if !dir.join(MARKER_FILE).is_file() {
            // A project from before the marker is marked on first use; anything else is not
            // a project.
            let project = Self::open_unmarked(dir)?;
            if dir.join("cache.sqlite").is_file() || dir.join("review.sqlite").is_file() {
                let _ = Self::adopt(dir);
                return Ok(project);
            }
            return Err(ProjectError::NotAProject {
                path: dir.to_path_buf(),
                detail: format!("it has no {MARKER_FILE}"),
            });
        }
        Self::open_unmarked(dir)
    }

    fn open_unmarked(dir: &Path) -> Result<Self, ProjectError> {
        let path = dir.join("project.json");
        let bytes = std::fs::read(&path).map_err(|err| ProjectError::NotAProject {
            path: dir.to_path_buf(),
            detail: format!("{}: {err}", path.display()),
        })?;
        let spec = serde_json::from_slice(&bytes).map_err(|err| ProjectError::NotAProject {
            path: dir.to_path_buf(),
            detail: format!("project.json: {err}"),
        })?;
        Ok(Self {
            dir: dir.to_path_buf(),
            spec,
        })
    }

    /// The project's identity: a digest of its folder (resolved) and what it audits. A review
    /// page carries it, so that the labels saved from the page can only be imported into the
    /// project that exported it (`replicant label import` checks it). Derived, not stored, so
    /// exporting stays read-only; a project moved to another folder gets another identity.
    pub fn identity(&self) -> String {
        let mut hasher = blake3::Hasher::new();
        hasher.update(absolute(&self.dir).to_string_lossy().as_bytes());
        hasher.update(&serde_json::to_vec(&self.spec).unwrap_or_default());
        hasher.finalize().to_hex()[..32].to_string()
    }

    /// The embedding cache database.
    pub fn cache_path(&self) -> PathBuf {
        self.dir.join("cache.sqlite")
    }

    /// The reviewers' label store.
    pub fn review_path(&self) -> PathBuf {
        self.dir.join("review.sqlite")
    }

    /// The folder holding the saved training index.
    pub fn index_dir(&self) -> PathBuf {
        self.dir.join("index")
    }

    /// The latest scan's results.
    pub fn last_scan_path(&self) -> PathBuf {
        self.dir.join("last_scan.json")
    }

    /// The folders this project reads images from: the generations folder, the training
    /// sources, and the sources of its training index.
    pub fn scope(&self) -> ProjectScope {
        let mut roots = vec![self.spec.generations.clone()];
        roots.extend(self.spec.training.iter().cloned());
        if let Some(index) = &self.spec.training_index
            && let Ok(manifest) = crate::index::prebuilt::read_manifest(index)
        {
            roots.extend(manifest.sources);
        }
        ProjectScope {
            roots: roots.iter().map(|r| absolute(r)).collect(),
        }
    }
}

/// The folders (and shards) a project reads images from: nothing outside them is read on
/// its behalf, whatever a damaged or edited store names.
#[derive(Debug, Clone)]
pub struct ProjectScope {
    roots: Vec<PathBuf>,
}

impl ProjectScope {
    /// Whether the image at `location` lies inside one of the project's folders. The path is
    /// taken as written with `.` and `..` resolved, so `..` cannot lead out; a symbolic link
    /// inside a folder is the user's own layout (the scan followed it too) and is allowed.
    pub fn contains(&self, location: &crate::catalog::ImageLocation) -> bool {
        let file = location.file();
        if !file.is_absolute() {
            return false;
        }
        let normal = lexically_normal(file);
        self.roots.iter().any(|root| normal.starts_with(root))
    }
}

/// `path` with `.` and `..` resolved by their names alone (no file system access).
fn lexically_normal(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Short names for the sources, used as path prefixes when there are several: each source's
/// folder (or shard) name, with `~2`, `~3` added to repeats.
pub(crate) fn folder_names(folders: &[PathBuf]) -> Vec<String> {
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    folders
        .iter()
        .map(|folder| {
            let base = absolute(folder)
                .file_name()
                .map_or_else(|| "training".into(), |n| n.to_string_lossy().into_owned());
            let count = seen.entry(base.clone()).or_insert(0);
            *count += 1;
            if *count == 1 {
                base
            } else {
                format!("{base}~{count}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_dir_is_stable_and_depends_on_the_folders() {
        let a = Project::default_dir(
            Path::new("/data/gens"),
            &[PathBuf::from("/data/train")],
            None,
        );
        let b = Project::default_dir(
            Path::new("/data/gens"),
            &[PathBuf::from("/data/train")],
            None,
        );
        let c = Project::default_dir(
            Path::new("/data/gens"),
            &[PathBuf::from("/data/other")],
            None,
        );
        let d = Project::default_dir(Path::new("/data/gens"), &[], Some(Path::new("/data/idx")));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
        assert!(
            a.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("gens-"))
        );
    }

    #[test]
    fn the_scope_holds_the_folders_and_nothing_outside() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (gens, train) = (dir.path().join("g"), dir.path().join("t"));
        std::fs::create_dir_all(&gens).expect("mkdir");
        std::fs::create_dir_all(&train).expect("mkdir");
        let project = Project {
            dir: dir.path().join("p"),
            spec: ProjectSpec {
                generations: absolute(&gens),
                training: vec![absolute(&train)],
                training_index: None,
                model: "sscd".into(),
            },
        };
        let scope = project.scope();
        let at = |p: PathBuf| crate::catalog::ImageLocation::File(p);
        assert!(scope.contains(&at(absolute(&gens).join("a.png"))));
        assert!(scope.contains(&at(absolute(&train).join("sub/b.png"))));
        assert!(!scope.contains(&at(absolute(&train).join("../../etc/passwd"))));
        assert!(!scope.contains(&at(PathBuf::from("/etc/passwd"))));
        assert!(!scope.contains(&at(PathBuf::from("relative.png"))));
    }

    #[test]
    fn a_folder_of_other_files_is_refused_and_a_held_project_names_its_holder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mine = dir.path().join("mine");
        std::fs::create_dir_all(&mine).expect("mkdir");
        std::fs::write(mine.join("project.json"), b"{}").expect("write");
        assert!(matches!(
            Project::adopt(&mine),
            Err(ProjectError::Foreign { .. })
        ));
        assert!(!mine.join(MARKER_FILE).exists());

        let project = dir.path().join("project");
        let held = Project::lock_for_scan(&project).expect("lock");
        assert!(
            project.join(MARKER_FILE).is_file(),
            "a new folder is adopted"
        );
        match Project::lock_for_scan(&project) {
            Err(ProjectError::Busy { holder, .. }) => {
                assert!(
                    holder.contains(&format!("process {}", std::process::id())),
                    "{holder}"
                );
            }
            other => panic!("a second writer was let in: {other:?}"),
        }
        drop(held);
        Project::lock_for_scan(&project).expect("free again");
    }

    #[test]
    fn create_then_open_round_trips_the_spec() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spec = ProjectSpec {
            generations: "/g".into(),
            training: vec!["/t1".into(), "/t2".into()],
            training_index: None,
            model: "sscd".into(),
        };
        Project::create_or_update(dir.path(), spec.clone()).expect("create");
        assert_eq!(Project::open(dir.path()).expect("open").spec, spec);
        assert!(Project::open(&dir.path().join("missing")).is_err());
    }
}
