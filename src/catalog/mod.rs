//! Finding images on disk: walking folders, picking image files, and the prompts or captions
//! that come with them.
//!
//! A walk never stops on a bad entry: unreadable folders, broken links and names that are not
//! UTF-8 become [`CatalogWarning`]s for the scan report, and the walk goes on.

mod location;
mod prompts;
mod shards;
pub mod skipped;

pub use location::{ImageLocation, MAX_IMAGE_FILE_BYTES, TarMember};
pub use prompts::{EmbeddedPrompt, MAX_PNG_TEXT_BYTES, PromptIndex, prompt_from_png_text};
pub use skipped::{Side, SkippedFile, TruncatedShard};
/// Helpers for other modules' tests.
#[cfg(test)]
pub(crate) mod test_support {
    pub(crate) use super::shards::tests::write_tar;

    /// A 4x4 PNG of one colour: the smallest image every reader takes.
    pub(crate) fn png_bytes() -> Vec<u8> {
        let img = image::RgbImage::from_pixel(4, 4, image::Rgb([1, 2, 3]));
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png)
            .expect("encode");
        out.into_inner()
    }
}

pub use shards::{MAX_CAPTION_BYTES, ShardListing, ShardMember, Truncation, list_shard};

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

/// File extensions (lower case) that are taken as images without looking inside the file.
pub const IMAGE_EXTENSIONS: &[&str] = &[
    "jpg", "jpeg", "png", "webp", "bmp", "gif", "tif", "tiff", "pbm", "pgm", "ppm", "pnm",
];

/// Extensions that are never images and never sniffed: sidecars and metadata files.
const NEVER_IMAGE_EXTENSIONS: &[&str] =
    &["txt", "json", "jsonl", "csv", "md", "yml", "yaml", "toml"];

/// One image found by a walk: a file, or a member of a tar shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageEntry {
    /// Where its bytes are: the path as found (through symbolic links where the walk followed
    /// them), or the shard and the member's offset.
    pub location: ImageLocation,
    /// The path relative to the folder given, with `/` separators, for display and output; a
    /// tar member is `SHARD.tar/MEMBER`. Bytes of a name that are not UTF-8 are shown as `\xNN`
    /// (see [`crate::fsutil::display_os`]), so no two files share a name.
    pub rel_path: String,
    /// Size in bytes (the file's, or the member's).
    pub size_bytes: u64,
    /// Modification time in nanoseconds since the Unix epoch (0 when the system has none); a
    /// member has its shard's.
    pub mtime_ns: i64,
    /// True when the extension was not an image extension but the bytes are an image.
    pub sniffed: bool,
    /// The caption stored beside a tar member in its shard (`KEY.txt` or `KEY.json`).
    pub caption: Option<String>,
    /// For a tar member, img2dataset's `key` and `url` of its sample.
    pub sample: Option<ShardSample>,
    /// For a tar member, its shard's position in [`Catalog::shards`].
    pub shard: Option<usize>,
}

/// What img2dataset records of a sample in its `KEY.json`, kept so that every output can be
/// joined back to the download (its parquet, its URL list).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ShardSample {
    /// The sample's key (`KEY.json`'s `key`, else the member's name without its extension).
    pub key: String,
    /// The URL the image was downloaded from, when `KEY.json` gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// A tar shard found by a walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardInfo {
    /// The shard file.
    pub path: PathBuf,
    /// Its path relative to the folder given (its file name when the shard itself was given).
    pub rel_path: String,
    /// Its size in bytes.
    pub size_bytes: u64,
    /// Its modification time in nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
    /// Image members listed.
    pub members: usize,
    /// Set when the shard was cut short.
    pub truncated: Option<Truncation>,
}

/// Something a walk could not use, for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogWarning {
    /// The path concerned, relative to the folder given where possible.
    pub path: String,
    /// What went wrong and what to do about it.
    pub reason: String,
    /// True when the file or folder was left out of the scan; false for a note about a
    /// file that is still scanned (an odd name, say).
    pub skipped: bool,
}

/// The result of walking one folder.
#[derive(Debug, Default, Clone)]
pub struct Catalog {
    /// The images found, in a deterministic order (by relative path, byte-wise).
    pub images: Vec<ImageEntry>,
    /// The tar shards found, by relative path (byte-wise).
    pub shards: Vec<ShardInfo>,
    /// Entries that were skipped, with reasons.
    pub warnings: Vec<CatalogWarning>,
}

/// Errors that stop a walk before it starts.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The path given does not exist or is neither a folder nor a tar shard.
    #[error(
        "{path}: not a folder or a .tar shard; check the path (it must be an existing folder of images or tar shards, or one .tar file)"
    )]
    NotAFolder {
        /// The folder given.
        path: PathBuf,
    },
    /// The folder given cannot be read.
    #[error("{path}: cannot read the folder: {source}; check its permissions")]
    Unreadable {
        /// The folder given.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// Whether `path` is named like a tar shard (`.tar`, any case).
pub fn is_shard_name(path: &Path) -> bool {
    extension_lower(path).is_some_and(|ext| ext == "tar")
}

/// Whether `path` has an image extension (case-insensitive).
pub fn has_image_extension(path: &Path) -> bool {
    extension_lower(path).is_some_and(|ext| IMAGE_EXTENSIONS.contains(&ext.as_str()))
}

fn extension_lower(path: &Path) -> Option<String> {
    path.extension()
        .map(|ext| ext.to_string_lossy().to_ascii_lowercase())
}

/// Walks `root` recursively, following symbolic links (a link back to a folder already on the
/// path is reported, never followed twice), and returns its images sorted by relative path.
///
/// Files with an image extension are taken as they are; `.tar` files are WebDataset shards,
/// whose image members are listed (see [`list_shard`]); other files (not sidecars) are
/// sniffed by their first bytes, so an image saved under a wrong extension is still found.
/// `root` may also be one `.tar` shard.
///
/// Over 100 lines on purpose: one walk, where each kind of entry (a link seen before, an unreadable
/// folder, an image, a shard, a sidecar, a file to sniff) is handled where the walk meets it, with
/// its skip reason.
pub fn walk_images(root: &Path) -> Result<Catalog, CatalogError> {
    let meta = std::fs::metadata(root).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            CatalogError::NotAFolder {
                path: root.to_path_buf(),
            }
        } else {
            CatalogError::Unreadable {
                path: root.to_path_buf(),
                source,
            }
        }
    })?;
    if meta.is_file() && is_shard_name(root) {
        let mut catalog = Catalog::default();
        let name = root
            .file_name()
            .map_or_else(|| "shard.tar".into(), |n| n.to_string_lossy().into_owned());
        add_shard(&mut catalog, root, name, &meta);
        sort_catalog(&mut catalog);
        return Ok(catalog);
    }
    if !meta.is_dir() {
        return Err(CatalogError::NotAFolder {
            path: root.to_path_buf(),
        });
    }
    std::fs::read_dir(root).map_err(|source| CatalogError::Unreadable {
        path: root.to_path_buf(),
        source,
    })?;

    let mut catalog = Catalog::default();
    let walker = walkdir::WalkDir::new(root)
        .follow_links(true)
        .sort_by_file_name();
    for entry in walker {
        let entry = match entry {
            Ok(entry) => entry,
            Err(err) => {
                catalog.warnings.push(walk_warning(root, &err));
                continue;
            }
        };
        if !entry.file_type().is_file() {
            continue;
        }
        let path = entry.path();
        let rel = relative_display(root, path);
        if path.file_name().and_then(|n| n.to_str()).is_none() {
            catalog.warnings.push(CatalogWarning {
                path: rel.clone(),
                reason: "file name is not valid UTF-8; it is scanned, and shown with \\xNN \
                         in place of the bytes that are not text"
                    .into(),
                skipped: false,
            });
        }
        let name_is_hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if is_shard_name(path) && !name_is_hidden {
            match entry.metadata() {
                Ok(meta) => add_shard(&mut catalog, path, rel, &meta),
                Err(err) => catalog.warnings.push(CatalogWarning {
                    path: rel,
                    reason: format!("cannot read the shard's metadata: {err}; skipped"),
                    skipped: true,
                }),
            }
            continue;
        }
        let ext = extension_lower(path);
        let by_extension = has_image_extension(path);
        let sniffed = if by_extension || name_is_hidden {
            false
        } else if ext
            .as_deref()
            .is_some_and(|e| NEVER_IMAGE_EXTENSIONS.contains(&e))
        {
            continue;
        } else {
            match crate::decode::sniff_file(path) {
                Ok(Some(_)) => true,
                Ok(None) => continue,
                Err(err) => {
                    catalog.warnings.push(CatalogWarning {
                        path: rel,
                        reason: format!("cannot read the file: {err}; check its permissions"),
                        skipped: true,
                    });
                    continue;
                }
            }
        };
        if !by_extension && !sniffed {
            continue;
        }
        let meta = match entry.metadata() {
            Ok(meta) => meta,
            Err(err) => {
                catalog.warnings.push(CatalogWarning {
                    path: rel,
                    reason: format!("cannot read the file's metadata: {err}"),
                    skipped: true,
                });
                continue;
            }
        };
        catalog.images.push(ImageEntry {
            location: ImageLocation::File(path.to_path_buf()),
            rel_path: rel,
            size_bytes: meta.len(),
            mtime_ns: mtime_ns(&meta),
            sniffed,
            caption: None,
            sample: None,
            shard: None,
        });
    }
    sort_catalog(&mut catalog);
    Ok(catalog)
}

/// Sorts images and shards by relative path (byte-wise), keeping each member's shard
/// position right (the walk visits folders before their siblings' files, which is not
/// byte order: `a/x.tar` comes before `a.tar` in a walk, after it in bytes).
fn sort_catalog(catalog: &mut Catalog) {
    catalog.images.sort_by(|a, b| a.rel_path.cmp(&b.rel_path));
    let mut order: Vec<usize> = (0..catalog.shards.len()).collect();
    order.sort_by(|&a, &b| catalog.shards[a].rel_path.cmp(&catalog.shards[b].rel_path));
    let mut new_position = vec![0; order.len()];
    for (new, &old) in order.iter().enumerate() {
        new_position[old] = new;
    }
    let mut shards: Vec<Option<ShardInfo>> = catalog.shards.drain(..).map(Some).collect();
    catalog.shards = order.iter().filter_map(|&old| shards[old].take()).collect();
    for image in &mut catalog.images {
        if let Some(old) = image.shard {
            image.shard = new_position.get(old).copied();
        }
    }
}

fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Lists the shard at `path` into `catalog`: its image members as entries named
/// `REL/MEMBER`, its unreadable members and any cut as warnings.
fn add_shard(catalog: &mut Catalog, path: &Path, rel: String, meta: &std::fs::Metadata) {
    let listing = match list_shard(path) {
        Ok(listing) => listing,
        Err(err) => {
            catalog.warnings.push(CatalogWarning {
                path: rel,
                reason: format!("cannot read the shard: {err}; check its permissions"),
                skipped: true,
            });
            return;
        }
    };
    let index = catalog.shards.len();
    let mtime = mtime_ns(meta);
    for warning in listing.warnings {
        catalog.warnings.push(CatalogWarning {
            path: format!("{rel}/{}", warning.path),
            ..warning
        });
    }
    if let Some(cut) = &listing.truncated {
        catalog.warnings.push(CatalogWarning {
            path: rel.clone(),
            reason: if cut.members_read == 0 && listing.members_total == 0 {
                format!("tar shard not readable: {}", cut.detail)
            } else {
                format!("tar shard cut short: {}", cut.detail)
            },
            skipped: true,
        });
    } else if listing.members.is_empty() {
        catalog.warnings.push(CatalogWarning {
            path: rel.clone(),
            reason: format!(
                "the shard holds no image members ({} members in all); nothing of it is scanned",
                listing.members_total
            ),
            skipped: true,
        });
    }
    let members = listing.members.len();
    for member in listing.members {
        catalog.images.push(ImageEntry {
            rel_path: format!("{rel}/{}", member.name),
            location: ImageLocation::Member(TarMember {
                shard: path.to_path_buf(),
                member: member.name,
                offset: member.offset,
                size: member.size,
            }),
            size_bytes: member.size,
            mtime_ns: mtime,
            sniffed: false,
            caption: member.caption,
            sample: Some(member.sample),
            shard: Some(index),
        });
    }
    catalog.shards.push(ShardInfo {
        path: path.to_path_buf(),
        rel_path: rel,
        size_bytes: meta.len(),
        mtime_ns: mtime,
        members,
        truncated: listing.truncated,
    });
}

fn walk_warning(root: &Path, err: &walkdir::Error) -> CatalogWarning {
    let path = err
        .path()
        .map_or_else(|| root.display().to_string(), |p| relative_display(root, p));
    let reason = if let Some(ancestor) = err.loop_ancestor() {
        format!(
            "symbolic link loops back to {}; not followed again",
            relative_display(root, ancestor)
        )
    } else if let Some(io) = err.io_error() {
        match io.kind() {
            std::io::ErrorKind::PermissionDenied => {
                "permission denied; skipped (grant read access to include it)".to_string()
            }
            std::io::ErrorKind::NotFound => "broken symbolic link or vanished file; skipped".into(),
            _ => format!("cannot read: {io}; skipped"),
        }
    } else {
        format!("{err}; skipped")
    };
    CatalogWarning {
        path,
        reason,
        skipped: true,
    }
}

/// `path` relative to `root`, `/`-separated; the full path when it is not under `root`.
pub fn relative_display(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let parts: Vec<String> = rel
        .components()
        .map(|c| crate::fsutil::display_os(c.as_os_str()))
        .collect();
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path, bytes: &[u8]) {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create folder");
        }
        std::fs::write(path, bytes).expect("write file");
    }

    use test_support::png_bytes;

    #[test]
    fn finds_images_by_extension_case_insensitively_in_sorted_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let png = png_bytes();
        touch(&dir.path().join("b.PNG"), &png);
        touch(&dir.path().join("a/z.JpEg"), b"not really");
        touch(&dir.path().join("a/y.tif"), b"x");
        touch(&dir.path().join("notes.txt"), b"a prompt");
        touch(&dir.path().join("data.bin"), b"random bytes");
        let catalog = walk_images(dir.path()).expect("walk");
        let names: Vec<_> = catalog.images.iter().map(|e| e.rel_path.as_str()).collect();
        assert_eq!(names, ["a/y.tif", "a/z.JpEg", "b.PNG"]);
    }

    #[test]
    fn sniffs_images_with_unknown_extensions() {
        let dir = tempfile::tempdir().expect("tempdir");
        touch(&dir.path().join("picture.svg"), &png_bytes());
        touch(
            &dir.path().join("real.svg"),
            b"<svg xmlns='http://www.w3.org/2000/svg'/>",
        );
        let catalog = walk_images(dir.path()).expect("walk");
        assert_eq!(catalog.images.len(), 1);
        assert_eq!(catalog.images[0].rel_path, "picture.svg");
        assert!(catalog.images[0].sniffed);
    }

    #[cfg(unix)]
    #[test]
    fn follows_symlinks_without_looping() {
        let dir = tempfile::tempdir().expect("tempdir");
        touch(&dir.path().join("sub/a.png"), &png_bytes());
        std::os::unix::fs::symlink(dir.path(), dir.path().join("sub/loop")).expect("symlink");
        std::os::unix::fs::symlink(dir.path().join("sub"), dir.path().join("alias"))
            .expect("symlink");
        let catalog = walk_images(dir.path()).expect("walk");
        let names: Vec<_> = catalog.images.iter().map(|e| e.rel_path.as_str()).collect();
        assert_eq!(names, ["alias/a.png", "sub/a.png"]);
        assert!(
            catalog
                .warnings
                .iter()
                .any(|w| w.reason.contains("loops back")),
            "{:?}",
            catalog.warnings
        );
    }

    #[cfg(unix)]
    #[test]
    fn reports_non_utf8_names_and_unreadable_folders() {
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let odd = std::ffi::OsStr::from_bytes(b"caf\xe9.png");
        touch(&dir.path().join(odd), &png_bytes());
        let locked = dir.path().join("locked");
        std::fs::create_dir(&locked).expect("mkdir");
        touch(&locked.join("x.png"), &png_bytes());
        std::fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o000))
            .expect("chmod");
        // Root reads a folder whatever its mode, so the unreadable case only shows for others.
        let privileged = std::fs::read_dir(&locked).is_ok();
        let catalog = walk_images(dir.path()).expect("walk");
        std::fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod back");
        assert_eq!(catalog.images.len(), 1 + usize::from(privileged));
        assert!(catalog.images.iter().any(|e| e.rel_path == "caf\\xE9.png"));
        assert!(catalog.warnings.iter().any(|w| w.reason.contains("UTF-8")));
        if !privileged {
            assert!(catalog.warnings.iter().any(|w| w.path == "locked"));
        }
    }

    #[test]
    fn missing_folder_is_an_error_naming_it() {
        let err = walk_images(Path::new("/definitely/not/here")).expect_err("must fail");
        assert!(err.to_string().contains("/definitely/not/here"));
    }
}
