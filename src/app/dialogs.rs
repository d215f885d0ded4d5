//! Native file dialogs (rfd) on their own threads, so the UI never waits on them. Where no
//! portal is available (no desktop session), the dialog returns nothing at once; every
//! dialog action is also reachable by drag and drop or from the command line.

use std::path::PathBuf;

use crossbeam_channel::{Receiver, Sender};

use crate::jobs::Waker;

/// What a dialog is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialogPurpose {
    /// The generations folder.
    Generations,
    /// A training folder (of images and/or tar shards).
    Training,
    /// One WebDataset tar shard as a training source.
    TrainingShard,
    /// A training index made by `replicant index build`.
    TrainingIndex,
    /// An existing project folder.
    Project,
    /// Where to save the review set.
    Export,
    /// Where to save the evidence report.
    Report,
}

/// Runs dialogs and collects their answers.
pub struct Dialogs {
    tx: Sender<(DialogPurpose, Option<PathBuf>)>,
    rx: Receiver<(DialogPurpose, Option<PathBuf>)>,
    waker: Option<Waker>,
    open: bool,
}

impl Dialogs {
    /// A dialog runner that wakes the UI when an answer comes.
    pub fn new(waker: Option<Waker>) -> Self {
        let (tx, rx) = crossbeam_channel::bounded(4);
        Self {
            tx,
            rx,
            waker,
            open: false,
        }
    }

    /// Opens a dialog for `purpose` (ignored while another is open).
    pub fn open(&mut self, purpose: DialogPurpose, start_dir: Option<PathBuf>) {
        if self.open {
            return;
        }
        self.open = true;
        let tx = self.tx.clone();
        let waker = self.waker.clone();
        let spawned = std::thread::Builder::new()
            .name("replicant-dialog".into())
            .spawn(move || {
                let mut dialog = rfd::FileDialog::new();
                if let Some(dir) = start_dir {
                    dialog = dialog.set_directory(dir);
                }
                let answer = match purpose {
                    DialogPurpose::Generations => {
                        dialog.set_title("Open generations").pick_folder()
                    }
                    DialogPurpose::Training => dialog.set_title("Open training set").pick_folder(),
                    DialogPurpose::TrainingShard => dialog
                        .set_title("Open a training shard")
                        .add_filter("WebDataset shard", &["tar"])
                        .pick_file(),
                    DialogPurpose::TrainingIndex => {
                        dialog.set_title("Use a training index").pick_folder()
                    }
                    DialogPurpose::Project => dialog.set_title("Open project").pick_folder(),
                    DialogPurpose::Export => dialog
                        .set_title("Export review set")
                        .set_file_name("review_set.csv")
                        .add_filter("CSV", &["csv"])
                        .add_filter("JSON Lines", &["jsonl"])
                        .add_filter("HTML page", &["html"])
                        .save_file(),
                    DialogPurpose::Report => dialog
                        .set_title("Save the evidence report")
                        .set_file_name("report.html")
                        .add_filter("HTML page", &["html"])
                        .add_filter("JSON", &["json"])
                        .save_file(),
                };
                let _ = tx.send((purpose, answer));
                if let Some(waker) = waker {
                    waker();
                }
            });
        if spawned.is_err() {
            self.open = false;
        }
    }

    /// Answers that came in (never blocks).
    pub fn answers(&mut self) -> Vec<(DialogPurpose, Option<PathBuf>)> {
        let answers: Vec<_> = self.rx.try_iter().collect();
        if !answers.is_empty() {
            self.open = false;
        }
        answers
    }
}
