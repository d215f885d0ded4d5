//! The label store: one SQLite file, one transaction per change, history for undo and redo.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use super::migrate::{self, KeyResolver, MigrationReport};
use super::{Label, LabelRecord, PairContext, PairKey, ReviewError};

use super::schema::CREATE_V2;
pub use super::schema::SCHEMA_VERSION;

/// One pair of a labelling action: its key, its current names (generation, training) and
/// what is known of it.
pub type PairToLabel = (PairKey, (String, String), PairContext);

/// What an undo or redo changed, so the desk can show it.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The pair.
    pub key: PairKey,
    /// Its state after the undo or redo (`None` when it has no record any more).
    pub now: Option<LabelRecord>,
}

/// A history row: sequence, key, state before, state after.
type HistoryRow = (i64, PairKey, Option<String>, Option<String>);

/// The label store of one project.
pub struct ReviewStore {
    conn: Connection,
    path: PathBuf,
}

fn now_sql() -> &'static str {
    "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
}

const COLUMNS: &str = "generation_hash, training_hash, generation, training, label, reviewer, note, labelled_at, context";

/// The schema version recorded in an open store (0 for a new, empty file).
fn stored_version(conn: &Connection) -> rusqlite::Result<i64> {
    let has_meta = conn
        .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'")?
        .exists([])?;
    if !has_meta {
        return Ok(0);
    }
    let found: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    Ok(found.and_then(|v| v.parse().ok()).unwrap_or(1))
}

impl ReviewStore {
    /// Opens (or creates) the store at `path` for labelling. A store of an older schema is
    /// migrated first, with `resolver` finding each labelled pair's content hashes (see
    /// [`KeyResolver`]); the report says what was migrated and what could not be resolved.
    pub fn open_migrating(
        path: &Path,
        resolver: &dyn KeyResolver,
    ) -> Result<(Self, Option<MigrationReport>), ReviewError> {
        let err = |source| ReviewError::sqlite(path, source);
        let mut conn = Connection::open(path).map_err(err)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             PRAGMA busy_timeout = 5000;",
        )
        .map_err(err)?;
        let version = stored_version(&conn).map_err(err)?;
        if version > SCHEMA_VERSION {
            return Err(ReviewError::NewerSchema {
                path: path.to_path_buf(),
                found: version,
            });
        }
        let report = if version == 1 {
            Some(migrate::v1_to_v2(&mut conn, path, resolver)?)
        } else {
            conn.execute_batch(CREATE_V2).map_err(err)?;
            conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?1)",
                params![SCHEMA_VERSION.to_string()],
            )
            .map_err(err)?;
            None
        };
        // Added beside schema 2 without a version step: older builds ignore the table.
        conn.execute_batch(super::reviewers::CREATE_ADJUDICATIONS)
            .map_err(err)?;
        Ok((
            Self {
                conn,
                path: path.to_path_buf(),
            },
            report,
        ))
    }

    /// Opens (or creates) a store of the current schema; a store that needs migrating is an
    /// error (use [`Self::open_migrating`]).
    pub fn open(path: &Path) -> Result<Self, ReviewError> {
        let (store, _) = Self::open_migrating(path, &migrate::NoResolver)?;
        Ok(store)
    }

    /// Opens the store read-only, for exports and reports: nothing is written, so a project
    /// on read-only media (or another account's) can be read. A store of an older schema must
    /// be upgraded by a writable open first.
    pub fn open_read_only(path: &Path) -> Result<Self, ReviewError> {
        let err = |source| ReviewError::sqlite(path, source);
        if !path.is_file() {
            return Err(ReviewError::Sqlite {
                path: path.to_path_buf(),
                source: rusqlite::Error::InvalidPath(path.to_path_buf()),
            });
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        // A WAL database in a folder this account cannot write can only be read as
        // immutable (SQLite cannot create its shared-memory file there).
        let conn = Connection::open_with_flags(path, flags)
            .and_then(|conn| stored_version(&conn).map(|_| conn))
            .or_else(|_| {
                let uri = format!("file:{}?immutable=1", uri_path(path));
                Connection::open_with_flags(uri, flags | OpenFlags::SQLITE_OPEN_URI)
            })
            .map_err(err)?;
        let version = stored_version(&conn).map_err(err)?;
        if version > SCHEMA_VERSION {
            return Err(ReviewError::NewerSchema {
                path: path.to_path_buf(),
                found: version,
            });
        }
        if version < SCHEMA_VERSION {
            return Err(ReviewError::NeedsUpgrade {
                path: path.to_path_buf(),
            });
        }
        Ok(Self {
            conn,
            path: path.to_path_buf(),
        })
    }

    fn err(&self, source: rusqlite::Error) -> ReviewError {
        ReviewError::sqlite(&self.path, source)
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The current record of `key`, if any.
    pub fn get(&self, key: &PairKey) -> Result<Option<LabelRecord>, ReviewError> {
        read_record(&self.conn, &self.path, key)
    }

    /// Every pair with a record, sorted by the names they were labelled under. A row that
    /// cannot be read (an unknown label, a damaged context) is an error naming it, never
    /// dropped or read as "no label".
    pub fn all(&self) -> Result<Vec<LabelRecord>, ReviewError> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM labels ORDER BY generation, training, generation_hash, training_hash"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt.query_map([], raw_row).map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(record_from_raw(&self.path, row.map_err(|e| self.err(e))?)?);
        }
        Ok(out)
    }

    /// Sets (or with `None`, clears) the label of a pair, keeping its note, in one
    /// transaction that is on disk when this returns. `names` are the pair's current names
    /// (generation, training). Returns the new record.
    pub fn set_label(
        &mut self,
        key: &PairKey,
        names: (&str, &str),
        label: Option<Label>,
        reviewer: &str,
        context: &PairContext,
    ) -> Result<LabelRecord, ReviewError> {
        self.change(key, names, reviewer, context, |before| {
            (label, before.map(|b| b.note.clone()).unwrap_or_default())
        })
    }

    /// Sets (or clears) the label of every pair in `pairs`, keeping their notes, in one
    /// transaction: one undo step undoes them all. Returns the new records, in order.
    pub fn set_labels(
        &mut self,
        pairs: &[PairToLabel],
        label: Option<Label>,
        reviewer: &str,
    ) -> Result<Vec<LabelRecord>, ReviewError> {
        let reviewer = super::checked_reviewer(reviewer)?;
        let path = self.path.clone();
        let err = |source| ReviewError::sqlite(&path, source);
        let tx = self.conn.transaction().map_err(err)?;
        let batch: i64 = tx
            .query_row("SELECT coalesce(max(batch), 0) + 1 FROM history", [], |r| {
                r.get(0)
            })
            .map_err(err)?;
        tx.execute(
            "UPDATE history SET state = 'abandoned' WHERE state = 'undone' AND reviewer = ?1",
            params![reviewer],
        )
        .map_err(err)?;
        let mut records = Vec::with_capacity(pairs.len());
        for (key, names, context) in pairs {
            let before = read_record(&tx, &path, key)?;
            let note = before.as_ref().map(|b| b.note.clone()).unwrap_or_default();
            let after = write_label(&tx, &path, key, names, label, &note, reviewer, context)?;
            tx.execute(
                &format!("INSERT INTO history (generation_hash, training_hash, before, after, reviewer, at, batch) VALUES (?1, ?2, ?3, ?4, ?5, {}, ?6)", now_sql()),
                params![key.generation_hash, key.training_hash, to_json(before.as_ref()), to_json(Some(&after)), reviewer, batch],
            )
            .map_err(err)?;
            records.push(after);
        }
        tx.commit().map_err(err)?;
        Ok(records)
    }

    /// Sets the note of a pair, keeping its label.
    pub fn set_note(
        &mut self,
        key: &PairKey,
        names: (&str, &str),
        note: &str,
        reviewer: &str,
        context: &PairContext,
    ) -> Result<LabelRecord, ReviewError> {
        self.change(key, names, reviewer, context, |before| {
            (before.and_then(|b| b.label), note.to_string())
        })
    }

    fn change(
        &mut self,
        key: &PairKey,
        names: (&str, &str),
        reviewer: &str,
        context: &PairContext,
        next: impl FnOnce(Option<&LabelRecord>) -> (Option<Label>, String),
    ) -> Result<LabelRecord, ReviewError> {
        let reviewer = super::checked_reviewer(reviewer)?;
        let path = self.path.clone();
        let err = |source| ReviewError::sqlite(&path, source);
        let tx = self.conn.transaction().map_err(err)?;
        let before = read_record(&tx, &path, key)?;
        let (label, note) = next(before.as_ref());
        let names = (names.0.to_string(), names.1.to_string());
        let after = write_label(&tx, &path, key, &names, label, &note, reviewer, context)?;
        let after = Some(after);
        tx.execute(
            "UPDATE history SET state = 'abandoned' WHERE state = 'undone' AND reviewer = ?1",
            params![reviewer],
        )
        .map_err(err)?;
        tx.execute(
            &format!("INSERT INTO history (generation_hash, training_hash, before, after, reviewer, at) VALUES (?1, ?2, ?3, ?4, ?5, {})", now_sql()),
            params![key.generation_hash, key.training_hash, to_json(before.as_ref()), to_json(after.as_ref()), reviewer],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        after.ok_or_else(|| self.err(rusqlite::Error::QueryReturnedNoRows))
    }

    /// Undoes the latest change not yet undone (across restarts): one label, or every label
    /// of a bulk action. Empty when there is nothing to undo.
    pub fn undo(&mut self) -> Result<Vec<Change>, ReviewError> {
        self.step("done", "undone", "DESC", None, |before, _| before)
    }

    /// Undoes `reviewer`'s own latest change not yet undone; another reviewer's later label on
    /// the same pair stays the pair's latest.
    pub fn undo_own(&mut self, reviewer: &str) -> Result<Vec<Change>, ReviewError> {
        self.step("done", "undone", "DESC", Some(reviewer), |before, _| before)
    }

    /// Redoes `reviewer`'s own earliest undone change.
    pub fn redo_own(&mut self, reviewer: &str) -> Result<Vec<Change>, ReviewError> {
        self.step("undone", "done", "ASC", Some(reviewer), |_, after| after)
    }

    /// Redoes the earliest undone change (one label, or a bulk action's). Empty when there is
    /// nothing to redo.
    pub fn redo(&mut self) -> Result<Vec<Change>, ReviewError> {
        self.step("undone", "done", "ASC", None, |_, after| after)
    }

    fn step(
        &mut self,
        from: &str,
        to: &str,
        order: &str,
        reviewer: Option<&str>,
        pick: impl Fn(Option<LabelRecord>, Option<LabelRecord>) -> Option<LabelRecord>,
    ) -> Result<Vec<Change>, ReviewError> {
        let path = self.path.clone();
        let err = |source| ReviewError::sqlite(&path, source);
        let tx = self.conn.transaction().map_err(err)?;
        let first: Option<(i64, Option<i64>)> = tx
            .query_row(
                &format!(
                    "SELECT seq, batch FROM history WHERE state = ?1 AND (?2 IS NULL OR reviewer = ?2) ORDER BY seq {order} LIMIT 1"
                ),
                params![from, reviewer],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(err)?;
        let Some((first_seq, batch)) = first else {
            return Ok(Vec::new());
        };
        let rows: Vec<HistoryRow> = tx
            .prepare(&format!(
                "SELECT seq, generation_hash, training_hash, before, after FROM history
                 WHERE state = ?1 AND (seq = ?2 OR (?3 IS NOT NULL AND batch = ?3)) ORDER BY seq {order}"
            ))
            .and_then(|mut stmt| {
                stmt.query_map(params![from, first_seq, batch], |r| {
                    Ok((
                        r.get(0)?,
                        PairKey {
                            generation_hash: r.get(1)?,
                            training_hash: r.get(2)?,
                        },
                        r.get(3)?,
                        r.get(4)?,
                    ))
                })?
                .collect()
            })
            .map_err(err)?;
        let mut changes = Vec::with_capacity(rows.len());
        for (seq, key, before, after) in rows {
            changes.push(apply_history(
                &tx, &path, seq, key, before, after, to, &pick,
            )?);
        }
        tx.commit().map_err(err)?;
        Ok(changes)
    }
}

/// Moves one history row to state `to`, setting its pair to what `pick` chooses of the row's
/// before and after.
#[allow(clippy::too_many_arguments)]
fn apply_history(
    tx: &rusqlite::Transaction<'_>,
    path: &Path,
    seq: i64,
    key: PairKey,
    before: Option<String>,
    after: Option<String>,
    to: &str,
    pick: &dyn Fn(Option<LabelRecord>, Option<LabelRecord>) -> Option<LabelRecord>,
) -> Result<Change, ReviewError> {
    let err = |source| ReviewError::sqlite(path, source);
    // A record that cannot be parsed must not read as "no label": undoing to it would
    // delete the pair's label.
    let parse = |text: Option<String>| -> Result<Option<LabelRecord>, ReviewError> {
        text.map(|t| {
            serde_json::from_str(&t).map_err(|e| ReviewError::Damaged {
                path: path.to_path_buf(),
                detail: format!(
                    "history entry {seq} cannot be read ({e}); undo and redo stop there"
                ),
            })
        })
        .transpose()
    };
    let target = pick(parse(before)?, parse(after)?);
    // A later change to the pair still in force (another reviewer's) stays its latest label:
    // only this change's reviewer's own label moves (see `reviewers`).
    let superseded: bool = tx
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM history WHERE generation_hash = ?1 AND training_hash = ?2 AND seq > ?3 AND state = 'done')",
            params![key.generation_hash, key.training_hash, seq],
            |r| r.get(0),
        )
        .map_err(err)?;
    if superseded {
        tx.execute(
            "UPDATE history SET state = ?1 WHERE seq = ?2",
            params![to, seq],
        )
        .map_err(err)?;
        let now = read_record(tx, path, &key)?;
        return Ok(Change { key, now });
    }
    match &target {
        Some(record) => {
            tx.execute(
                    &format!("INSERT OR REPLACE INTO labels ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
                    params![
                        key.generation_hash,
                        key.training_hash,
                        record.generation,
                        record.training,
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
                "DELETE FROM labels WHERE generation_hash = ?1 AND training_hash = ?2",
                params![key.generation_hash, key.training_hash],
            )
            .map_err(err)?;
        }
    }
    tx.execute(
        "UPDATE history SET state = ?1 WHERE seq = ?2",
        params![to, seq],
    )
    .map_err(err)?;
    Ok(Change { key, now: target })
}

impl ReviewStore {
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

    /// The open database, for the review module's readers (`reviewers`) and tests.
    pub(super) fn connection(&self) -> &Connection {
        &self.conn
    }
}

/// A path for an SQLite URI (`%`, `?` and `#` escaped).
fn uri_path(path: &Path) -> String {
    path.to_string_lossy()
        .replace('%', "%25")
        .replace('?', "%3f")
        .replace('#', "%23")
}

/// Writes a pair's label row (insert or replace) and returns it as stored.
#[allow(clippy::too_many_arguments)]
fn write_label(
    tx: &Connection,
    path: &Path,
    key: &PairKey,
    names: &(String, String),
    label: Option<Label>,
    note: &str,
    reviewer: &str,
    context: &PairContext,
) -> Result<LabelRecord, ReviewError> {
    let context_json = serde_json::to_string(context).map_err(|e| ReviewError::Damaged {
        path: path.to_path_buf(),
        detail: format!("the pair's context cannot be stored: {e}"),
    })?;
    tx.execute(
        &format!(
            "INSERT INTO labels ({COLUMNS})
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, {now}, ?8)
             ON CONFLICT (generation_hash, training_hash) DO UPDATE SET
             generation = excluded.generation, training = excluded.training,
             label = excluded.label, reviewer = excluded.reviewer, note = excluded.note,
             labelled_at = excluded.labelled_at, context = excluded.context",
            now = now_sql()
        ),
        params![
            key.generation_hash,
            key.training_hash,
            names.0,
            names.1,
            label.map(Label::as_str),
            reviewer,
            note,
            context_json
        ],
    )
    .map_err(|e| ReviewError::sqlite(path, e))?;
    read_record(tx, path, key)?
        .ok_or_else(|| ReviewError::sqlite(path, rusqlite::Error::QueryReturnedNoRows))
}

pub(super) fn to_json(record: Option<&LabelRecord>) -> Option<String> {
    record.and_then(|r| serde_json::to_string(r).ok())
}

/// A labels row as stored, before its label and context are checked.
pub(super) struct RawRow {
    pub key: PairKey,
    pub generation: String,
    pub training: String,
    pub label: Option<String>,
    pub reviewer: String,
    pub note: String,
    pub labelled_at: String,
    pub context: String,
}

fn raw_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawRow> {
    Ok(RawRow {
        key: PairKey {
            generation_hash: row.get(0)?,
            training_hash: row.get(1)?,
        },
        generation: row.get(2)?,
        training: row.get(3)?,
        label: row.get(4)?,
        reviewer: row.get(5)?,
        note: row.get(6)?,
        labelled_at: row.get(7)?,
        context: row.get(8)?,
    })
}

/// Checks a stored row: an unknown label or a damaged context is an error naming the row.
pub(super) fn record_from_raw(path: &Path, raw: RawRow) -> Result<LabelRecord, ReviewError> {
    let damaged = |detail: String| ReviewError::Damaged {
        path: path.to_path_buf(),
        detail: format!(
            "the label of {:?} ~ {:?} {detail}",
            raw.generation, raw.training
        ),
    };
    let label = match raw.label.as_deref() {
        None => None,
        Some(text) => Some(
            Label::parse(text)
                .filter(|l| l.as_str() == text)
                .ok_or_else(|| damaged(format!("has an unknown label value {text:?}")))?,
        ),
    };
    let context: PairContext = serde_json::from_str(&raw.context)
        .map_err(|e| damaged(format!("has a damaged context ({e})")))?;
    Ok(LabelRecord {
        key: raw.key,
        generation: raw.generation,
        training: raw.training,
        label,
        reviewer: raw.reviewer,
        note: raw.note,
        labelled_at: raw.labelled_at,
        context,
    })
}

fn read_record(
    conn: &Connection,
    path: &Path,
    key: &PairKey,
) -> Result<Option<LabelRecord>, ReviewError> {
    let raw = conn
        .query_row(
            &format!(
                "SELECT {COLUMNS} FROM labels WHERE generation_hash = ?1 AND training_hash = ?2"
            ),
            params![key.generation_hash, key.training_hash],
            raw_row,
        )
        .optional()
        .map_err(|e| ReviewError::sqlite(path, e))?;
    raw.map(|raw| record_from_raw(path, raw)).transpose()
}

#[cfg(test)]
mod tests;
