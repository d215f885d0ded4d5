//! A training index built once (`replicant index build`) and shared by many projects: a
//! folder holding the vector index, its manifest, and the rows (one per training image, in
//! key order) with what the scan and the desk need of each image: its name, where its bytes
//! are, its content hash, size, caption and layout signature.
//!
//! ```text
//! INDEX/manifest.json   model key, dims, dtype, sources, parts, build parameters, checksums
//! INDEX/index.usearch   the vectors (key = row number)
//! INDEX/rows.sqlite     the rows, looked up by key (a 12-million-row index is not read whole)
//! ```

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use super::{Dtype, IndexError, IndexStore, TrainingIndex};
use crate::catalog::{ImageLocation, ShardSample, TarMember};

/// The manifest's file name.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The vector index's file name.
pub const INDEX_FILE: &str = "index.usearch";
/// The rows' file name.
pub const ROWS_FILE: &str = "rows.sqlite";
/// The manifest format this program writes and reads (2 added the manifest's own checksum,
/// the model's probe embedding, and the parts' account of skipped files and shards).
pub const FORMAT_VERSION: u32 = 2;

/// A file and how to recognise it: its size, its blake3 hash, and a hash of samples of it
/// (64 blocks of 64 KiB spread over the file) that checks a large file in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileCheck {
    /// Its size in bytes.
    pub bytes: u64,
    /// Its blake3 hash (hex).
    pub blake3: String,
    /// blake3 of its size and sampled blocks (hex).
    #[serde(default)]
    pub sampled: String,
}

/// Files up to this size are hashed whole by [`FileCheck::quick_check`] (about a second of
/// reading here); larger ones are checked by samples.
pub const FULL_CHECK_MAX_BYTES: u64 = 256 * 1024 * 1024;

const SAMPLES: u64 = 64;
const SAMPLE_BYTES: u64 = 64 * 1024;

fn sampled_hash(path: &Path, bytes: u64) -> std::io::Result<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path)?;
    let mut hasher = blake3::Hasher::new();
    hasher.update(&bytes.to_le_bytes());
    let mut block = vec![0u8; SAMPLE_BYTES as usize];
    for i in 0..SAMPLES {
        let offset = (bytes.saturating_sub(SAMPLE_BYTES)) * i / (SAMPLES - 1);
        file.seek(SeekFrom::Start(offset))?;
        let n = (&mut file).take(SAMPLE_BYTES).read(&mut block)?;
        hasher.update(&block[..n]);
    }
    Ok(hasher.finalize().to_hex().to_string())
}

impl FileCheck {
    /// Reads `path` and records its size, hash and sampled hash.
    pub fn of(path: &Path) -> std::io::Result<Self> {
        let mut hasher = blake3::Hasher::new();
        hasher.update_mmap_rayon(path)?;
        let bytes = std::fs::metadata(path)?.len();
        Ok(Self {
            bytes,
            blake3: hasher.finalize().to_hex().to_string(),
            sampled: sampled_hash(path, bytes)?,
        })
    }

    /// Whether `path` still matches, reading it whole when it is at most
    /// [`FULL_CHECK_MAX_BYTES`] and by samples beyond (a flipped byte outside the samples is
    /// caught by a full check: `replicant index verify`).
    pub fn quick_check(&self, path: &Path) -> std::io::Result<bool> {
        let bytes = std::fs::metadata(path)?.len();
        if bytes != self.bytes {
            return Ok(false);
        }
        if bytes <= FULL_CHECK_MAX_BYTES || self.sampled.is_empty() {
            return Ok(Self::of(path)?.blake3 == self.blake3);
        }
        Ok(sampled_hash(path, bytes)? == self.sampled)
    }
}

/// A part of embeddings the index was built from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PartRef {
    /// The part's `.npy` file.
    #[serde(with = "crate::fsutil::serde_path")]
    pub file: PathBuf,
    /// Its rows.
    pub rows: u64,
}

/// How the index was built.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BuildInfo {
    /// Whether searches are exhaustive (below 20,000 rows) or approximate (HNSW).
    pub exact: bool,
    /// HNSW connectivity (usearch's default when 0).
    pub connectivity: usize,
    /// HNSW expansion while adding (usearch's default when 0).
    pub expansion_add: usize,
    /// HNSW expansion while searching.
    pub expansion_search: usize,
    /// Threads that added vectors.
    pub threads: usize,
    /// Seconds the build took.
    pub seconds: f64,
}

/// What a training index holds and how it was made.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    /// The manifest format.
    pub format: u32,
    /// The model and preprocessing the embeddings were made with.
    pub model_key: crate::embed::ModelKey,
    /// Vector length.
    pub dims: usize,
    /// Storage type of the vectors in the index.
    pub dtype: Dtype,
    /// Rows (training images), keys `0..rows`.
    pub rows: u64,
    /// The training sources, as given to `embed` (absolute).
    #[serde(with = "crate::fsutil::serde_path::vec")]
    pub sources: Vec<PathBuf>,
    /// The parts merged, in key order.
    pub parts: Vec<PartRef>,
    /// Build parameters.
    pub build: BuildInfo,
    /// The vector index file.
    pub index_file: FileCheck,
    /// The rows file.
    pub rows_file: FileCheck,
    /// The program that built it.
    pub replicant_version: String,
    /// When, as RFC 3339 UTC.
    pub created_at: String,
    /// The model's embedding of the probe image ([`crate::embed::probe`]), from the
    /// workers: a scan checks its own model against it before trusting `model_key`.
    #[serde(default)]
    pub model_probe: Vec<f32>,
    /// Training images the workers could not use, with reasons.
    #[serde(default)]
    pub skipped: Vec<crate::catalog::SkippedFile>,
    /// Shards that ended early or could not be read at all (empty, compressed).
    #[serde(default)]
    pub truncated_shards: Vec<crate::catalog::TruncatedShard>,
    /// What the workers noted (repeated member names, names that are not text).
    #[serde(default)]
    pub notes: Vec<crate::catalog::SkippedFile>,
    /// blake3 (hex) of this manifest as JSON with this field empty: an edit to any field
    /// (the model key, say) is found, not trusted.
    #[serde(default)]
    pub manifest_blake3: String,
}

impl Manifest {
    /// The checksum [`Manifest::manifest_blake3`] holds for this content.
    pub fn content_hash(&self) -> String {
        let mut bare = self.clone();
        bare.manifest_blake3 = String::new();
        let bytes = serde_json::to_vec(&bare).unwrap_or_default();
        blake3::hash(&bytes).to_hex().to_string()
    }

    /// This manifest with its checksum set.
    pub fn sealed(mut self) -> Self {
        self.manifest_blake3 = self.content_hash();
        self
    }
}

/// One training image of the index.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingRow {
    /// Its name in results (`SHARD.tar/MEMBER` or a relative path; prefixed by the source's
    /// folder name when the index has several sources).
    pub name: String,
    /// Where its bytes are.
    pub location: ImageLocation,
    /// Its content hash (blake3 of the file or member bytes).
    pub blake3: [u8; 32],
    /// Its size in pixels.
    pub width: u32,
    /// Its size in pixels.
    pub height: u32,
    /// Its caption, if any.
    pub caption: Option<String>,
    /// For a shard member, img2dataset's `key` and `url`.
    pub sample: Option<ShardSample>,
    /// Its 32x32 luminance thumbnail (see [`crate::ranking::layout`]), if recorded.
    pub luma: Option<Vec<u8>>,
}

fn prebuilt_err(dir: &Path, detail: impl Into<String>) -> IndexError {
    IndexError::Prebuilt {
        path: dir.display().to_string(),
        detail: detail.into(),
    }
}

/// Writes the rows of a new index, in key order, in one transaction.
pub struct RowWriter {
    conn: Connection,
    path: PathBuf,
    next_key: u64,
}

impl RowWriter {
    /// Creates `rows.sqlite` in `dir` (which must be new).
    pub fn create(dir: &Path) -> Result<Self, IndexError> {
        let path = dir.join(ROWS_FILE);
        let err = |e: rusqlite::Error| prebuilt_err(dir, format!("cannot write {ROWS_FILE}: {e}"));
        let conn = Connection::open(&path).map_err(err)?;
        conn.execute_batch(
            "PRAGMA journal_mode = OFF;
             PRAGMA synchronous = OFF;
             CREATE TABLE rows (
                 key INTEGER PRIMARY KEY, name TEXT NOT NULL, location TEXT NOT NULL,
                 blake3 BLOB NOT NULL, width INTEGER NOT NULL, height INTEGER NOT NULL,
                 caption TEXT, luma BLOB, sample_key TEXT, url TEXT);
             BEGIN;",
        )
        .map_err(err)?;
        Ok(Self {
            conn,
            path,
            next_key: 0,
        })
    }

    /// Appends a row; returns its key.
    pub fn push(&mut self, row: &TrainingRow) -> Result<u64, IndexError> {
        let location = serde_json::to_string(&row.location)
            .map_err(|e| prebuilt_err(&self.path, e.to_string()))?;
        let key = self.next_key;
        self.conn
            .prepare_cached("INSERT INTO rows (key, name, location, blake3, width, height, caption, luma, sample_key, url) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")
            .and_then(|mut stmt| {
                stmt.execute(params![
                    key as i64,
                    row.name,
                    location,
                    row.blake3.as_slice(),
                    row.width,
                    row.height,
                    row.caption,
                    row.luma,
                    row.sample.as_ref().map(|s| s.key.as_str()),
                    row.sample.as_ref().and_then(|s| s.url.as_deref())
                ])
            })
            .map_err(|e| prebuilt_err(&self.path, e.to_string()))?;
        self.next_key += 1;
        Ok(key)
    }

    /// Commits and closes the file.
    pub fn finish(self) -> Result<u64, IndexError> {
        self.conn
            .execute_batch("COMMIT;")
            .map_err(|e| prebuilt_err(&self.path, e.to_string()))?;
        Ok(self.next_key)
    }
}

/// The rows of an opened index (read-only lookups by key).
pub struct RowStore {
    conn: Connection,
    path: PathBuf,
    /// The row query: indexes built before samples' keys were kept lack those columns, and
    /// read them as absent.
    select: &'static str,
}

impl RowStore {
    /// Opens `rows.sqlite` in `dir`, read-only.
    pub fn open(dir: &Path) -> Result<Self, IndexError> {
        let path = dir.join(ROWS_FILE);
        if !path.is_file() {
            return Err(prebuilt_err(
                dir,
                format!(
                    "{ROWS_FILE} is missing; build the index again with `replicant index build`"
                ),
            ));
        }
        let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| prebuilt_err(dir, format!("cannot open {ROWS_FILE}: {e}")))?;
        let has_samples = conn
            .prepare("SELECT 1 FROM pragma_table_info('rows') WHERE name = 'sample_key'")
            .and_then(|mut stmt| stmt.exists([]))
            .map_err(|e| prebuilt_err(dir, format!("cannot read {ROWS_FILE}: {e}")))?;
        let select = if has_samples {
            "SELECT name, location, blake3, width, height, caption, luma, sample_key, url FROM rows WHERE key = ?1"
        } else {
            "SELECT name, location, blake3, width, height, caption, luma, NULL, NULL FROM rows WHERE key = ?1"
        };
        Ok(Self { conn, path, select })
    }

    /// The keys of the rows with a caption, in key order, and how many rows there are.
    pub fn captioned_keys(&self) -> Result<(Vec<u64>, usize), IndexError> {
        let err = |e: rusqlite::Error| prebuilt_err(&self.path, e.to_string());
        let total: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM rows", [], |row| row.get(0))
            .map_err(err)?;
        let mut stmt = self
            .conn
            .prepare("SELECT key FROM rows WHERE trim(coalesce(caption, '')) != '' ORDER BY key")
            .map_err(err)?;
        let keys = stmt
            .query_map([], |row| row.get::<_, i64>(0))
            .map_err(err)?
            .map(|key| key.map(|k| k as u64))
            .collect::<Result<Vec<u64>, _>>()
            .map_err(err)?;
        Ok((keys, usize::try_from(total).unwrap_or(0)))
    }

    /// The row with `key`, if there is one.
    pub fn row(&self, key: u64) -> Result<Option<TrainingRow>, IndexError> {
        let err = |e: String| prebuilt_err(&self.path, e);
        let found = self
            .conn
            .prepare_cached(self.select)
            .and_then(|mut stmt| {
                stmt.query_row(params![key as i64], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, Vec<u8>>(2)?,
                        row.get::<_, u32>(3)?,
                        row.get::<_, u32>(4)?,
                        row.get::<_, Option<String>>(5)?,
                        row.get::<_, Option<Vec<u8>>>(6)?,
                        row.get::<_, Option<String>>(7)?,
                        row.get::<_, Option<String>>(8)?,
                    ))
                })
                .optional()
            })
            .map_err(|e| err(e.to_string()))?;
        let Some((name, location, blake3, width, height, caption, luma, sample_key, url)) = found
        else {
            return Ok(None);
        };
        let location: ImageLocation = serde_json::from_str(&location)
            .map_err(|e| err(format!("row {key} has a damaged location: {e}")))?;
        let blake3: [u8; 32] = blake3
            .try_into()
            .map_err(|_| err(format!("row {key} has a damaged hash")))?;
        Ok(Some(TrainingRow {
            name,
            location,
            blake3,
            width,
            height,
            caption,
            sample: sample_key.map(|key| ShardSample { key, url }),
            luma,
        }))
    }
}

/// A training index opened for searching: the manifest, the vectors as a memory-mapped view,
/// and the rows.
pub struct PrebuiltIndex {
    /// The index folder.
    pub dir: PathBuf,
    /// What it holds.
    pub manifest: Manifest,
    /// The vectors.
    pub index: Box<dyn TrainingIndex>,
    /// The rows.
    pub rows: RowStore,
}

/// Reads the manifest of the index in `dir`.
pub fn read_manifest(dir: &Path) -> Result<Manifest, IndexError> {
    let path = dir.join(MANIFEST_FILE);
    let bytes = std::fs::read(&path).map_err(|e| {
        prebuilt_err(
            dir,
            format!(
                "cannot read {MANIFEST_FILE} ({e}); give a folder made by `replicant index build`"
            ),
        )
    })?;
    let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| {
        prebuilt_err(
            dir,
            format!("{MANIFEST_FILE} is damaged ({e}); build the index again"),
        )
    })?;
    if manifest.format != FORMAT_VERSION {
        return Err(prebuilt_err(
            dir,
            format!(
                "it has format {}, this program reads format {FORMAT_VERSION}; build it again with this version",
                manifest.format
            ),
        ));
    }
    if manifest.manifest_blake3 != manifest.content_hash() {
        return Err(prebuilt_err(
            dir,
            format!(
                "{MANIFEST_FILE} does not match its own checksum: it was edited or damaged after the build, so what it says (the model, the sources) cannot be trusted; build the index again with `replicant index build`"
            ),
        ));
    }
    Ok(manifest)
}

/// Checks the index file against the hash its manifest recorded.
pub fn verify_index_file(dir: &Path, manifest: &Manifest) -> Result<(), IndexError> {
    let path = dir.join(INDEX_FILE);
    let found = FileCheck::of(&path)
        .map_err(|e| prebuilt_err(dir, format!("cannot read {INDEX_FILE}: {e}")))?;
    if found != manifest.index_file {
        return Err(prebuilt_err(
            dir,
            format!(
                "{INDEX_FILE} does not match its manifest (recorded {} bytes, blake3 {}; found {} bytes, blake3 {}): it is damaged or was replaced; build the index again with `replicant index build`",
                manifest.index_file.bytes,
                &manifest.index_file.blake3[..16.min(manifest.index_file.blake3.len())],
                found.bytes,
                &found.blake3[..16],
            ),
        ));
    }
    Ok(())
}

impl PrebuiltIndex {
    /// Opens the index in `dir` as a memory-mapped view, after checking the index file
    /// against its manifest ([`FileCheck::quick_check`]: whole up to 256 MiB, by samples
    /// beyond).
    pub fn open(dir: &Path, store: &dyn IndexStore) -> Result<Self, IndexError> {
        let manifest = read_manifest(dir)?;
        let index_path = dir.join(INDEX_FILE);
        let bytes = std::fs::metadata(&index_path)
            .map_err(|e| prebuilt_err(dir, format!("cannot read {INDEX_FILE}: {e}")))?
            .len();
        if bytes != manifest.index_file.bytes {
            return Err(prebuilt_err(
                dir,
                format!(
                    "{INDEX_FILE} is {bytes} bytes, its manifest says {}: it is damaged or was replaced; build the index again",
                    manifest.index_file.bytes
                ),
            ));
        }
        let intact = manifest
            .index_file
            .quick_check(&index_path)
            .map_err(|e| prebuilt_err(dir, format!("cannot read {INDEX_FILE}: {e}")))?;
        if !intact {
            return Err(prebuilt_err(
                dir,
                format!(
                    "{INDEX_FILE} does not match its manifest's checksum: it is damaged or was replaced; check it with `replicant index verify`, then build the index again with `replicant index build`"
                ),
            ));
        }
        let index = store.view(&index_path)?;
        if index.len() as u64 != manifest.rows || index.dims() != manifest.dims {
            return Err(prebuilt_err(
                dir,
                format!(
                    "{INDEX_FILE} holds {} vectors of {} dimensions, its manifest says {} of {}; build the index again",
                    index.len(),
                    index.dims(),
                    manifest.rows,
                    manifest.dims
                ),
            ));
        }
        let rows = RowStore::open(dir)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            manifest,
            index,
            rows,
        })
    }
}

/// Where a row's bytes are, from its source root, the path inside it and the tar member.
pub fn row_location(source: &Path, path: &str, member: Option<(&str, u64, u64)>) -> ImageLocation {
    let file = if path.is_empty() {
        source.to_path_buf()
    } else {
        source.join(path)
    };
    match member {
        Some((name, offset, size)) => ImageLocation::Member(TarMember {
            shard: file,
            member: name.to_string(),
            offset,
            size,
        }),
        None => ImageLocation::File(file),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_through_the_store() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut writer = RowWriter::create(dir.path()).expect("create");
        let row = TrainingRow {
            name: "00000.tar/000000001.jpg".into(),
            location: row_location(
                Path::new("/data/shards"),
                "00000.tar",
                Some(("000000001.jpg", 1536, 99)),
            ),
            blake3: [3; 32],
            width: 640,
            height: 480,
            caption: Some("a barn".into()),
            sample: Some(ShardSample {
                key: "000000001".into(),
                url: Some("https://example.org/barn.jpg".into()),
            }),
            luma: Some(vec![1, 2, 3]),
        };
        assert_eq!(writer.push(&row).expect("push"), 0);
        let plain = TrainingRow {
            name: "a/b.png".into(),
            location: row_location(Path::new("/data/folder"), "a/b.png", None),
            caption: None,
            sample: None,
            luma: None,
            ..row.clone()
        };
        assert_eq!(writer.push(&plain).expect("push"), 1);
        assert_eq!(writer.finish().expect("finish"), 2);
        let store = RowStore::open(dir.path()).expect("open");
        assert_eq!(store.row(0).expect("row"), Some(row));
        assert_eq!(store.row(1).expect("row"), Some(plain));
        assert_eq!(store.row(2).expect("row"), None);
        // Only the first row has a caption: the one `prompts sample` may draw.
        assert_eq!(store.captioned_keys().expect("keys"), (vec![0], 2));
    }

    #[test]
    fn an_index_built_before_samples_were_kept_reads_them_as_absent() {
        let dir = tempfile::tempdir().expect("tempdir");
        let conn = Connection::open(dir.path().join(ROWS_FILE)).expect("open");
        conn.execute_batch(
            "CREATE TABLE rows (
                 key INTEGER PRIMARY KEY, name TEXT NOT NULL, location TEXT NOT NULL,
                 blake3 BLOB NOT NULL, width INTEGER NOT NULL, height INTEGER NOT NULL,
                 caption TEXT, luma BLOB);",
        )
        .expect("old table");
        conn.execute(
            "INSERT INTO rows VALUES (0, 'a.png', ?1, ?2, 4, 3, 'old', NULL)",
            params![
                serde_json::to_string(&row_location(Path::new("/d"), "a.png", None))
                    .expect("location"),
                [5u8; 32].as_slice()
            ],
        )
        .expect("insert");
        drop(conn);
        let row = RowStore::open(dir.path())
            .expect("open")
            .row(0)
            .expect("row")
            .expect("present");
        assert_eq!((row.caption.as_deref(), row.sample), (Some("old"), None));
    }
}
