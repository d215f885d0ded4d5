//! Opening a project off the UI thread. Its label store and last results take a while to read
//! when the project is large (a 10,000-generation scan leaves about 13 MB of results), and the
//! desk must keep drawing meanwhile.

use std::path::{Path, PathBuf};

use crate::jobs::{Job, Waker};
use crate::project::Project;
use crate::project::ProjectSpec;
use crate::project::absolute;
use crate::project::last_scan::LastScan;
use crate::review::{LabelRecord, ReviewError, ReviewStore};

/// Which project to open.
#[derive(Debug, Clone)]
pub enum ProjectSource {
    /// An existing project folder.
    Existing(PathBuf),
    /// A project folder for these folders, made (or updated) if needed.
    Folders {
        /// The project folder.
        dir: PathBuf,
        /// The folders and model it covers.
        spec: ProjectSpec,
    },
}

impl ProjectSource {
    /// The project for `generations` and `training` sources (or a `training_index`), in
    /// `project` or the default folder for them, scanned with `model`; a message when no
    /// training side was chosen.
    pub fn folders(
        generations: &Path,
        training: &[PathBuf],
        training_index: Option<&Path>,
        project: Option<PathBuf>,
        model: String,
    ) -> Result<Self, String> {
        if training.is_empty() && training_index.is_none() {
            return Err(
                "Choose at least one training folder or shard, or a training index.".into(),
            );
        }
        let dir =
            project.unwrap_or_else(|| Project::default_dir(generations, training, training_index));
        let spec = ProjectSpec {
            generations: absolute(generations),
            training: training.iter().map(|t| absolute(t)).collect(),
            training_index: training_index.map(absolute),
            model,
        };
        Ok(Self::Folders { dir, spec })
    }
}

/// A project read from disk, ready for the desk.
pub struct OpenedProject {
    /// The project.
    pub project: Project,
    /// Its label store, open.
    pub review: ReviewStore,
    /// Every pair's current label.
    pub labels: Vec<LabelRecord>,
    /// The results its last scan left (empty before the first scan, or when they cannot be
    /// read: see `messages`).
    pub last: LastScan,
    /// Its review plan, when one was drawn.
    pub plan: Option<crate::review::plan::ReviewPlan>,
    /// Every reviewer's own labels (for blind review).
    pub reviewer_labels: Vec<crate::review::reviewers::ReviewerLabel>,
    /// Adjudicated pairs.
    pub adjudications: Vec<crate::review::reviewers::Adjudication>,
    /// What the reviewer must be told on opening: results that cannot be read (the file and
    /// the remedy), labels an upgrade could not attach.
    pub messages: Vec<String>,
}

/// Reads a project: its folder, label store and last results. Blocks; runs on the thread
/// [`spawn_open`] starts. Errors say what failed and where.
fn load_project(source: ProjectSource) -> Result<OpenedProject, String> {
    let project = match source {
        ProjectSource::Existing(dir) => Project::open(&dir),
        ProjectSource::Folders { dir, spec } => Project::create_or_update(&dir, spec),
    }
    .map_err(|err| err.to_string())?;
    read_project(project).map_err(|err| err.to_string())
}

/// Reads the label store (upgrading an older one to content keys) and last results of
/// `project`, giving results from before content keys their hashes. Blocks.
pub fn read_project(project: Project) -> Result<OpenedProject, ReviewError> {
    let (review, migration) = crate::project::review::open_review(&project)?;
    let labels = review.all()?;
    let mut messages = Vec::new();
    if let Some(report) = migration.filter(|r| !r.unresolved.is_empty()) {
        messages.push(format!(
            "The label store was upgraded to content keys; {} labelled pairs could not be found on disk and are kept under their old names (they are exported, but shown on no pair): {}",
            report.unresolved.len(),
            report
                .unresolved
                .iter()
                .take(5)
                .map(|(g, t)| format!("{g} ~ {t}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let last = match LastScan::load(&project) {
        Ok(last) => {
            let mut last = last.unwrap_or_default();
            crate::project::review::fill_hashes(&project, &mut last);
            last
        }
        Err(err) => {
            messages.push(err.to_string());
            LastScan::default()
        }
    };
    let plan = crate::review::plan::load(&project.dir).unwrap_or_else(|why| {
        messages.push(why);
        None
    });
    let reviewer_labels = review.reviewer_labels().unwrap_or_else(|why| {
        messages.push(format!(
            "each reviewer's own labels could not be read ({why}); blind review is off"
        ));
        Vec::new()
    });
    let adjudications = review.adjudications().unwrap_or_else(|why| {
        messages.push(format!("adjudications could not be read ({why})"));
        Vec::new()
    });
    Ok(OpenedProject {
        plan,
        reviewer_labels,
        adjudications,
        project,
        review,
        labels,
        last,
        messages,
    })
}

/// A project being opened; the opened project, or why it could not be opened, arrives on
/// `result`, once.
pub type OpenJob = Job<(), Result<OpenedProject, String>>;

/// Starts opening `source` on a named thread; `waker` is called when the result is ready.
pub fn spawn_open(source: ProjectSource, waker: Option<Waker>) -> OpenJob {
    Job::spawn("replicant-open", 1, waker, move |_| load_project(source))
        .unwrap_or_else(|why| Job::ended(Vec::new(), Some(Err(why))))
}
