//! The label store's schema: its version and the tables of that version, below both the
//! store and the migration from version 1, which each need them.

/// 2 keyed labels by the content hashes of both images (1 keyed them by names). A version 1
/// store is migrated when opened with a [`super::KeyResolver`].
pub const SCHEMA_VERSION: i64 = 2;

/// The tables of version 2.
pub(super) const CREATE_V2: &str = "
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS labels (
        generation_hash TEXT NOT NULL, training_hash TEXT NOT NULL,
        generation TEXT NOT NULL, training TEXT NOT NULL, label TEXT,
        reviewer TEXT NOT NULL, note TEXT NOT NULL, labelled_at TEXT NOT NULL,
        context TEXT NOT NULL, PRIMARY KEY (generation_hash, training_hash));
    CREATE TABLE IF NOT EXISTS history (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, generation_hash TEXT NOT NULL,
        training_hash TEXT NOT NULL, before TEXT, after TEXT, reviewer TEXT NOT NULL,
        at TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'done', batch INTEGER);";
