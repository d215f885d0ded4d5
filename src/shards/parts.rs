//! Embedding parts: what one `replicant embed --shard I/N` worker writes into its output
//! folder, and reading them back for `replicant index build`.
//!
//! ```text
//! DIR/part-I-of-N.npy    float16 [rows, dims], little-endian, C order (numpy.load reads it)
//! DIR/part-I-of-N.jsonl  one line per row, in the same order (see PartRow)
//! DIR/part-I-of-N.json   the part's manifest (see PartManifest), written last
//! ```
//!
//! Each file is written under a temporary name beginning with a dot (so no half file ever
//! matches `part-*`) and renamed into place; the manifest comes last, so a part is complete
//! exactly when its manifest exists and its row counts agree.

use std::io::{BufRead, BufWriter, Write};

use std::path::{Path, PathBuf};

use base64::Engine;

use crate::index::prebuilt::FileCheck;
use crate::ranking::matches::{SkippedFile, TruncatedShard};
use crate::scan::sources::UnitId;

/// The part format this program writes and reads (2 added the model's probe embedding and
/// the notes).
pub const PART_FORMAT: u32 = 2;

/// One row of a part: a training image and what the ranking needs of it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PartRow {
    /// Its name in results: `SHARD.tar/MEMBER` or a relative path, prefixed by the source's
    /// folder name when the worker was given several sources.
    pub training: String,
    /// The source it is in (absolute), as given to `embed --training`.
    #[serde(with = "crate::fsutil::serde_path")]
    pub source: PathBuf,
    /// The file, or the shard holding it, relative to the source (empty when the source is
    /// the shard itself).
    pub path: String,
    /// The tar member's name, for a member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// The byte offset of the member's data in its shard, for a member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Size in bytes of the file or member.
    pub size: u64,
    /// blake3 of its bytes (hex).
    pub blake3: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Its caption (`KEY.txt` or `KEY.json` in a shard; a sidecar or metadata file beside a
    /// plain file).
    pub caption: Option<String>,
    /// For a shard member, img2dataset's `key` and `url` (absent in parts written before they
    /// were kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<crate::catalog::ShardSample>,
    /// Its 32x32 layout thumbnail (luminance bytes, row-major), base64.
    pub layout: String,
}

impl PartRow {
    /// The layout thumbnail's bytes.
    pub fn layout_bytes(&self) -> Option<Vec<u8>> {
        base64::engine::general_purpose::STANDARD
            .decode(&self.layout)
            .ok()
            .filter(|b| !b.is_empty())
    }

    /// Encodes a layout thumbnail for [`PartRow::layout`].
    pub fn encode_layout(luma: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(luma)
    }

    /// The content hash as bytes.
    pub fn hash_bytes(&self) -> Option<[u8; 32]> {
        blake3::Hash::from_hex(&self.blake3)
            .ok()
            .map(|h| *h.as_bytes())
    }
}

/// A part's manifest.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PartManifest {
    /// The part format.
    pub format: u32,
    /// This worker's index (`I` of `--shard I/N`).
    pub worker: usize,
    /// The number of workers (`N`).
    pub workers: usize,
    /// The model and preprocessing the embeddings were made with.
    pub model_key: crate::embed::ModelKey,
    /// Vector length.
    pub dims: usize,
    /// The sources given to `embed --training` (absolute), in order.
    #[serde(with = "crate::fsutil::serde_path::vec")]
    pub sources: Vec<PathBuf>,
    /// The work units this part covers, in order.
    pub units: Vec<UnitId>,
    /// Rows written.
    pub rows: u64,
    /// Images of these units that could not be used, with reasons.
    pub skipped: Vec<SkippedFile>,
    /// Shards of these units that ended early or could not be read.
    pub truncated_shards: Vec<TruncatedShard>,
    /// What was noted while reading these units (a repeated member name, a file name that
    /// is not text), as the scan's summary lists it.
    #[serde(default)]
    pub notes: Vec<SkippedFile>,
    /// The model's embedding of the probe image ([`crate::embed::probe`]): checks that the
    /// vectors came from the model `model_key` names.
    #[serde(default)]
    pub model_probe: Vec<f32>,
    /// The `.npy` file.
    pub npy: FileCheck,
    /// The `.jsonl` file.
    pub jsonl: FileCheck,
    /// The program that wrote it.
    pub replicant_version: String,
    /// When, as RFC 3339 UTC.
    pub created_at: String,
}

/// `part-I-of-N`.
pub fn part_stem(worker: usize, workers: usize) -> String {
    format!("part-{worker}-of-{workers}")
}

/// Parses `part-I-of-N.json` into `(I, N)`.
pub fn parse_part_name(name: &str) -> Option<(usize, usize)> {
    let rest = name.strip_prefix("part-")?.strip_suffix(".json")?;
    let (worker, workers) = rest.split_once("-of-")?;
    Some((worker.parse().ok()?, workers.parse().ok()?))
}

/// Errors reading or writing parts; each names the file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum PartError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A part is incomplete or inconsistent.
    #[error("{path}: {detail}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong and what to do.
        detail: String,
    },
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> PartError + '_ {
    move |source| PartError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `bytes` (produced by `fill`) to `path` through a dot-named temporary file in the
/// same folder, synced, then renamed.
fn write_via_temp(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<&std::fs::File>) -> std::io::Result<()>,
) -> Result<(), PartError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let tmp = crate::fsutil::output_temp_file(dir, &format!(".{name}.")).map_err(io_err(path))?;
    {
        let mut writer = BufWriter::with_capacity(1 << 20, tmp.as_file());
        fill(&mut writer).map_err(io_err(path))?;
        writer.flush().map_err(io_err(path))?;
    }
    tmp.as_file().sync_all().map_err(io_err(path))?;
    tmp.persist(path).map_err(|err| PartError::Io {
        path: path.to_path_buf(),
        source: err.error,
    })?;
    Ok(())
}

/// Writes one part: the vectors (`rows.len() * dims` floats, row by row) as float16 `.npy`,
/// the rows as `.jsonl`, then the manifest (with the files' sizes and hashes) as `.json`.
pub fn write_part(
    dir: &Path,
    mut manifest: PartManifest,
    rows: &[PartRow],
    vectors: &[f32],
) -> Result<PathBuf, PartError> {
    let stem = part_stem(manifest.worker, manifest.workers);
    let npy = dir.join(format!("{stem}.npy"));
    let jsonl = dir.join(format!("{stem}.jsonl"));
    let json = dir.join(format!("{stem}.json"));
    if vectors.len() != rows.len() * manifest.dims {
        return Err(PartError::Invalid {
            path: npy,
            detail: format!(
                "{} floats for {} rows of {} dimensions",
                vectors.len(),
                rows.len(),
                manifest.dims
            ),
        });
    }
    write_via_temp(&npy, |w| {
        use npyz::WriterBuilder;
        let mut writer = npyz::WriteOptions::<half::f16>::new()
            .default_dtype()
            .shape(&[rows.len() as u64, manifest.dims as u64])
            .writer(w)
            .begin_nd()?;
        writer.extend(vectors.iter().map(|&v| half::f16::from_f32(v)))?;
        writer.finish()
    })?;
    write_via_temp(&jsonl, |w| {
        for row in rows {
            serde_json::to_writer(&mut *w, row)?;
            w.write_all(b"\n")?;
        }
        Ok(())
    })?;
    manifest.rows = rows.len() as u64;
    manifest.npy = FileCheck::of(&npy).map_err(io_err(&npy))?;
    manifest.jsonl = FileCheck::of(&jsonl).map_err(io_err(&jsonl))?;
    let body = serde_json::to_vec_pretty(&manifest).map_err(|e| PartError::Invalid {
        path: json.clone(),
        detail: e.to_string(),
    })?;
    write_via_temp(&json, |w| w.write_all(&body))?;
    Ok(json)
}

/// A complete part found in a folder.
#[derive(Debug, Clone)]
pub struct FoundPart {
    /// Its manifest file.
    pub json: PathBuf,
    /// Its manifest.
    pub manifest: PartManifest,
}

impl FoundPart {
    /// The `.npy` file.
    pub fn npy(&self) -> PathBuf {
        self.json.with_extension("npy")
    }

    /// The `.jsonl` file.
    pub fn jsonl(&self) -> PathBuf {
        self.json.with_extension("jsonl")
    }

    /// The worker command that makes this part again.
    pub fn remedy(&self) -> String {
        format!(
            "run its worker again (`replicant embed --shard {}/{}` with the same --training sources and --out); it re-embeds from its cache",
            self.manifest.worker, self.manifest.workers
        )
    }

    /// Reads the part's `.npy` and `.jsonl` whole and checks them against the sizes and
    /// blake3 hashes its manifest recorded: a row overwritten with another's bytes (same
    /// size) is found here, where a size check passes.
    pub fn verify_files(&self) -> Result<(), PartError> {
        for (path, recorded) in [
            (self.npy(), &self.manifest.npy),
            (self.jsonl(), &self.manifest.jsonl),
        ] {
            let found = FileCheck::of(&path).map_err(io_err(&path))?;
            if found.bytes != recorded.bytes || found.blake3 != recorded.blake3 {
                return Err(PartError::Invalid {
                    path: path.clone(),
                    detail: format!(
                        "does not match its manifest {} (recorded {} bytes, blake3 {}; found {} bytes, blake3 {}): it was damaged or changed after the worker wrote it; {}",
                        self.json.display(),
                        recorded.bytes,
                        short_hash(&recorded.blake3),
                        found.bytes,
                        short_hash(&found.blake3),
                        self.remedy()
                    ),
                });
            }
        }
        Ok(())
    }
}

fn short_hash(hex: &str) -> &str {
    &hex[..16.min(hex.len())]
}

/// Reads a part's manifest.
pub fn read_manifest(json: &Path) -> Result<PartManifest, PartError> {
    let bytes = std::fs::read(json).map_err(io_err(json))?;
    let manifest: PartManifest =
        serde_json::from_slice(&bytes).map_err(|e| PartError::Invalid {
            path: json.to_path_buf(),
            detail: format!("not a part manifest ({e}); run the worker again"),
        })?;
    if manifest.format != PART_FORMAT {
        return Err(PartError::Invalid {
            path: json.to_path_buf(),
            detail: format!(
                "part format {}, this program reads {PART_FORMAT}; embed again with this version",
                manifest.format
            ),
        });
    }
    Ok(manifest)
}

/// The complete parts in `dir`, by worker index. Every worker `0..N` must be there, all with
/// the same `N` and model; the message says which worker to run otherwise.
pub fn find_parts(dir: &Path) -> Result<Vec<FoundPart>, PartError> {
    let entries = std::fs::read_dir(dir).map_err(io_err(dir))?;
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io_err(dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if parse_part_name(&name).is_none() {
            continue;
        }
        let json = entry.path();
        let manifest = read_manifest(&json)?;
        found.push(FoundPart { json, manifest });
    }
    found.sort_by_key(|p| p.manifest.worker);
    let Some(first) = found.first() else {
        return Err(PartError::Invalid {
            path: dir.to_path_buf(),
            detail: "no part-I-of-N.json here; run `replicant embed --out` into this folder first"
                .into(),
        });
    };
    let workers = first.manifest.workers;
    for part in &found {
        if part.manifest.workers != workers {
            return Err(PartError::Invalid {
                path: part.json.clone(),
                detail: format!(
                    "parts of {workers} workers and of {} workers are mixed in this folder; keep one run's parts (delete the others)",
                    part.manifest.workers
                ),
            });
        }
        if part.manifest.model_key != first.manifest.model_key {
            return Err(PartError::Invalid {
                path: part.json.clone(),
                detail: format!(
                    "embedded with {}, but {} was embedded with {}; embed every part with one model",
                    part.manifest.model_key,
                    first.json.display(),
                    first.manifest.model_key
                ),
            });
        }
    }
    for worker in 0..workers {
        if !found.iter().any(|p| p.manifest.worker == worker) {
            return Err(PartError::Invalid {
                path: dir.join(format!("{}.json", part_stem(worker, workers))),
                detail: format!(
                    "missing: worker {worker} of {workers} has not finished; run `replicant embed --shard {worker}/{workers}` with the same sources and --out"
                ),
            });
        }
    }
    Ok(found)
}

/// A part's rows, one at a time, in order. Call [`RowReader::check_count`] after the last to
/// check the count against the manifest.
pub struct RowReader {
    lines: std::io::Lines<std::io::BufReader<std::fs::File>>,
    path: PathBuf,
    expected: u64,
    read: u64,
    line: usize,
}

impl RowReader {
    /// Opens a part's `.jsonl`.
    pub fn open(part: &FoundPart) -> Result<Self, PartError> {
        let path = part.jsonl();
        let file = std::fs::File::open(&path).map_err(io_err(&path))?;
        Ok(Self {
            lines: std::io::BufReader::with_capacity(1 << 20, file).lines(),
            path,
            expected: part.manifest.rows,
            read: 0,
            line: 0,
        })
    }

    /// Errors unless exactly the manifest's number of rows was read.
    pub fn check_count(&self) -> Result<(), PartError> {
        if self.read == self.expected {
            Ok(())
        } else {
            Err(PartError::Invalid {
                path: self.path.clone(),
                detail: format!(
                    "{} rows, its manifest says {}; run the worker again",
                    self.read, self.expected
                ),
            })
        }
    }
}

impl Iterator for RowReader {
    type Item = Result<PartRow, PartError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            self.line += 1;
            let line = match self.lines.next()? {
                Ok(line) => line,
                Err(source) => {
                    return Some(Err(PartError::Io {
                        path: self.path.clone(),
                        source,
                    }));
                }
            };
            if line.trim().is_empty() {
                continue;
            }
            self.read += 1;
            return Some(serde_json::from_str(&line).map_err(|e| PartError::Invalid {
                path: self.path.clone(),
                detail: format!("line {}: {e}; run the worker again", self.line),
            }));
        }
    }
}

/// Reads all of a part's rows, checking their count against its manifest.
pub fn read_rows(part: &FoundPart) -> Result<Vec<PartRow>, PartError> {
    let mut reader = RowReader::open(part)?;
    let rows = reader.by_ref().collect::<Result<Vec<_>, _>>()?;
    reader.check_count()?;
    Ok(rows)
}

/// Reads a part's vectors in chunks of at most `chunk_rows` rows, as f32, calling `each` with
/// the first row's number and the chunk (`rows * dims` floats).
pub fn read_vectors(
    part: &FoundPart,
    chunk_rows: usize,
    mut each: impl FnMut(u64, &[f32]) -> Result<(), PartError>,
) -> Result<(), PartError> {
    let path = part.npy();
    let file = std::fs::File::open(&path).map_err(io_err(&path))?;
    let npy = npyz::NpyFile::new(std::io::BufReader::with_capacity(1 << 20, file))
        .map_err(io_err(&path))?;
    let dims = part.manifest.dims as u64;
    if npy.shape() != [part.manifest.rows, dims] {
        return Err(PartError::Invalid {
            path,
            detail: format!(
                "shape {:?}, its manifest says [{}, {dims}]; run the worker again",
                npy.shape(),
                part.manifest.rows
            ),
        });
    }
    let reader = npy.data::<half::f16>().map_err(|e| PartError::Invalid {
        path: path.clone(),
        detail: format!("not float16 ({e}); run the worker again"),
    })?;
    let chunk_len = chunk_rows.max(1) * dims as usize;
    let mut chunk = Vec::with_capacity(chunk_len);
    let mut first_row = 0u64;
    for value in reader {
        let value = value.map_err(io_err(&path))?.to_f32();
        if !value.is_finite() {
            let at = first_row + (chunk.len() as u64) / dims.max(1);
            return Err(PartError::Invalid {
                path,
                detail: format!(
                    "row {at} holds {value}, which no model writes: the part is damaged; {}",
                    part.remedy()
                ),
            });
        }
        chunk.push(value);
        if chunk.len() == chunk_len {
            each(first_row, &chunk)?;
            first_row += chunk_rows as u64;
            chunk.clear();
        }
    }
    if !chunk.is_empty() {
        each(first_row, &chunk)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
