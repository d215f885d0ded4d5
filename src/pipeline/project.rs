//! A project directory: where one audit's caches, index, last results and labels live.
//!
//! ```text
//! <project>/project.json      the folders and model this project audits
//! <project>/cache.sqlite      embeddings by content hash and model key (safe to delete)
//! <project>/index/            the saved training index
//! <project>/last_scan.json    the latest scan's results, for opening without re-scanning
//! <project>/review.sqlite     reviewers' labels (precious: never deleted by the program)
//! ```

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
    "sscd".into()
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

    /// Opens the project at `dir`, creating it (and writing `project.json`) when needed; an
    /// existing project is updated to `spec`.
    pub fn create_or_update(dir: &Path, spec: ProjectSpec) -> Result<Self, ProjectError> {
        std::fs::create_dir_all(dir.join("index")).map_err(|source| ProjectError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let project = Self {
            dir: dir.to_path_buf(),
            spec,
        };
        let existing = Self::open(dir).ok();
        if existing.as_ref().map(|p| &p.spec) != Some(&project.spec) {
            let json = serde_json::to_vec_pretty(&project.spec).unwrap_or_default();
            write_atomically(&dir.join("project.json"), &json).map_err(|source| {
                ProjectError::Io {
                    path: dir.join("project.json"),
                    source,
                }
            })?;
        }
        Ok(project)
    }

    /// Opens an existing project.
    pub fn open(dir: &Path) -> Result<Self, ProjectError> {
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
        if let Some(index) = &self.spec.training_index {
            if let Ok(manifest) = crate::index::prebuilt::read_manifest(index) {
                roots.extend(manifest.sources);
            }
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
