//! The review store: reviewers' labels in SQLite (WAL) in the project folder.
//!
//! Each change is one transaction, committed with `synchronous = FULL` before the call
//! returns, so a label is on disk when the desk draws its next frame and a killed process
//! loses nothing. Every change is also appended to a history table, which makes undo and redo
//! work across restarts; nothing is ever deleted from the history (undone changes that are
//! replaced by a new change are marked abandoned).
//!
//! A label belongs to its pair by content: the blake3 hashes of the generation's and the
//! training image's bytes. Renaming or moving files, adding a training folder (which prefixes
//! training names), reordering folders or moving the project never detaches a label; the names
//! the pair had are kept beside it for display, and exports show the pair under its current
//! names.

mod migrate;
pub mod plan;
pub mod reviewers;
mod schema;
mod store;

pub use migrate::{KeyResolver, MigrationReport};
pub use store::{Change, ReviewStore, SCHEMA_VERSION};

use std::path::PathBuf;

/// A reviewer's verdict on a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Label {
    /// The training image reappears as a whole, with changes such as augmentation makes
    /// (crop, resize, flip, colour).
    FullCopy,
    /// An object, the background or another substantial part reappears, or a very close but
    /// inexact reproduction.
    NearCopy,
    /// No copied content (shared style alone is distinct).
    Distinct,
}

impl Label {
    /// All labels, most severe first.
    pub const ALL: [Label; 3] = [Label::FullCopy, Label::NearCopy, Label::Distinct];

    /// The stored name: `full_copy`, `near_copy`, `distinct`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FullCopy => "full_copy",
            Self::NearCopy => "near_copy",
            Self::Distinct => "distinct",
        }
    }

    /// The name shown to reviewers.
    pub fn title(self) -> &'static str {
        match self {
            Self::FullCopy => "Full copy",
            Self::NearCopy => "Near copy",
            Self::Distinct => "Distinct",
        }
    }

    /// The definition shown in the help.
    pub fn definition(self) -> &'static str {
        match self {
            Self::FullCopy => {
                "the training image reappears as a whole, with changes such as augmentation makes (crop, resize, flip, colour)"
            }
            Self::NearCopy => {
                "an object, the background or another substantial part reappears, or a very close but inexact reproduction"
            }
            Self::Distinct => "no copied content (shared style alone is distinct)",
        }
    }

    /// Parses a stored or typed name (`full_copy`, `near-copy`, `distinct`, ...).
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "full_copy" | "full" => Some(Self::FullCopy),
            "near_copy" | "near" => Some(Self::NearCopy),
            "distinct" => Some(Self::Distinct),
            _ => None,
        }
    }
}

/// A generation and one of its matches: what a label is about.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct PairKey {
    /// blake3 (hex) of the generation's bytes.
    pub generation_hash: String,
    /// blake3 (hex) of the training image's bytes.
    pub training_hash: String,
}

impl PairKey {
    /// The key of a generation and a training image with these content hashes.
    pub fn new(generation_hash: &str, training_hash: &str) -> Self {
        Self {
            generation_hash: generation_hash.to_string(),
            training_hash: training_hash.to_string(),
        }
    }

    /// The key of a scan's pair, when the scan recorded both images' hashes (every scan
    /// since labels were keyed by content does).
    pub fn of(
        generation: &crate::ranking::matches::GenerationMatches,
        m: &crate::ranking::matches::Match,
    ) -> Option<Self> {
        Some(Self::new(
            generation.generation_hash.as_deref()?,
            m.training_hash.as_deref()?,
        ))
    }
}

/// What is known of a pair when it is labelled, stored beside the label for export.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct PairContext {
    /// Rank of the match for its generation.
    pub rank: usize,
    /// Cosine similarity.
    pub similarity: f32,
    /// The model key the match was made with.
    pub model_key: crate::embed::ModelKey,
    /// The generation's prompt.
    pub prompt: Option<String>,
    /// The training image's caption.
    pub training_caption: Option<String>,
    /// The generation on disk.
    #[serde(default, with = "crate::fsutil::serde_path::option")]
    pub generation_path: Option<PathBuf>,
    /// Where the training image's bytes are (a file, or a tar member by offset).
    pub training_path: Option<crate::catalog::ImageLocation>,
    /// The training image's duplicate count when labelled (see [`crate::ranking::matches::Match`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicates: Option<usize>,
    /// img2dataset's `key` and `url` of both images, for images read from shards.
    #[serde(flatten)]
    pub samples: PairSamples,
}

/// img2dataset's `key` and `url` of a pair's generation and training image, each present when
/// that image was read from a shard (see [`crate::catalog::ShardSample`]).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct PairSamples {
    /// The generation's sample key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation_key: Option<String>,
    /// The generation's sample url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation_url: Option<String>,
    /// The training image's sample key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training_key: Option<String>,
    /// The URL the training image was downloaded from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training_url: Option<String>,
}

impl PairContext {
    /// What is known of `generation`'s match `m`, matched with the model `model_key`.
    pub fn of(
        generation: &crate::ranking::matches::GenerationMatches,
        m: &crate::ranking::matches::Match,
        model_key: &crate::embed::ModelKey,
    ) -> Self {
        Self {
            rank: m.rank,
            similarity: m.similarity,
            model_key: model_key.clone(),
            prompt: generation.prompt.clone(),
            training_caption: m.training_caption.clone(),
            generation_path: Some(generation.generation_path.clone()),
            training_path: Some(m.training_path.clone()),
            duplicates: m.duplicates,
            samples: PairSamples {
                generation_key: generation.key.clone(),
                generation_url: generation.url.clone(),
                training_key: m.training_key.clone(),
                training_url: m.training_url.clone(),
            },
        }
    }
}

/// The current state of a labelled pair.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LabelRecord {
    /// Which pair (by content).
    pub key: PairKey,
    /// The generation's name when it was labelled.
    pub generation: String,
    /// The training image's name when it was labelled.
    pub training: String,
    /// The verdict; `None` when cleared (a note may remain).
    pub label: Option<Label>,
    /// Who labelled it.
    pub reviewer: String,
    /// The reviewer's note.
    pub note: String,
    /// When, as RFC 3339 UTC.
    pub labelled_at: String,
    /// What was known of the pair.
    pub context: PairContext,
}

/// Errors from the review store. Each names the file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    /// SQLite failed.
    #[error(
        "review store {path}: {source}; check that the project folder is readable and writable (labels already saved are safe)"
    )]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// The error.
        source: rusqlite::Error,
    },
    /// The file is not a database any more (damaged, or overwritten).
    #[error(
        "review store {path} is damaged ({source}); restore review.sqlite from a backup (the program never deletes it; labels cannot be rebuilt by scanning)"
    )]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// The error.
        source: rusqlite::Error,
    },
    /// The disk is full.
    #[error(
        "review store {path}: the disk is full ({source}); free some space, then label again (labels already saved are safe)"
    )]
    DiskFull {
        /// The database file.
        path: PathBuf,
        /// The error.
        source: rusqlite::Error,
    },
    /// The store was written by a newer program.
    #[error(
        "review store {path} has schema version {found}, newer than this program's {SCHEMA_VERSION}; update Replicant"
    )]
    NewerSchema {
        /// The database file.
        path: PathBuf,
        /// The version found.
        found: i64,
    },
    /// A row of the store cannot be read as a label: it was edited by hand or damaged.
    #[error(
        "review store {path}: {detail}; the store was edited or damaged: restore review.sqlite from a backup, or correct the row (nothing was changed)"
    )]
    Damaged {
        /// The database file.
        path: PathBuf,
        /// Which row and what is wrong with it.
        detail: String,
    },
    /// A change names no reviewer: a blank name would count as a reviewer of its own and
    /// make disputes out of nothing.
    #[error(
        "a reviewer name is needed (got {given:?}); give --reviewer NAME, or set your name in the desk's settings (nothing was changed)"
    )]
    NoReviewer {
        /// What was given.
        given: String,
    },
    /// An older store must be upgraded before it can be read, and it was opened read-only.
    #[error(
        "review store {path} is from an older version and must be upgraded once: open the project in the desk or run `replicant label` on it from an account that can write it"
    )]
    NeedsUpgrade {
        /// The database file.
        path: PathBuf,
    },
}

impl ReviewError {
    /// The error for `source` on the store at `path`: a full disk says so.
    pub(crate) fn sqlite(path: &std::path::Path, source: rusqlite::Error) -> Self {
        let code = match &source {
            rusqlite::Error::SqliteFailure(e, _) => Some(e.code),
            _ => None,
        };
        if code == Some(rusqlite::ErrorCode::DiskFull) {
            Self::DiskFull {
                path: path.to_path_buf(),
                source,
            }
        } else if matches!(
            code,
            Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt)
        ) {
            Self::Corrupt {
                path: path.to_path_buf(),
                source,
            }
        } else {
            Self::Sqlite {
                path: path.to_path_buf(),
                source,
            }
        }
    }
}

/// `name` trimmed, when it names someone: a blank name is refused (it would count as a
/// reviewer of its own). Other characters are kept, and escaped wherever they are printed.
pub fn checked_reviewer(name: &str) -> Result<&str, ReviewError> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(ReviewError::NoReviewer {
            given: name.to_string(),
        });
    }
    Ok(trimmed)
}

/// The reviewer name to use when none is set: the operating system's user name.
pub fn default_reviewer() -> String {
    let name = whoami::username();
    if name.trim().is_empty() {
        "reviewer".into()
    } else {
        name
    }
}
