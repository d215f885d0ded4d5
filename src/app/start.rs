//! How the desk starts: the last project, folders from the command line, or a project folder.

use std::path::{Path, PathBuf};

use super::commands::Command;

/// How the desk starts.
#[derive(Debug, Clone, PartialEq)]
pub enum StartMode {
    /// The last project, or the welcome screen.
    Resume,
    /// These folders (a scan starts at once).
    Folders {
        /// The generations folder.
        generations: PathBuf,
        /// The training sources (folders or tar shards).
        training: Vec<PathBuf>,
        /// A training index to match against instead of training sources.
        training_index: Option<PathBuf>,
        /// The project folder, when not the default.
        project: Option<PathBuf>,
    },
    /// An existing project folder.
    Project(PathBuf),
}

impl StartMode {
    /// The command the desk starts with: open the folders or the project asked for, or the
    /// last project (`last_project`) when it is still there; none for the welcome screen.
    pub(super) fn first_command(self, last_project: Option<&Path>) -> Option<Command> {
        match self {
            Self::Resume => last_project
                .filter(|d| d.join("project.json").is_file())
                .map(|dir| Command::OpenProject(dir.to_path_buf())),
            Self::Folders {
                generations,
                training,
                training_index,
                project,
            } => Some(Command::OpenFolders {
                generations,
                training,
                training_index,
                project,
            }),
            Self::Project(dir) => Some(Command::OpenProject(dir)),
        }
    }
}
