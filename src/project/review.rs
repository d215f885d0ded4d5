//! Opening a project's label store: an older store is upgraded to content keys with the help
//! of the project's folders, and results from before labels were keyed by content get the
//! content hashes the keys need (from the cache, or by reading the files once).

use std::collections::HashMap;
use std::time::UNIX_EPOCH;

use crate::catalog::{ImageLocation, MAX_IMAGE_FILE_BYTES};
use crate::project::Project;
use crate::project::cache::EmbeddingCache;
use crate::project::folder_names;
use crate::project::last_scan::LastScan;
use crate::review::{KeyResolver, MigrationReport, PairContext, PairKey, ReviewError, ReviewStore};

/// blake3 (hex) of the bytes at `location`, if they can be read.
fn hash_of(location: &ImageLocation) -> Option<String> {
    location
        .read(MAX_IMAGE_FILE_BYTES)
        .ok()
        .map(|bytes| blake3::hash(&bytes).to_hex().to_string())
}

/// Finds a pair's images from its names: where the label recorded them, then under the
/// project's folders (the generations folder; each training folder, the name's first part
/// being the folder's name when there are several).
pub struct ProjectKeys<'a> {
    project: &'a Project,
}

impl<'a> ProjectKeys<'a> {
    /// The resolver for `project`.
    pub fn new(project: &'a Project) -> Self {
        Self { project }
    }

    fn generation_hash(&self, name: &str, context: &PairContext) -> Option<String> {
        let mut candidates = Vec::new();
        if let Some(path) = &context.generation_path {
            candidates.push(ImageLocation::File(path.clone()));
        }
        candidates.push(ImageLocation::File(
            self.project.spec.generations.join(name),
        ));
        candidates.iter().find_map(hash_of)
    }

    fn training_hash(&self, name: &str, context: &PairContext) -> Option<String> {
        let mut candidates: Vec<ImageLocation> = context.training_path.iter().cloned().collect();
        let roots = &self.project.spec.training;
        if roots.len() == 1 {
            candidates.push(ImageLocation::File(roots[0].join(name)));
        } else if let Some((prefix, rest)) = name.split_once('/') {
            for (root, folder) in roots.iter().zip(folder_names(roots)) {
                if folder == prefix {
                    candidates.push(ImageLocation::File(root.join(rest)));
                }
            }
        }
        candidates.iter().find_map(hash_of)
    }
}

impl KeyResolver for ProjectKeys<'_> {
    fn resolve(&self, generation: &str, training: &str, context: &PairContext) -> Option<PairKey> {
        Some(PairKey::new(
            &self.generation_hash(generation, context)?,
            &self.training_hash(training, context)?,
        ))
    }
}

/// Opens the project's label store for labelling, upgrading an older store first.
pub fn open_review(
    project: &Project,
) -> Result<(ReviewStore, Option<MigrationReport>), ReviewError> {
    ReviewStore::open_migrating(&project.review_path(), &ProjectKeys::new(project))
}

/// Gives every generation and match of `last` its content hash where a scan from before
/// labels were keyed by content left none: from the project's cache when the file is
/// unchanged, else by reading it. Returns how many hashes were filled.
pub fn fill_hashes(project: &Project, last: &mut LastScan) -> usize {
    let missing = last.results.iter().any(|r| {
        r.generation_hash.is_none() || r.matches.iter().any(|m| m.training_hash.is_none())
    });
    if !missing {
        return 0;
    }
    let cache = EmbeddingCache::open(&project.cache_path()).ok();
    let mut known: HashMap<ImageLocation, Option<String>> = HashMap::new();
    let mut lookup = |location: &ImageLocation| -> Option<String> {
        known
            .entry(location.clone())
            .or_insert_with(|| {
                let from_cache = cache.as_ref().and_then(|cache| {
                    let meta = std::fs::metadata(location.file()).ok()?;
                    let mtime_ns = meta
                        .modified()
                        .ok()
                        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
                    let size = location.member().map_or(meta.len(), |m| m.size);
                    let file = cache.known_file(location, size, mtime_ns).ok()??;
                    Some(blake3::Hash::from_bytes(file.hash).to_hex().to_string())
                });
                from_cache.or_else(|| hash_of(location))
            })
            .clone()
    };
    let mut filled = 0;
    for result in &mut last.results {
        if result.generation_hash.is_none() {
            result.generation_hash = lookup(&ImageLocation::File(result.generation_path.clone()));
            filled += usize::from(result.generation_hash.is_some());
        }
        for m in &mut result.matches {
            if m.training_hash.is_none() {
                m.training_hash = lookup(&m.training_path);
                filled += usize::from(m.training_hash.is_some());
            }
        }
    }
    filled
}
