//! Upgrading a version 1 store (labels keyed by the names of the two images) to version 2
//! (keyed by their content hashes). The old tables are kept, renamed, so nothing is lost; a
//! pair whose images cannot be found any more keeps its label under an `unresolved:` key, and
//! the report lists it.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::{Connection, params};

use super::schema::{CREATE_V2, SCHEMA_VERSION};
use super::{PairContext, PairKey, ReviewError};

/// Finds the content hashes of a pair that an older store knew only by its names.
pub trait KeyResolver {
    /// The pair's key, from its names and what was stored with its label; `None` when its
    /// images cannot be found.
    fn resolve(&self, generation: &str, training: &str, context: &PairContext) -> Option<PairKey>;

    /// Whether this resolver can resolve anything (a store is not migrated without one).
    fn is_available(&self) -> bool {
        true
    }
}

/// The resolver of callers without a project: migration is refused.
pub(super) struct NoResolver;

impl KeyResolver for NoResolver {
    fn resolve(&self, _: &str, _: &str, _: &PairContext) -> Option<PairKey> {
        None
    }
    fn is_available(&self) -> bool {
        false
    }
}

/// What a migration did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MigrationReport {
    /// Labels moved to content keys.
    pub migrated: usize,
    /// Pairs (generation, training) whose images could not be found: kept under an
    /// `unresolved:` key, exported under their names, but attached to no pair on the desk.
    pub unresolved: Vec<(String, String)>,
}

type V1Label = (
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    String,
);
type V1History = (
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    String,
    String,
);

fn unresolved_key(generation: &str, training: &str) -> PairKey {
    PairKey::new(
        &format!("unresolved:{generation}"),
        &format!("unresolved:{training}"),
    )
}

/// A version 1 history record (`{"key": {"generation", "training"}, ...}`) in version 2's
/// form (names beside the content key).
fn convert_record(text: Option<String>, key: &PairKey) -> Option<String> {
    let mut value: serde_json::Value = serde_json::from_str(&text?).ok()?;
    let object = value.as_object_mut()?;
    let old_key = object.remove("key")?;
    object.insert("generation".into(), old_key.get("generation")?.clone());
    object.insert("training".into(), old_key.get("training")?.clone());
    object.insert("key".into(), serde_json::to_value(key).ok()?);
    serde_json::to_string(&value).ok()
}

/// Migrates the version 1 store open on `conn` in one transaction.
///
/// Over 100 lines on purpose: one migration in one transaction, statement after statement in the
/// order the schema changes; split, the transaction's boundary would be harder to see.
pub(super) fn v1_to_v2(
    conn: &mut Connection,
    path: &Path,
    resolver: &dyn KeyResolver,
) -> Result<MigrationReport, ReviewError> {
    if !resolver.is_available() {
        return Err(ReviewError::NeedsUpgrade {
            path: path.to_path_buf(),
        });
    }
    let err = |source| ReviewError::sqlite(path, source);
    let tx = conn.transaction().map_err(err)?;
    let labels: Vec<V1Label> = tx
        .prepare(
            "SELECT generation, training, label, reviewer, note, labelled_at, context FROM labels",
        )
        .and_then(|mut stmt| {
            stmt.query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            })?
            .collect()
        })
        .map_err(err)?;
    let history: Vec<V1History> = tx
        .prepare("SELECT seq, generation, training, before, after, reviewer, at, state FROM history ORDER BY seq")
        .and_then(|mut stmt| {
            stmt.query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                ))
            })?
            .collect()
        })
        .map_err(err)?;
    tx.execute_batch(
        "ALTER TABLE labels RENAME TO labels_v1;
         ALTER TABLE history RENAME TO history_v1;",
    )
    .map_err(err)?;
    tx.execute_batch(CREATE_V2).map_err(err)?;

    let mut report = MigrationReport::default();
    let mut keys: HashMap<(String, String), PairKey> = HashMap::new();
    for (generation, training, label, reviewer, note, labelled_at, context) in labels {
        let parsed: PairContext = serde_json::from_str(&context).unwrap_or_default();
        let key = match resolver.resolve(&generation, &training, &parsed) {
            Some(key) => {
                report.migrated += 1;
                key
            }
            None => {
                report
                    .unresolved
                    .push((generation.clone(), training.clone()));
                unresolved_key(&generation, &training)
            }
        };
        tx.execute(
            "INSERT OR REPLACE INTO labels (generation_hash, training_hash, generation, training, label, reviewer, note, labelled_at, context) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![key.generation_hash, key.training_hash, generation, training, label, reviewer, note, labelled_at, context],
        )
        .map_err(err)?;
        keys.insert((generation, training), key);
    }
    for (seq, generation, training, before, after, reviewer, at, state) in history {
        let key = keys
            .entry((generation.clone(), training.clone()))
            .or_insert_with(|| {
                let context = after
                    .as_deref()
                    .or(before.as_deref())
                    .and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok())
                    .and_then(|v| serde_json::from_value(v.get("context")?.clone()).ok())
                    .unwrap_or_default();
                resolver
                    .resolve(&generation, &training, &context)
                    .unwrap_or_else(|| unresolved_key(&generation, &training))
            })
            .clone();
        tx.execute(
            "INSERT INTO history (seq, generation_hash, training_hash, before, after, reviewer, at, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                seq,
                key.generation_hash,
                key.training_hash,
                convert_record(before, &key),
                convert_record(after, &key),
                reviewer,
                at,
                state
            ],
        )
        .map_err(err)?;
    }
    tx.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?1)",
        params![SCHEMA_VERSION.to_string()],
    )
    .map_err(err)?;
    tx.commit().map_err(err)?;
    tracing::info!(
        migrated = report.migrated,
        unresolved = report.unresolved.len(),
        "review store {} upgraded to content keys",
        path.display()
    );
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::review::{Label, ReviewStore};

    /// Resolves names to made-up hashes, except the one it cannot find.
    struct Names;

    impl KeyResolver for Names {
        fn resolve(&self, generation: &str, training: &str, _: &PairContext) -> Option<PairKey> {
            (generation != "lost.png")
                .then(|| PairKey::new(&format!("h-{generation}"), &format!("h-{training}")))
        }
    }

    /// Writes a store as version 1 wrote it: labels and history keyed by names.
    fn v1_store(path: &Path) {
        let conn = Connection::open(path).expect("open");
        conn.execute_batch(
            r#"CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             INSERT INTO meta VALUES ('schema_version', '1');
             CREATE TABLE labels (
                 generation TEXT NOT NULL, training TEXT NOT NULL, label TEXT,
                 reviewer TEXT NOT NULL, note TEXT NOT NULL, labelled_at TEXT NOT NULL,
                 context TEXT NOT NULL, PRIMARY KEY (generation, training));
             CREATE TABLE history (
                 seq INTEGER PRIMARY KEY AUTOINCREMENT, generation TEXT NOT NULL,
                 training TEXT NOT NULL, before TEXT, after TEXT, reviewer TEXT NOT NULL,
                 at TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'done');
             INSERT INTO labels VALUES ('g.png', 't.png', 'near_copy', 'ann', 'a note', '2026-01-01T00:00:00Z', '{"rank":1,"similarity":0.8,"model_key":"m","prompt":null,"training_caption":null,"generation_path":"/g/g.png","training_path":"/t/t.png"}');
             INSERT INTO labels VALUES ('lost.png', 't.png', 'distinct', 'ann', '', '2026-01-01T00:00:01Z', '{"rank":2,"similarity":0.3,"model_key":"m","prompt":null,"training_caption":null,"generation_path":null,"training_path":null}');
             INSERT INTO history (generation, training, before, after, reviewer, at) VALUES ('g.png', 't.png', NULL, '{"key":{"generation":"g.png","training":"t.png"},"label":"full_copy","reviewer":"ann","note":"","labelled_at":"2026-01-01T00:00:00Z","context":{"rank":1,"similarity":0.8,"model_key":"m","prompt":null,"training_caption":null,"generation_path":"/g/g.png","training_path":"/t/t.png"}}', 'ann', '2026-01-01T00:00:00Z');
             INSERT INTO history (generation, training, before, after, reviewer, at) VALUES ('g.png', 't.png', '{"key":{"generation":"g.png","training":"t.png"},"label":"full_copy","reviewer":"ann","note":"","labelled_at":"2026-01-01T00:00:00Z","context":{"rank":1,"similarity":0.8,"model_key":"m","prompt":null,"training_caption":null,"generation_path":"/g/g.png","training_path":"/t/t.png"}}', '{"key":{"generation":"g.png","training":"t.png"},"label":"near_copy","reviewer":"ann","note":"a note","labelled_at":"2026-01-01T00:00:00Z","context":{"rank":1,"similarity":0.8,"model_key":"m","prompt":null,"training_caption":null,"generation_path":"/g/g.png","training_path":"/t/t.png"}}', 'ann', '2026-01-01T00:00:00Z');"#,
        )
        .expect("v1 schema");
    }

    #[test]
    fn a_version_1_store_moves_to_content_keys_and_undo_still_works() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("review.sqlite");
        v1_store(&path);
        assert!(matches!(
            ReviewStore::open(&path),
            Err(ReviewError::NeedsUpgrade { .. })
        ));
        assert!(matches!(
            ReviewStore::open_read_only(&path),
            Err(ReviewError::NeedsUpgrade { .. })
        ));
        let (mut store, report) = ReviewStore::open_migrating(&path, &Names).expect("migrate");
        let report = report.expect("migrated");
        assert_eq!(report.migrated, 1);
        assert_eq!(
            report.unresolved,
            [("lost.png".to_string(), "t.png".to_string())]
        );
        let key = PairKey::new("h-g.png", "h-t.png");
        let record = store.get(&key).expect("get").expect("migrated label");
        assert_eq!(record.label, Some(Label::NearCopy));
        assert_eq!(record.note, "a note");
        assert_eq!(record.generation, "g.png");
        let all = store.all().expect("all");
        assert_eq!(all.len(), 2, "the unresolved label is kept");
        // Undo goes back through the converted history.
        let change = store.undo().expect("undo").remove(0);
        assert_eq!(change.key, key);
        assert_eq!(change.now.and_then(|r| r.label), Some(Label::FullCopy));
        // The old tables are kept.
        let old: i64 = store
            .connection()
            .query_row("SELECT count(*) FROM labels_v1", [], |r| r.get(0))
            .expect("old table");
        assert_eq!(old, 2);
        // Opening again does not migrate twice.
        drop(store);
        let (_, again) = ReviewStore::open_migrating(&path, &Names).expect("reopen");
        assert!(again.is_none());
    }
}
