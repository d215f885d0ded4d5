//! The review store: reviewers' labels in SQLite (WAL) in the project folder.
//!
//! Each change is one transaction, committed with `synchronous = FULL` before the call
//! returns, so a label is on disk when the desk draws its next frame and a killed process
//! loses nothing. Every change is also appended to a history table, which makes undo and redo
//! work across restarts; nothing is ever deleted from the history (undone changes that are
//! replaced by a new change are marked abandoned).

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

const SCHEMA_VERSION: i64 = 1;

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
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct PairKey {
    /// The generation's relative path.
    pub generation: String,
    /// The training image's relative path (as in the scan's output).
    pub training: String,
}

/// What is known of a pair when it is labelled, stored beside the label for export.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct PairContext {
    /// Rank of the match for its generation.
    pub rank: usize,
    /// Cosine similarity.
    pub similarity: f32,
    /// The model key the match was made with.
    pub model_key: String,
    /// The generation's prompt.
    pub prompt: Option<String>,
    /// The training image's caption.
    pub training_caption: Option<String>,
    /// The generation on disk.
    pub generation_path: Option<PathBuf>,
    /// Where the training image's bytes are (a file, or a tar member by offset).
    pub training_path: Option<crate::catalog::ImageLocation>,
}

/// The current state of a labelled pair.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LabelRecord {
    /// Which pair.
    pub key: PairKey,
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
        "review store {path}: {source}; check that the project folder is writable (labels already saved are safe)"
    )]
    Sqlite {
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
}

/// What an undo or redo changed, so the desk can show it.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The pair.
    pub key: PairKey,
    /// Its state after the undo or redo (`None` when it has no record any more).
    pub now: Option<LabelRecord>,
}

/// A history row: sequence, generation, training, state before, state after.
type HistoryRow = (i64, String, String, Option<String>, Option<String>);

/// The label store of one project.
pub struct ReviewStore {
    conn: Connection,
    path: PathBuf,
}

fn now_sql() -> &'static str {
    "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
}

impl ReviewStore {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, ReviewError> {
        let err = |source| ReviewError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open(path).map_err(err)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             PRAGMA busy_timeout = 5000;
             CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS labels (
                 generation TEXT NOT NULL, training TEXT NOT NULL, label TEXT,
                 reviewer TEXT NOT NULL, note TEXT NOT NULL, labelled_at TEXT NOT NULL,
                 context TEXT NOT NULL, PRIMARY KEY (generation, training));
             CREATE TABLE IF NOT EXISTS history (
                 seq INTEGER PRIMARY KEY AUTOINCREMENT, generation TEXT NOT NULL,
                 training TEXT NOT NULL, before TEXT, after TEXT, reviewer TEXT NOT NULL,
                 at TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'done');",
        )
        .map_err(err)?;
        let found: Option<String> = conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(err)?;
        match found.and_then(|v| v.parse::<i64>().ok()) {
            Some(version) if version > SCHEMA_VERSION => {
                return Err(ReviewError::NewerSchema {
                    path: path.to_path_buf(),
                    found: version,
                });
            }
            Some(_) => {}
            None => {
                conn.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?1)",
                    params![SCHEMA_VERSION.to_string()],
                )
                .map_err(err)?;
            }
        }
        Ok(Self {
            conn,
            path: path.to_path_buf(),
        })
    }

    fn err(&self, source: rusqlite::Error) -> ReviewError {
        ReviewError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The current record of `key`, if any.
    pub fn get(&self, key: &PairKey) -> Result<Option<LabelRecord>, ReviewError> {
        read_record(&self.conn, key).map_err(|e| self.err(e))
    }

    /// Every pair with a record, sorted by generation then training path.
    pub fn all(&self) -> Result<Vec<LabelRecord>, ReviewError> {
        let mut stmt = self
            .conn
            .prepare("SELECT generation, training, label, reviewer, note, labelled_at, context FROM labels ORDER BY generation, training")
            .map_err(|e| self.err(e))?;
        let rows = stmt.query_map([], row_to_record).map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// Sets (or with `None`, clears) the label of a pair, keeping its note, in one
    /// transaction that is on disk when this returns. Returns the new record.
    pub fn set_label(
        &mut self,
        key: &PairKey,
        label: Option<Label>,
        reviewer: &str,
        context: &PairContext,
    ) -> Result<LabelRecord, ReviewError> {
        self.change(key, reviewer, context, |before| {
            (label, before.map(|b| b.note.clone()).unwrap_or_default())
        })
    }

    /// Sets the note of a pair, keeping its label.
    pub fn set_note(
        &mut self,
        key: &PairKey,
        note: &str,
        reviewer: &str,
        context: &PairContext,
    ) -> Result<LabelRecord, ReviewError> {
        self.change(key, reviewer, context, |before| {
            (before.and_then(|b| b.label), note.to_string())
        })
    }

    fn change(
        &mut self,
        key: &PairKey,
        reviewer: &str,
        context: &PairContext,
        next: impl FnOnce(Option<&LabelRecord>) -> (Option<Label>, String),
    ) -> Result<LabelRecord, ReviewError> {
        let path = self.path.clone();
        let err = |source| ReviewError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(err)?;
        let before = read_record(&tx, key).map_err(err)?;
        let (label, note) = next(before.as_ref());
        let context_json = serde_json::to_string(context).unwrap_or_else(|_| "{}".into());
        tx.execute(
            &format!(
                "INSERT INTO labels (generation, training, label, reviewer, note, labelled_at, context)
                 VALUES (?1, ?2, ?3, ?4, ?5, {now}, ?6)
                 ON CONFLICT (generation, training) DO UPDATE SET label = excluded.label,
                 reviewer = excluded.reviewer, note = excluded.note, labelled_at = excluded.labelled_at,
                 context = excluded.context",
                now = now_sql()
            ),
            params![key.generation, key.training, label.map(Label::as_str), reviewer, note, context_json],
        )
        .map_err(err)?;
        let after = read_record(&tx, key).map_err(err)?;
        tx.execute(
            "UPDATE history SET state = 'abandoned' WHERE state = 'undone'",
            [],
        )
        .map_err(err)?;
        tx.execute(
            &format!("INSERT INTO history (generation, training, before, after, reviewer, at) VALUES (?1, ?2, ?3, ?4, ?5, {})", now_sql()),
            params![key.generation, key.training, to_json(before.as_ref()), to_json(after.as_ref()), reviewer],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        after.ok_or_else(|| self.err(rusqlite::Error::QueryReturnedNoRows))
    }

    /// Undoes the latest change not yet undone (across restarts); `None` when there is none.
    pub fn undo(&mut self) -> Result<Option<Change>, ReviewError> {
        self.step("done", "undone", "DESC", |before, _| before)
    }

    /// Redoes the earliest undone change; `None` when there is none.
    pub fn redo(&mut self) -> Result<Option<Change>, ReviewError> {
        self.step("undone", "done", "ASC", |_, after| after)
    }

    fn step(
        &mut self,
        from: &str,
        to: &str,
        order: &str,
        pick: impl FnOnce(Option<LabelRecord>, Option<LabelRecord>) -> Option<LabelRecord>,
    ) -> Result<Option<Change>, ReviewError> {
        let path = self.path.clone();
        let err = |source| ReviewError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(err)?;
        let row: Option<HistoryRow> = tx
            .query_row(
                &format!("SELECT seq, generation, training, before, after FROM history WHERE state = ?1 ORDER BY seq {order} LIMIT 1"),
                params![from],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()
            .map_err(err)?;
        let Some((seq, generation, training, before, after)) = row else {
            return Ok(None);
        };
        let key = PairKey {
            generation,
            training,
        };
        let target = pick(from_json(before.as_deref()), from_json(after.as_deref()));
        match &target {
            Some(record) => {
                tx.execute(
                    "INSERT OR REPLACE INTO labels (generation, training, label, reviewer, note, labelled_at, context) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![
                        key.generation,
                        key.training,
                        record.label.map(Label::as_str),
                        record.reviewer,
                        record.note,
                        record.labelled_at,
                        serde_json::to_string(&record.context).unwrap_or_else(|_| "{}".into())
                    ],
                )
                .map_err(err)?;
            }
            None => {
                tx.execute(
                    "DELETE FROM labels WHERE generation = ?1 AND training = ?2",
                    params![key.generation, key.training],
                )
                .map_err(err)?;
            }
        }
        tx.execute(
            "UPDATE history SET state = ?1 WHERE seq = ?2",
            params![to, seq],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(Some(Change { key, now: target }))
    }

    /// How many changes can be undone and redone.
    pub fn undo_redo_depth(&self) -> Result<(usize, usize), ReviewError> {
        let count = |state: &str| -> Result<usize, ReviewError> {
            self.conn
                .query_row(
                    "SELECT count(*) FROM history WHERE state = ?1",
                    params![state],
                    |r| r.get::<_, i64>(0),
                )
                .map(|n| n as usize)
                .map_err(|e| self.err(e))
        };
        Ok((count("done")?, count("undone")?))
    }
}

fn to_json(record: Option<&LabelRecord>) -> Option<String> {
    record.and_then(|r| serde_json::to_string(r).ok())
}

fn from_json(text: Option<&str>) -> Option<LabelRecord> {
    text.and_then(|t| serde_json::from_str(t).ok())
}

fn row_to_record(row: &rusqlite::Row<'_>) -> rusqlite::Result<LabelRecord> {
    let label: Option<String> = row.get(2)?;
    let context: String = row.get(6)?;
    Ok(LabelRecord {
        key: PairKey {
            generation: row.get(0)?,
            training: row.get(1)?,
        },
        label: label.as_deref().and_then(Label::parse),
        reviewer: row.get(3)?,
        note: row.get(4)?,
        labelled_at: row.get(5)?,
        context: serde_json::from_str(&context).unwrap_or_default(),
    })
}

fn read_record(conn: &Connection, key: &PairKey) -> rusqlite::Result<Option<LabelRecord>> {
    conn.query_row(
        "SELECT generation, training, label, reviewer, note, labelled_at, context FROM labels WHERE generation = ?1 AND training = ?2",
        params![key.generation, key.training],
        row_to_record,
    )
    .optional()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn key(g: &str) -> PairKey {
        PairKey {
            generation: g.into(),
            training: "t.png".into(),
        }
    }

    fn context() -> PairContext {
        PairContext {
            rank: 1,
            similarity: 0.9,
            model_key: "m".into(),
            ..PairContext::default()
        }
    }

    #[test]
    fn labels_notes_and_history_survive_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("review.sqlite");
        {
            let mut store = ReviewStore::open(&path).expect("open");
            store
                .set_label(&key("a"), Some(Label::NearCopy), "ann", &context())
                .expect("label");
            store
                .set_note(&key("a"), "the tree is copied", "ann", &context())
                .expect("note");
            store
                .set_label(&key("b"), Some(Label::Distinct), "bob", &context())
                .expect("label");
        }
        let mut store = ReviewStore::open(&path).expect("reopen");
        let a = store.get(&key("a")).expect("get").expect("record");
        assert_eq!(a.label, Some(Label::NearCopy));
        assert_eq!(a.note, "the tree is copied");
        assert!(a.labelled_at.ends_with('Z'));
        // Undo works across the restart: b, then a's note, then a's label.
        assert_eq!(store.undo().expect("undo").expect("change").key, key("b"));
        assert_eq!(store.get(&key("b")).expect("get"), None);
        store.undo().expect("undo");
        assert_eq!(store.get(&key("a")).expect("get").expect("record").note, "");
        store.redo().expect("redo");
        assert_eq!(
            store.get(&key("a")).expect("get").expect("record").note,
            "the tree is copied"
        );
        assert_eq!(store.undo_redo_depth().expect("depth"), (2, 1));
    }

    #[test]
    fn a_new_change_abandons_the_redo_stack_but_keeps_history() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = ReviewStore::open(&dir.path().join("r.sqlite")).expect("open");
        store
            .set_label(&key("a"), Some(Label::FullCopy), "x", &context())
            .expect("label");
        store.undo().expect("undo");
        store
            .set_label(&key("a"), Some(Label::Distinct), "x", &context())
            .expect("label");
        assert_eq!(store.redo().expect("redo"), None);
        assert_eq!(
            store.get(&key("a")).expect("get").expect("record").label,
            Some(Label::Distinct)
        );
        let rows: i64 = store
            .conn
            .query_row("SELECT count(*) FROM history", [], |r| r.get(0))
            .expect("count");
        assert_eq!(rows, 2);
        store
            .set_label(&key("a"), None, "x", &context())
            .expect("clear");
        assert_eq!(
            store.get(&key("a")).expect("get").expect("record").label,
            None
        );
    }

    #[test]
    fn label_names_parse() {
        for label in Label::ALL {
            assert_eq!(Label::parse(label.as_str()), Some(label));
        }
        assert_eq!(Label::parse("near-copy"), Some(Label::NearCopy));
        assert_eq!(Label::parse("maybe"), None);
    }
}
