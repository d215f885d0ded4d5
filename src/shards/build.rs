//! `replicant index build`: merges the parts of one or more `replicant embed` runs into one
//! training index (see [`crate::index::prebuilt`]) that any number of projects can match
//! against. Rows are numbered in order (embedding folders as given, parts by worker, rows as
//! written), vectors are added from all cores in chunks, so memory stays at one chunk of
//! vectors plus the index itself whatever the number of rows.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::index::prebuilt::{
    BuildInfo, FORMAT_VERSION, FileCheck, INDEX_FILE, MANIFEST_FILE, Manifest, PartRef, ROWS_FILE,
    RowWriter, TrainingRow, row_location,
};
use crate::index::{
    Dtype, EXACT_SEARCH_MAX, EXPANSION_SEARCH, IndexError, IndexParams, TrainingIndex, VectorStore,
};
use crate::project::folder_names;
use crate::shards::parts::{self, FoundPart, PartError, PartRow, RowReader};

/// Rows added per chunk (the vectors of one chunk are held in memory at once).
const CHUNK_ROWS: usize = 8_192;

/// What to build.
#[derive(Debug, Clone)]
pub struct IndexBuildOptions {
    /// Folders holding `part-I-of-N.*` files, in key order.
    pub embeddings: Vec<PathBuf>,
    /// The index folder to write.
    pub out: PathBuf,
    /// How vectors are stored.
    pub dtype: Dtype,
    /// Replace an existing index folder.
    pub force: bool,
    /// Where the index is made.
    pub store: VectorStore,
}

/// What was built.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IndexBuildSummary {
    /// The index folder.
    #[serde(with = "crate::fsutil::serde_path")]
    pub index: PathBuf,
    /// Rows (training images).
    pub rows: u64,
    /// Vector length.
    pub dims: usize,
    /// Storage type.
    pub dtype: Dtype,
    /// Whether searches are exact.
    pub exact: bool,
    /// The model key.
    pub model_key: crate::embed::ModelKey,
    /// The sources.
    #[serde(with = "crate::fsutil::serde_path::vec")]
    pub sources: Vec<PathBuf>,
    /// Parts merged.
    pub parts: usize,
    /// Size of the vector index file.
    pub index_bytes: u64,
    /// Size of the rows file.
    pub rows_bytes: u64,
    /// Seconds for the whole build.
    pub seconds: f64,
    /// Vectors added per second.
    pub adds_per_sec: f64,
    /// Training images the workers could not use (as the index's manifest keeps them).
    pub skipped: Vec<crate::ranking::matches::SkippedFile>,
    /// Shards that ended early or could not be read.
    pub truncated_shards: Vec<crate::ranking::matches::TruncatedShard>,
    /// What the workers noted.
    pub notes: Vec<crate::ranking::matches::SkippedFile>,
}

/// Why a build failed; each names the file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum IndexBuildError {
    /// A part is missing or damaged.
    #[error(transparent)]
    Part(#[from] PartError),
    /// The index could not be made.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// The output exists.
    #[error("{0} exists; give --force to replace it, or choose another --out")]
    Exists(PathBuf),
    /// The parts do not fit together.
    #[error("{0}")]
    Mismatch(String),
    /// A file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> IndexBuildError + '_ {
    move |source| IndexBuildError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The parts of every embedding folder, checked to fit together: one model, one vector
/// length, no work unit in two parts.
fn gather(embeddings: &[PathBuf]) -> Result<Vec<FoundPart>, IndexBuildError> {
    let mut all: Vec<FoundPart> = Vec::new();
    for dir in embeddings {
        all.extend(parts::find_parts(dir)?);
    }
    let Some(first) = all.first() else {
        return Err(IndexBuildError::Mismatch(
            "no embedding folders given".into(),
        ));
    };
    let (model_key, first_json) = (first.manifest.model_key.clone(), first.json.clone());
    let probe = first.manifest.model_probe.clone();
    let mut dims = 0;
    let mut units = HashSet::new();
    for part in &all {
        // Every byte merged is checked against what its worker recorded: a damaged row
        // would otherwise become a wrong vector that no later check can find.
        part.verify_files()?;
        let (same, cosine) = crate::embed::probe::same_model(&part.manifest.model_probe, &probe);
        if !same {
            return Err(IndexBuildError::Mismatch(format!(
                "{} and {} name the same model ({model_key}) but their workers' embeddings of the probe image differ (cosine {cosine:.3}): they were made by different model files; embed every part with one model",
                part.json.display(),
                first_json.display()
            )));
        }
        if part.manifest.model_key != model_key {
            return Err(IndexBuildError::Mismatch(format!(
                "{} was embedded with {}, {} with {}; an index holds one model's embeddings",
                part.json.display(),
                part.manifest.model_key,
                first_json.display(),
                model_key
            )));
        }
        if part.manifest.rows > 0 {
            if dims != 0 && part.manifest.dims != dims {
                return Err(IndexBuildError::Mismatch(format!(
                    "{} has vectors of {} dimensions, others of {dims}",
                    part.json.display(),
                    part.manifest.dims
                )));
            }
            dims = part.manifest.dims;
        }
        for unit in &part.manifest.units {
            let key = (unit.source.clone(), unit.kind.clone(), unit.first.clone());
            if !units.insert(key) {
                return Err(IndexBuildError::Mismatch(format!(
                    "{} ({}) is in two parts (again in {}); give each embedding folder once, and do not mix runs over the same sources",
                    unit.first,
                    unit.source.display(),
                    part.json.display()
                )));
            }
        }
    }
    Ok(all)
}

/// A row's name in an index of `sources`: its name inside its source, prefixed by the
/// source's folder name when there are several (as `scan` names them).
fn row_name(row: &PartRow, prefix: Option<&str>) -> String {
    let inside = match (&row.member, row.path.is_empty()) {
        (Some(member), true) => format!(
            "{}/{member}",
            row.source
                .file_name()
                .map_or_else(|| "shard.tar".into(), |n| n.to_string_lossy().into_owned())
        ),
        (Some(member), false) => format!("{}/{member}", row.path),
        (None, _) => row.path.clone(),
    };
    match prefix {
        Some(prefix) => format!("{prefix}/{inside}"),
        None => inside,
    }
}

/// Builds the index. `progress` gets (rows added, rows in all) after each chunk.
///
/// Over 100 lines on purpose: the build's steps in order (read the parts' manifests, check they
/// agree, size the index, add each part's vectors in chunks with progress and cancel, write the
/// manifest last); each step checks what the one before gave, and splitting it passes the same
/// half-built state between functions.
pub fn build_index(
    options: &IndexBuildOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<IndexBuildSummary, IndexBuildError> {
    let started = Instant::now();
    if options.out.exists() && !options.force {
        return Err(IndexBuildError::Exists(options.out.clone()));
    }
    let all = gather(&options.embeddings)?;
    let model_key = all[0].manifest.model_key.clone();
    let dims = all
        .iter()
        .find(|p| p.manifest.rows > 0)
        .map_or(all[0].manifest.dims, |p| p.manifest.dims);
    let total: u64 = all.iter().map(|p| p.manifest.rows).sum();
    let mut sources: Vec<PathBuf> = Vec::new();
    for part in &all {
        for source in &part.manifest.sources {
            if !sources.contains(source) {
                sources.push(source.clone());
            }
        }
    }
    let names = folder_names(&sources);
    let several = sources.len() > 1;

    let parent = options
        .out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io_err(parent))?;
    let staging = tempfile::Builder::new()
        .prefix(".replicant-index-")
        .tempdir_in(parent)
        .map_err(io_err(parent))?;
    let params = IndexParams {
        dims,
        dtype: options.dtype,
    };
    let index = options.store.create(params)?;
    let threads = rayon::current_num_threads().max(1);
    index.reserve(total as usize, threads)?;
    let mut writer = RowWriter::create(staging.path())?;
    let mut next_key = 0u64;
    let mut add_secs = 0.0;
    for part in &all {
        let mut rows = RowReader::open(part)?;
        parts::read_vectors(part, CHUNK_ROWS, |_, chunk| {
            let count = chunk.len() / dims.max(1);
            let first_key = next_key;
            for _ in 0..count {
                let row = rows.next().ok_or_else(|| PartError::Invalid {
                    path: part.jsonl(),
                    detail: "fewer rows than vectors; run the worker again".into(),
                })??;
                let source = sources
                    .iter()
                    .position(|s| s == &row.source)
                    .unwrap_or_default();
                let member = row
                    .member
                    .as_deref()
                    .map(|m| (m, row.offset.unwrap_or(0), row.size));
                let training = TrainingRow {
                    name: row_name(&row, several.then(|| names[source].as_str())),
                    location: row_location(&row.source, &row.path, member),
                    blake3: row.hash_bytes().ok_or_else(|| PartError::Invalid {
                        path: part.jsonl(),
                        detail: format!("{}: bad blake3 {:?}", row.training, row.blake3),
                    })?,
                    width: row.width,
                    height: row.height,
                    caption: row.caption.clone(),
                    sample: row.sample.clone(),
                    luma: row.layout_bytes(),
                };
                writer.push(&training).map_err(|e| PartError::Invalid {
                    path: part.jsonl(),
                    detail: e.to_string(),
                })?;
            }
            let added = Instant::now();
            add_chunk(index.as_ref(), first_key, chunk, dims).map_err(|e| PartError::Invalid {
                path: part.npy(),
                detail: e.to_string(),
            })?;
            add_secs += added.elapsed().as_secs_f64();
            next_key += count as u64;
            progress(next_key, total);
            Ok(())
        })?;
        if rows.next().is_some() {
            return Err(PartError::Invalid {
                path: part.jsonl(),
                detail: "more rows than vectors; run the worker again".into(),
            }
            .into());
        }
        rows.check_count()?;
    }
    writer.finish()?;
    let index_path = staging.path().join(INDEX_FILE);
    index.save(&index_path)?;
    let rows_path = staging.path().join(ROWS_FILE);
    let build = BuildInfo {
        exact: total as usize <= EXACT_SEARCH_MAX,
        connectivity: 0,
        expansion_add: 0,
        expansion_search: EXPANSION_SEARCH,
        threads,
        seconds: started.elapsed().as_secs_f64(),
    };
    let account = |each: fn(&parts::PartManifest) -> &Vec<crate::ranking::matches::SkippedFile>| {
        all.iter()
            .flat_map(|p| each(&p.manifest).iter().cloned())
            .collect::<Vec<_>>()
    };
    let manifest = Manifest {
        model_probe: all[0].manifest.model_probe.clone(),
        skipped: account(|m| &m.skipped),
        notes: account(|m| &m.notes),
        truncated_shards: all
            .iter()
            .flat_map(|p| p.manifest.truncated_shards.iter().cloned())
            .collect(),
        manifest_blake3: String::new(),
        format: FORMAT_VERSION,
        model_key: model_key.clone(),
        dims,
        dtype: options.dtype,
        rows: total,
        sources: sources.clone(),
        parts: all
            .iter()
            .map(|p| PartRef {
                file: p.npy(),
                rows: p.manifest.rows,
            })
            .collect(),
        build: build.clone(),
        index_file: FileCheck::of(&index_path).map_err(io_err(&index_path))?,
        rows_file: FileCheck::of(&rows_path).map_err(io_err(&rows_path))?,
        replicant_version: env!("CARGO_PKG_VERSION").into(),
        created_at: crate::fsutil::utc_now(),
    }
    .sealed();
    let manifest_path = staging.path().join(MANIFEST_FILE);
    let body = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| IndexBuildError::Mismatch(e.to_string()))?;
    crate::fsutil::write_atomically(&manifest_path, &body).map_err(io_err(&manifest_path))?;
    publish(staging, &options.out)?;
    Ok(IndexBuildSummary {
        index: options.out.clone(),
        rows: total,
        dims,
        dtype: options.dtype,
        exact: build.exact,
        model_key,
        sources,
        parts: all.len(),
        index_bytes: manifest.index_file.bytes,
        rows_bytes: manifest.rows_file.bytes,
        seconds: started.elapsed().as_secs_f64(),
        adds_per_sec: if add_secs > 0.0 {
            total as f64 / add_secs
        } else {
            0.0
        },
        skipped: manifest.skipped.clone(),
        truncated_shards: manifest.truncated_shards.clone(),
        notes: manifest.notes.clone(),
    })
}

fn add_chunk(
    index: &dyn TrainingIndex,
    first_key: u64,
    chunk: &[f32],
    dims: usize,
) -> Result<(), IndexError> {
    use rayon::prelude::*;
    chunk
        .par_chunks(dims.max(1))
        .enumerate()
        .try_for_each(|(i, vector)| index.add(first_key + i as u64, vector))
}

/// Moves the finished staging folder to `out`, replacing an old index only once the new one
/// is complete.
fn publish(staging: tempfile::TempDir, out: &Path) -> Result<(), IndexBuildError> {
    let staged = staging.keep();
    if out.exists() {
        let old = out.with_extension(format!("old-{}", std::process::id()));
        std::fs::rename(out, &old).map_err(io_err(out))?;
        std::fs::rename(&staged, out).map_err(io_err(out))?;
        let _ = std::fs::remove_dir_all(&old);
    } else {
        std::fs::rename(&staged, out).map_err(io_err(out))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::prebuilt::PrebuiltIndex;
    use crate::index::tests::unit;
    use crate::shards::parts::{PART_FORMAT, PartManifest, write_part};

    fn part(dir: &Path, worker: usize, workers: usize, model: &str, first: usize, rows: usize) {
        let manifest = PartManifest {
            format: PART_FORMAT,
            worker,
            workers,
            model_key: model.into(),
            dims: 8,
            sources: vec!["/data/shards".into()],
            units: vec![crate::scan::sources::UnitId {
                kind: "shard".into(),
                source: "/data/shards".into(),
                first: format!("{worker:05}.tar"),
                last: format!("{worker:05}.tar"),
                images: rows,
                fingerprint: String::new(),
            }],
            rows: 0,
            skipped: Vec::new(),
            truncated_shards: Vec::new(),
            notes: Vec::new(),
            model_probe: vec![1.0, 0.0],
            npy: FileCheck::default(),
            jsonl: FileCheck::default(),
            replicant_version: "test".into(),
            created_at: "now".into(),
        };
        let rows: Vec<PartRow> = (first..first + rows)
            .map(|i| PartRow {
                training: format!("{worker:05}.tar/{i:09}.jpg"),
                source: "/data/shards".into(),
                path: format!("{worker:05}.tar"),
                member: Some(format!("{i:09}.jpg")),
                offset: Some(512 * (i as u64 + 1)),
                size: 100,
                blake3: blake3::hash(&i.to_le_bytes()).to_hex().to_string(),
                width: 64,
                height: 48,
                caption: Some(format!("caption {i}")),
                sample: None,
                layout: PartRow::encode_layout(&[i as u8; 1024]),
            })
            .collect();
        let vectors: Vec<f32> = (first..first + rows.len())
            .flat_map(|i| unit(i as u64, 8))
            .collect();
        write_part(dir, manifest, &rows, &vectors).expect("write part");
    }

    #[test]
    fn parts_merge_into_an_index_whose_keys_find_their_rows() {
        let dir = tempfile::tempdir().expect("tempdir");
        let parts = dir.path().join("parts");
        std::fs::create_dir_all(&parts).expect("mkdir");
        part(&parts, 0, 2, "m@1", 0, 5);
        part(&parts, 1, 2, "m@1", 5, 3);
        let out = dir.path().join("index");
        let options = IndexBuildOptions {
            embeddings: vec![parts.clone()],
            out: out.clone(),
            dtype: Dtype::F16,
            force: false,
            store: VectorStore::default(),
        };
        let mut seen = Vec::new();
        let summary =
            build_index(&options, &mut |done, total| seen.push((done, total))).expect("build");
        assert_eq!((summary.rows, summary.dims, summary.exact), (8, 8, true));
        assert_eq!(seen.last(), Some(&(8, 8)));
        let opened = PrebuiltIndex::open(&out, &*VectorStore::default()).expect("open");
        assert_eq!(opened.manifest.model_key, "m@1");
        for i in [0usize, 4, 6] {
            let hits = opened.index.search(&unit(i as u64, 8), 1).expect("search");
            assert_eq!(hits[0].key, i as u64);
            let row = opened.rows.row(i as u64).expect("row").expect("some");
            assert_eq!(
                row.name,
                format!("{:05}.tar/{i:09}.jpg", usize::from(i >= 5))
            );
            assert_eq!(row.caption, Some(format!("caption {i}")));
            assert_eq!(row.luma, Some(vec![i as u8; 1024]));
            let member = row.location.member().expect("a member");
            assert_eq!(member.offset, 512 * (i as u64 + 1));
        }
        let again = build_index(&options, &mut |_, _| {});
        assert!(matches!(again, Err(IndexBuildError::Exists(_))));

        // Another model's part cannot join.
        let other = dir.path().join("other");
        std::fs::create_dir_all(&other).expect("mkdir");
        part(&other, 0, 1, "m@2", 100, 2);
        let mixed = IndexBuildOptions {
            embeddings: vec![parts, other],
            out: dir.path().join("mixed"),
            dtype: Dtype::I8,
            force: false,
            store: VectorStore::default(),
        };
        let err = build_index(&mixed, &mut |_, _| {}).expect_err("two models");
        assert!(err.to_string().contains("m@2"), "{err}");
        assert!(!dir.path().join("mixed").exists());
    }

    #[test]
    fn names_follow_the_scan() {
        let row = |source: &str, path: &str, member: Option<&str>| PartRow {
            training: String::new(),
            source: source.into(),
            path: path.into(),
            member: member.map(str::to_string),
            offset: member.map(|_| 512),
            size: 1,
            blake3: String::new(),
            width: 1,
            height: 1,
            caption: None,
            sample: None,
            layout: String::new(),
        };
        assert_eq!(
            row_name(&row("/d/shards", "00000.tar", Some("1.jpg")), None),
            "00000.tar/1.jpg"
        );
        assert_eq!(
            row_name(&row("/d/00007.tar", "", Some("1.jpg")), None),
            "00007.tar/1.jpg"
        );
        assert_eq!(
            row_name(&row("/d/photos", "a/b.png", None), Some("photos")),
            "photos/a/b.png"
        );
    }
}
