//! The images of a run, as the coordinator tracks them: cataloguing the sources of either side
//! (folders, folders of tar shards, single shards) into records with their names, and cutting
//! the training side into work units for `replicant embed`.

use std::path::{Path, PathBuf};

use crate::catalog::{ImageEntry, PromptIndex, walk_images};
use crate::project::cache::ContentHash;
use crate::project::{absolute, folder_names};
use crate::ranking::matches::{Side, SkippedFile, TruncatedShard};
use crate::scan::error::ScanError;

/// Plain files per work unit of `replicant embed` (shards are units of their own).
pub const FILES_PER_UNIT: usize = 1_000;

/// One image of either side, as the coordinator tracks it.
pub(crate) struct ImageRecord {
    pub entry: ImageEntry,
    /// Its name in results (relative path, prefixed by the source's name when several).
    pub display: String,
    /// The source it was found in (absolute), and its path inside that source.
    pub source: usize,
    /// Prompt (generations) or caption (training) from a sidecar, metadata file or shard.
    pub text: Option<String>,
    /// The prompt-set id given beside a generation (metadata row or `<stem>.json` sidecar).
    pub given_id: Option<String>,
    /// The prompt it was made from, once linked to the scan's prompt set.
    pub prompt_source: Option<crate::prompts::set::PromptLink>,
    pub hash: Option<ContentHash>,
    pub png_prompt: Option<String>,
    /// What was noted about how it was read (a partial decode, a prompt cut short).
    pub notes: Vec<String>,
    pub state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Pending,
    Ready,
    Failed,
}

impl ImageRecord {
    pub(crate) fn text(&self) -> Option<String> {
        self.text.clone().or_else(|| self.png_prompt.clone())
    }
}

/// What one work unit of `replicant embed` covers: one tar shard, or a slice of up to
/// [`FILES_PER_UNIT`] plain files of one source. Two units are the same work when they
/// compare equal (same files, sizes and modification times).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UnitId {
    /// `shard` or `files`.
    pub kind: String,
    /// The source (absolute) the unit is in.
    #[serde(with = "crate::fsutil::serde_path")]
    pub source: PathBuf,
    /// The shard's path inside the source, or the slice's first file.
    pub first: String,
    /// The slice's last file (the shard's path again for a shard).
    pub last: String,
    /// Images in the unit.
    pub images: usize,
    /// blake3 of every file's relative path, size and modification time (hex, 16 digits).
    pub fingerprint: String,
}

/// A work unit and the records it covers.
pub(crate) struct WorkUnit {
    pub id: UnitId,
    pub records: Vec<usize>,
    /// The shard's name in results, for a shard (known even when it holds no image).
    pub shard: Option<String>,
}

/// Both sides' images, catalogued.
pub(crate) struct Catalogued {
    /// The sources (absolute).
    pub roots: Vec<PathBuf>,
    /// The images, source by source, each sorted by name.
    pub records: Vec<ImageRecord>,
    /// Shards that ended early.
    pub truncated: Vec<TruncatedShard>,
    /// The shards found, for work units.
    shards: Vec<ShardRecords>,
}

/// A shard and the records of its members.
struct ShardRecords {
    source: usize,
    /// Its path inside the source.
    rel: String,
    /// Its name in results (prefixed like its members).
    shown: String,
    members: Vec<usize>,
}

/// Catalogues `roots` (folders, folders of tar shards, or single `.tar` shards). With several
/// roots, names are prefixed by [`folder_names`]. Skipped files and notes are appended.
pub(crate) fn catalogue(
    roots: &[PathBuf],
    side: Side,
    skipped: &mut Vec<SkippedFile>,
    notes: &mut Vec<SkippedFile>,
) -> Result<Catalogued, ScanError> {
    let names = folder_names(roots);
    let several = roots.len() > 1;
    let mut out = Catalogued {
        roots: roots.iter().map(|r| absolute(r)).collect(),
        records: Vec::new(),
        truncated: Vec::new(),
        shards: Vec::new(),
    };
    // Absolute roots: every location a scan stores is absolute, so a project opened from
    // another working folder (or exported from one) reads the same files.
    for (source, (root, name)) in out.roots.clone().iter().zip(&names).enumerate() {
        let prefix = several.then_some(name.as_str());
        catalogue_one(root, source, side, prefix, &mut out, skipped, notes)?;
    }
    Ok(out)
}

fn catalogue_one(
    root: &Path,
    source: usize,
    side: Side,
    prefix: Option<&str>,
    out: &mut Catalogued,
    skipped: &mut Vec<SkippedFile>,
    notes: &mut Vec<SkippedFile>,
) -> Result<(), ScanError> {
    let catalog = walk_images(root).map_err(|source| ScanError::Catalog { side, source })?;
    let plain: Vec<&str> = catalog
        .images
        .iter()
        .filter(|e| e.shard.is_none())
        .map(|e| e.rel_path.as_str())
        .collect();
    let mut warnings = catalog.warnings.clone();
    let prompts = if root.is_dir() {
        PromptIndex::load(root, &plain, &mut warnings)
    } else {
        PromptIndex::default()
    };
    let shown = |rel: &str| prefix.map_or_else(|| rel.to_string(), |p| format!("{p}/{rel}"));
    for warning in warnings {
        let file = SkippedFile {
            side,
            path: shown(&warning.path),
            reason: warning.reason,
        };
        if warning.skipped {
            skipped.push(file)
        } else {
            notes.push(file)
        }
    }
    for shard in &catalog.shards {
        if let Some(cut) = &shard.truncated {
            out.truncated.push(TruncatedShard {
                side,
                shard: shown(&shard.rel_path),
                members_read: cut.members_read,
                detail: cut.detail.clone(),
            });
        }
    }
    let first_shard = out.shards.len();
    out.shards
        .extend(catalog.shards.iter().map(|s| ShardRecords {
            source,
            rel: s.rel_path.clone(),
            shown: shown(&s.rel_path),
            members: Vec::new(),
        }));
    for entry in catalog.images {
        let index = out.records.len();
        if let Some(shard) = entry.shard
            && let Some(shard) = out.shards.get_mut(first_shard + shard)
        {
            shard.members.push(index);
        }
        out.records.push(ImageRecord {
            display: shown(&entry.rel_path),
            text: prompts
                .get(&entry.rel_path)
                .map(str::to_string)
                .or_else(|| entry.caption.clone()),
            given_id: prompts.id(&entry.rel_path).map(str::to_string),
            prompt_source: None,
            entry,
            source,
            hash: None,
            png_prompt: None,
            notes: Vec::new(),
            state: State::Pending,
        });
    }
    Ok(())
}

impl Catalogued {
    /// The work units of `replicant embed`: the tar shards sorted by name (byte order), then
    /// each source's plain files, sorted by name, in slices of [`FILES_PER_UNIT`].
    pub(crate) fn work_units(&self) -> Vec<WorkUnit> {
        let mut shards: Vec<&ShardRecords> = self.shards.iter().collect();
        shards.sort_by(|a, b| a.shown.as_bytes().cmp(b.shown.as_bytes()));
        let mut units: Vec<WorkUnit> = shards
            .into_iter()
            .map(|shard| WorkUnit {
                id: self.unit_id(
                    "shard",
                    shard.source,
                    &shard.rel,
                    &shard.rel,
                    &shard.members,
                ),
                records: shard.members.clone(),
                shard: Some(shard.shown.clone()),
            })
            .collect();
        for source in 0..self.roots.len() {
            let mut files: Vec<usize> = (0..self.records.len())
                .filter(|&i| {
                    let r = &self.records[i];
                    r.source == source && r.entry.shard.is_none()
                })
                .collect();
            files.sort_by(|&a, &b| {
                self.records[a]
                    .entry
                    .rel_path
                    .as_bytes()
                    .cmp(self.records[b].entry.rel_path.as_bytes())
            });
            for slice in files.chunks(FILES_PER_UNIT) {
                let rel = |i: usize| self.records[i].entry.rel_path.clone();
                let (Some(&first), Some(&last)) = (slice.first(), slice.last()) else {
                    continue;
                };
                units.push(WorkUnit {
                    id: self.unit_id("files", source, &rel(first), &rel(last), slice),
                    records: slice.to_vec(),
                    shard: None,
                });
            }
        }
        units
    }

    fn unit_id(
        &self,
        kind: &str,
        source: usize,
        first: &str,
        last: &str,
        records: &[usize],
    ) -> UnitId {
        let mut hasher = blake3::Hasher::new();
        for &i in records {
            let entry = &self.records[i].entry;
            hasher.update(entry.rel_path.as_bytes());
            hasher.update(&entry.size_bytes.to_le_bytes());
            hasher.update(&entry.mtime_ns.to_le_bytes());
            hasher.update(b"\0");
        }
        UnitId {
            kind: kind.into(),
            source: self.roots.get(source).cloned().unwrap_or_default(),
            first: first.into(),
            last: last.into(),
            images: records.len(),
            fingerprint: hasher.finalize().to_hex()[..16].to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::catalog::test_support::png_bytes as png;

    #[test]
    fn shards_and_files_become_units_in_order_with_names_and_captions() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("train");
        std::fs::create_dir_all(root.join("b")).expect("mkdir");
        let png = png();
        crate::catalog::test_support::write_tar(
            &root.join("b/00001.tar"),
            &[("000010000.png", &png), ("000010000.txt", b"second shard")],
        );
        crate::catalog::test_support::write_tar(
            &root.join("00000.tar"),
            &[("000000000.png", &png), ("000000001.png", &png)],
        );
        for i in 0..3 {
            std::fs::write(root.join(format!("f{i}.png")), &png).expect("write");
        }
        let (mut skipped, mut notes) = (Vec::new(), Vec::new());
        let catalogued = catalogue(
            std::slice::from_ref(&root),
            Side::Training,
            &mut skipped,
            &mut notes,
        )
        .expect("walk");
        assert!(skipped.is_empty(), "{skipped:?}");
        let names: Vec<&str> = catalogued
            .records
            .iter()
            .map(|r| r.display.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "00000.tar/000000000.png",
                "00000.tar/000000001.png",
                "b/00001.tar/000010000.png",
                "f0.png",
                "f1.png",
                "f2.png"
            ]
        );
        assert_eq!(catalogued.records[2].text.as_deref(), Some("second shard"));
        let units = catalogued.work_units();
        let firsts: Vec<(&str, &str, usize)> = units
            .iter()
            .map(|u| (u.id.kind.as_str(), u.id.first.as_str(), u.records.len()))
            .collect();
        assert_eq!(
            firsts,
            [
                ("shard", "00000.tar", 2),
                ("shard", "b/00001.tar", 1),
                ("files", "f0.png", 3)
            ]
        );
        // Touching a file changes its unit's identity, and no other.
        let before: Vec<UnitId> = units.iter().map(|u| u.id.clone()).collect();
        std::fs::write(root.join("f1.png"), [png.as_slice(), b"x"].concat()).expect("write");
        let after = catalogue(&[root], Side::Training, &mut skipped, &mut notes)
            .expect("walk")
            .work_units();
        assert_eq!(after[0].id, before[0]);
        assert_ne!(after[2].id, before[2]);
    }
}
