//! The embedding cache: SQLite in the project folder. Embeddings are keyed by the file's
//! content hash (blake3) and the model key, so a renamed file is not embedded again and two
//! models never share vectors. A second table remembers each path's size, modification time
//! and hash, so an unchanged file is not even read on the next scan.
//!
//! Each batch is written in one transaction: a scan killed midway loses at most the batch in
//! flight.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

use crate::catalog::ImageLocation;

/// 2 added the `images` table (pixel sizes by content hash); a version 1 cache is upgraded in
/// place (the table is added, nothing else changes).
const SCHEMA_VERSION: i64 = 2;

/// A content hash (blake3 of the file's bytes).
pub type ContentHash = [u8; 32];

/// Errors from the cache. Each names the file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The cache was written by a newer version of this program.
    #[error(
        "embedding cache {path} has schema version {found}, newer than this program's {SCHEMA_VERSION}; update Replicant, or delete the file (it is rebuilt by the next scan)"
    )]
    Newer {
        /// The database file.
        path: PathBuf,
        /// The version found.
        found: i64,
    },
    /// SQLite failed.
    #[error(
        "embedding cache {path}: {source}; if it is damaged, delete it (it is rebuilt by the next scan)"
    )]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// The error.
        source: rusqlite::Error,
    },
    /// The disk is full.
    #[error(
        "embedding cache {path}: the disk is full ({source}); free some space and scan again (what was embedded so far is kept)"
    )]
    DiskFull {
        /// The database file.
        path: PathBuf,
        /// The error.
        source: rusqlite::Error,
    },
}

impl CacheError {
    /// The error for `source` on the cache at `path`: a full disk says so.
    fn sqlite(path: &Path, source: rusqlite::Error) -> Self {
        let full = matches!(
            &source,
            rusqlite::Error::SqliteFailure(e, _) if e.code == rusqlite::ErrorCode::DiskFull
        );
        if full {
            Self::DiskFull {
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

/// What the cache knows of a path whose size and modification time are unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownFile {
    /// Its content hash.
    pub hash: ContentHash,
    /// A prompt read from the file's own metadata (PNG text chunks), if any.
    pub embedded_prompt: Option<String>,
}

/// One file's results to store.
#[derive(Debug, Clone)]
pub struct FileRecord {
    /// The file or tar member scanned.
    pub location: ImageLocation,
    /// Its size in bytes.
    pub size_bytes: u64,
    /// Its modification time.
    pub mtime_ns: i64,
    /// Its content hash.
    pub hash: ContentHash,
    /// A prompt from the file's own metadata.
    pub embedded_prompt: Option<String>,
}

/// The embedding cache of one project.
pub struct EmbeddingCache {
    conn: Connection,
    path: PathBuf,
}

fn vector_blob(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn blob_vector(blob: &[u8]) -> Vec<f32> {
    blob.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

impl EmbeddingCache {
    /// Opens (or creates) the cache at `path`.
    pub fn open(path: &Path) -> Result<Self, CacheError> {
        let err = |source| CacheError::sqlite(path, source);
        let conn = Connection::open(path).map_err(err)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             PRAGMA busy_timeout = 5000;
             CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS files (
                 path BLOB PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
                 hash BLOB NOT NULL, embedded_prompt TEXT);
             CREATE TABLE IF NOT EXISTS embeddings (
                 model_key TEXT NOT NULL, hash BLOB NOT NULL, view TEXT NOT NULL,
                 vector BLOB NOT NULL, PRIMARY KEY (model_key, hash, view)) WITHOUT ROWID;
             CREATE TABLE IF NOT EXISTS failures (
                 hash BLOB PRIMARY KEY, program_version TEXT NOT NULL, reason TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS images (
                 hash BLOB PRIMARY KEY, width INTEGER NOT NULL, height INTEGER NOT NULL,
                 notes TEXT) WITHOUT ROWID;",
        )
        .map_err(err)?;
        let has_notes = conn
            .prepare("SELECT 1 FROM pragma_table_info('images') WHERE name = 'notes'")
            .and_then(|mut stmt| stmt.exists([]))
            .map_err(err)?;
        if !has_notes {
            conn.execute_batch("ALTER TABLE images ADD COLUMN notes TEXT")
                .map_err(err)?;
        }
        let found: Option<String> = conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'schema_version'",
                [],
                |row| row.get(0),
            )
            .optional()
            .map_err(err)?;
        let found = found.and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
        if found > SCHEMA_VERSION {
            return Err(CacheError::Newer {
                path: path.to_path_buf(),
                found,
            });
        }
        conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?1)",
            params![SCHEMA_VERSION.to_string()],
        )
        .map_err(err)?;
        Ok(Self {
            conn,
            path: path.to_path_buf(),
        })
    }

    fn err(&self, source: rusqlite::Error) -> CacheError {
        CacheError::sqlite(&self.path, source)
    }

    /// The hash of the file or member at `location` if it was seen before with the same size
    /// and modification time.
    pub fn known_file(
        &self,
        location: &ImageLocation,
        size_bytes: u64,
        mtime_ns: i64,
    ) -> Result<Option<KnownFile>, CacheError> {
        self.conn
            .prepare_cached("SELECT hash, embedded_prompt FROM files WHERE path = ?1 AND size = ?2 AND mtime_ns = ?3")
            .and_then(|mut stmt| {
                stmt.query_row(params![location.cache_key(), size_bytes as i64, mtime_ns], |row| {
                    let blob: Vec<u8> = row.get(0)?;
                    Ok((blob, row.get::<_, Option<String>>(1)?))
                })
                .optional()
            })
            .map(|row| {
                row.and_then(|(blob, embedded_prompt)| {
                    let hash: ContentHash = blob.try_into().ok()?;
                    Some(KnownFile { hash, embedded_prompt })
                })
            })
            .map_err(|e| self.err(e))
    }

    /// The content hashes among `rows` (blobs of another length are not hashes and are left
    /// out).
    fn hash_set(
        &self,
        rows: impl Iterator<Item = rusqlite::Result<Vec<u8>>>,
    ) -> Result<HashSet<ContentHash>, CacheError> {
        let mut out = HashSet::new();
        for row in rows {
            if let Ok(hash) = ContentHash::try_from(row.map_err(|e| self.err(e))?) {
                out.insert(hash);
            }
        }
        Ok(out)
    }

    /// Every content hash with an embedding of `view` for `model_key`.
    pub fn embedded_hashes(
        &self,
        model_key: &crate::embed::ModelKey,
        view: &str,
    ) -> Result<HashSet<ContentHash>, CacheError> {
        let mut stmt = self
            .conn
            .prepare("SELECT hash FROM embeddings WHERE model_key = ?1 AND view = ?2")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![model_key.as_str(), view], |row| {
                row.get::<_, Vec<u8>>(0)
            })
            .map_err(|e| self.err(e))?;
        self.hash_set(rows)
    }

    /// Every content hash with at least `count` embeddings whose view starts with `prefix`
    /// (the regions of a generation) for `model_key`.
    pub fn hashes_with_views(
        &self,
        model_key: &crate::embed::ModelKey,
        prefix: &str,
        count: usize,
    ) -> Result<HashSet<ContentHash>, CacheError> {
        let mut stmt = self
            .conn
            .prepare("SELECT hash FROM embeddings WHERE model_key = ?1 AND substr(view, 1, length(?2)) = ?2 GROUP BY hash HAVING count(*) >= ?3")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![model_key.as_str(), prefix, count as i64], |row| {
                row.get::<_, Vec<u8>>(0)
            })
            .map_err(|e| self.err(e))?;
        self.hash_set(rows)
    }

    /// Every view's embedding of the content `hash` for `model_key` (the whole image's view is
    /// named "").
    pub fn views(
        &self,
        model_key: &crate::embed::ModelKey,
        hash: &ContentHash,
    ) -> Result<Vec<(String, Vec<f32>)>, CacheError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT view, vector FROM embeddings WHERE model_key = ?1 AND hash = ?2 ORDER BY view")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![model_key.as_str(), hash.as_slice()], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, Vec<u8>>(1)?))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (view, blob) = row.map_err(|e| self.err(e))?;
            out.push((view, blob_vector(&blob)));
        }
        Ok(out)
    }

    /// Decode failures recorded by this decoder revision, by content hash.
    pub fn failures(&self) -> Result<HashMap<ContentHash, String>, CacheError> {
        let mut stmt = self
            .conn
            .prepare("SELECT hash, reason FROM failures WHERE program_version = ?1")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![crate::decode::DECODER_REVISION], |row| {
                Ok((row.get::<_, Vec<u8>>(0)?, row.get::<_, String>(1)?))
            })
            .map_err(|e| self.err(e))?;
        let mut out = HashMap::new();
        for row in rows {
            let (blob, reason) = row.map_err(|e| self.err(e))?;
            if let Ok(hash) = ContentHash::try_from(blob) {
                out.insert(hash, reason);
            }
        }
        Ok(out)
    }

    /// The embedding of `view` of the content `hash` for `model_key`.
    pub fn vector(
        &self,
        model_key: &crate::embed::ModelKey,
        hash: &ContentHash,
        view: &str,
    ) -> Result<Option<Vec<f32>>, CacheError> {
        self.conn
            .prepare_cached(
                "SELECT vector FROM embeddings WHERE model_key = ?1 AND hash = ?2 AND view = ?3",
            )
            .and_then(|mut stmt| {
                stmt.query_row(params![model_key.as_str(), hash.as_slice(), view], |row| {
                    row.get::<_, Vec<u8>>(0)
                })
                .optional()
            })
            .map(|blob| blob.map(|b| blob_vector(&b)))
            .map_err(|e| self.err(e))
    }

    /// The pixel size of the content `hash`, when an embedding run recorded it.
    pub fn dimensions(&self, hash: &ContentHash) -> Result<Option<(u32, u32)>, CacheError> {
        self.conn
            .prepare_cached("SELECT width, height FROM images WHERE hash = ?1")
            .and_then(|mut stmt| {
                stmt.query_row(params![hash.as_slice()], |row| {
                    Ok((row.get::<_, u32>(0)?, row.get::<_, u32>(1)?))
                })
                .optional()
            })
            .map_err(|e| self.err(e))
    }

    /// What was noted about the content `hash` when it was embedded (a partial decode, a cut
    /// prompt).
    pub fn notes(&self, hash: &ContentHash) -> Result<Vec<String>, CacheError> {
        let text: Option<Option<String>> = self
            .conn
            .prepare_cached("SELECT notes FROM images WHERE hash = ?1")
            .and_then(|mut stmt| {
                stmt.query_row(params![hash.as_slice()], |row| row.get(0))
                    .optional()
            })
            .map_err(|e| self.err(e))?;
        Ok(text
            .flatten()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default())
    }

    /// Every content hash whose pixel size is recorded.
    pub fn hashes_with_dimensions(&self) -> Result<HashSet<ContentHash>, CacheError> {
        let mut stmt = self
            .conn
            .prepare("SELECT hash FROM images")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |row| row.get::<_, Vec<u8>>(0))
            .map_err(|e| self.err(e))?;
        self.hash_set(rows)
    }

    /// Stores file records, embeddings (`(hash, view, vector)`), pixel sizes and decode
    /// failures in one transaction.
    pub fn write(
        &mut self,
        model_key: &crate::embed::ModelKey,
        files: &[FileRecord],
        embeddings: &[(ContentHash, String, Vec<f32>)],
        failures: &[(ContentHash, String)],
    ) -> Result<(), CacheError> {
        self.write_with_sizes(model_key, files, embeddings, &[], failures)
    }

    /// [`Self::write`], with the pixel sizes of embedded images and what was noted about them.
    pub fn write_with_sizes(
        &mut self,
        model_key: &crate::embed::ModelKey,
        files: &[FileRecord],
        embeddings: &[(ContentHash, String, Vec<f32>)],
        sizes: &[(ContentHash, (u32, u32), Vec<String>)],
        failures: &[(ContentHash, String)],
    ) -> Result<(), CacheError> {
        if files.is_empty() && embeddings.is_empty() && failures.is_empty() && sizes.is_empty() {
            return Ok(());
        }
        let path = self.path.clone();
        let err = |source| CacheError::sqlite(&path, source);
        let tx = self.conn.transaction().map_err(err)?;
        {
            let mut put_file = tx
                .prepare_cached("INSERT OR REPLACE INTO files (path, size, mtime_ns, hash, embedded_prompt) VALUES (?1, ?2, ?3, ?4, ?5)")
                .map_err(err)?;
            for file in files {
                put_file
                    .execute(params![
                        file.location.cache_key(),
                        file.size_bytes as i64,
                        file.mtime_ns,
                        file.hash.as_slice(),
                        file.embedded_prompt
                    ])
                    .map_err(err)?;
            }
            let mut put_vector = tx
                .prepare_cached("INSERT OR REPLACE INTO embeddings (model_key, hash, view, vector) VALUES (?1, ?2, ?3, ?4)")
                .map_err(err)?;
            for (hash, view, vector) in embeddings {
                put_vector
                    .execute(params![
                        model_key.as_str(),
                        hash.as_slice(),
                        view,
                        vector_blob(vector)
                    ])
                    .map_err(err)?;
            }
            let mut put_size = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO images (hash, width, height, notes) VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(err)?;
            for (hash, (width, height), notes) in sizes {
                let notes =
                    (!notes.is_empty()).then(|| serde_json::to_string(notes).unwrap_or_default());
                put_size
                    .execute(params![hash.as_slice(), width, height, notes])
                    .map_err(err)?;
            }
            let mut put_failure = tx
                .prepare_cached("INSERT OR REPLACE INTO failures (hash, program_version, reason) VALUES (?1, ?2, ?3)")
                .map_err(err)?;
            for (hash, reason) in failures {
                put_failure
                    .execute(params![
                        hash.as_slice(),
                        crate::decode::DECODER_REVISION,
                        reason
                    ])
                    .map_err(err)?;
            }
        }
        tx.commit().map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: "if it is damaged, delete it" was shown for a full disk too.
    #[test]
    fn a_full_disk_is_named_as_such() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cache = EmbeddingCache::open(&dir.path().join("cache.sqlite")).expect("open");
        let pages: i64 = cache
            .conn
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .expect("pages");
        cache
            .conn
            .execute_batch(&format!("PRAGMA max_page_count = {pages}"))
            .expect("cap");
        let vectors: Vec<(ContentHash, String, Vec<f32>)> = (0..64u8)
            .map(|i| ([i; 32], String::new(), vec![0.5; 512]))
            .collect();
        let err = cache
            .write(&"m".into(), &[], &vectors, &[])
            .expect_err("full");
        assert!(matches!(err, CacheError::DiskFull { .. }), "{err}");
        assert!(err.to_string().contains("disk is full"), "{err}");
        assert!(!err.to_string().contains("delete it"), "{err}");
    }

    #[test]
    fn stores_and_finds_embeddings_by_hash_and_model() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cache = EmbeddingCache::open(&dir.path().join("cache.sqlite")).expect("open");
        let hash = [7u8; 32];
        let file = FileRecord {
            location: ImageLocation::File("/x/a.png".into()),
            size_bytes: 10,
            mtime_ns: 99,
            hash,
            embedded_prompt: Some("p".into()),
        };
        cache
            .write(
                &"m1".into(),
                &[file],
                &[(hash, String::new(), vec![0.6, 0.8])],
                &[([9u8; 32], "bad".into())],
            )
            .expect("write");
        assert_eq!(
            cache.vector(&"m1".into(), &hash, "").expect("read"),
            Some(vec![0.6, 0.8])
        );
        assert_eq!(cache.vector(&"m2".into(), &hash, "").expect("read"), None);
        assert!(
            cache
                .embedded_hashes(&"m1".into(), "")
                .expect("hashes")
                .contains(&hash)
        );
        let known = cache
            .known_file(&ImageLocation::File("/x/a.png".into()), 10, 99)
            .expect("known")
            .expect("some");
        assert_eq!(known.hash, hash);
        assert_eq!(known.embedded_prompt.as_deref(), Some("p"));
        assert_eq!(
            cache
                .known_file(&ImageLocation::File("/x/a.png".into()), 11, 99)
                .expect("known"),
            None
        );
        assert_eq!(
            cache
                .failures()
                .expect("failures")
                .get(&[9u8; 32])
                .map(String::as_str),
            Some("bad")
        );
    }
}
