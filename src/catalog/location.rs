//! Where an image's bytes live: a file, or one member of a WebDataset tar shard. A member is
//! read by its byte offset, so opening one image of a shard never scans the shard.

use std::io::Read;
use std::path::{Path, PathBuf};

/// The most bytes one image file or tar member may have; larger ones are refused before any
/// allocation (no image this program can decode is larger: see [`crate::decode::DecodeLimits`]).
pub const MAX_IMAGE_FILE_BYTES: u64 = 512 * 1024 * 1024;

/// Where an image's bytes are.
///
/// Serialised untagged: a file is its path as a string (as every earlier project stored it),
/// a member an object with the shard, the member's name, its data's byte offset and size.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(untagged)]
pub enum ImageLocation {
    /// A plain image file.
    File(#[serde(with = "crate::fsutil::serde_path")] PathBuf),
    /// A member of a tar shard.
    Member(TarMember),
}

/// One member of a tar shard, as found by [`super::list_shard`].
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct TarMember {
    /// The shard file.
    #[serde(with = "crate::fsutil::serde_path")]
    pub shard: PathBuf,
    /// The member's name inside the shard (`000000001.jpg`).
    pub member: String,
    /// The byte offset of the member's data in the shard.
    pub offset: u64,
    /// The member's size in bytes.
    pub size: u64,
}

impl From<PathBuf> for ImageLocation {
    fn from(path: PathBuf) -> Self {
        Self::File(path)
    }
}

impl From<&Path> for ImageLocation {
    fn from(path: &Path) -> Self {
        Self::File(path.to_path_buf())
    }
}

impl Default for ImageLocation {
    fn default() -> Self {
        Self::File(PathBuf::new())
    }
}

impl ImageLocation {
    /// The file itself, or the shard holding the member.
    pub fn file(&self) -> &Path {
        match self {
            Self::File(path) => path,
            Self::Member(member) => &member.shard,
        }
    }

    /// The member, when this is one.
    pub fn member(&self) -> Option<&TarMember> {
        match self {
            Self::File(_) => None,
            Self::Member(member) => Some(member),
        }
    }

    /// A name for messages and file names: the path, or `SHARD/MEMBER`.
    pub fn display(&self) -> String {
        match self {
            Self::File(path) => path.display().to_string(),
            Self::Member(member) => format!("{}/{}", member.shard.display(), member.member),
        }
    }

    /// The file name to give a copy of this image (`x.png`, or the member's own name).
    pub fn file_name(&self) -> String {
        match self {
            Self::File(path) => path
                .file_name()
                .map_or_else(|| "image".into(), |n| n.to_string_lossy().into_owned()),
            Self::Member(member) => member
                .member
                .rsplit('/')
                .next()
                .unwrap_or("image")
                .to_string(),
        }
    }

    /// Bytes that identify this location in caches: a file's path bytes (as earlier caches
    /// stored them), or the shard's path, the member's offset and its name.
    pub fn cache_key(&self) -> Vec<u8> {
        match self {
            Self::File(path) => path.as_os_str().as_encoded_bytes().to_vec(),
            Self::Member(member) => {
                let mut key = member.shard.as_os_str().as_encoded_bytes().to_vec();
                key.extend_from_slice(format!("\0{}\0", member.offset).as_bytes());
                key.extend_from_slice(member.member.as_bytes());
                key
            }
        }
    }

    /// Reads the image's bytes: the whole file, or the member's bytes at its offset (one seek
    /// and one read; the rest of the shard is not touched). Refuses more than `max_bytes`.
    pub fn read(&self, max_bytes: u64) -> std::io::Result<Vec<u8>> {
        let too_large = |size: u64| {
            std::io::Error::other(format!(
                "it is {} MiB, over the {} MiB limit for one image; re-encode it smaller to include it",
                size / (1024 * 1024),
                max_bytes / (1024 * 1024)
            ))
        };
        match self {
            Self::File(path) => {
                let file = std::fs::File::open(path)?;
                let size = file.metadata()?.len();
                if size > max_bytes {
                    return Err(too_large(size));
                }
                let mut bytes = Vec::with_capacity(size as usize);
                file.take(max_bytes).read_to_end(&mut bytes)?;
                Ok(bytes)
            }
            Self::Member(member) => {
                if member.size > max_bytes {
                    return Err(too_large(member.size));
                }
                let file = std::fs::File::open(&member.shard)?;
                let len = file.metadata()?.len();
                if member.offset.saturating_add(member.size) > len {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        format!(
                            "the shard is {len} bytes, shorter than the member's end at byte {}; it was cut short or rewritten since the scan: scan again",
                            member.offset + member.size
                        ),
                    ));
                }
                let mut bytes = vec![0u8; member.size as usize];
                read_exact_at(&file, &mut bytes, member.offset)?;
                Ok(bytes)
            }
        }
    }
}

#[cfg(unix)]
fn read_exact_at(file: &std::fs::File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(not(unix))]
fn read_exact_at(file: &std::fs::File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    use std::io::{Seek, SeekFrom};
    let mut file = file;
    file.seek(SeekFrom::Start(offset))?;
    file.read_exact(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_location_serialises_as_its_path_as_earlier_projects_stored_it() {
        let file = ImageLocation::File("/t/x.png".into());
        assert_eq!(serde_json::to_string(&file).expect("json"), "\"/t/x.png\"");
        let back: ImageLocation = serde_json::from_str("\"/t/x.png\"").expect("parse");
        assert_eq!(back, file);
        let member = ImageLocation::Member(TarMember {
            shard: "/t/00000.tar".into(),
            member: "000000001.jpg".into(),
            offset: 1536,
            size: 20,
        });
        let json = serde_json::to_string(&member).expect("json");
        let back: ImageLocation = serde_json::from_str(&json).expect("parse");
        assert_eq!(back, member);
        assert_eq!(member.display(), "/t/00000.tar/000000001.jpg");
        assert_ne!(member.cache_key(), file.cache_key());
    }

    #[test]
    fn a_member_is_read_at_its_offset_and_a_short_shard_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let shard = dir.path().join("s.tar");
        std::fs::write(&shard, b"0123456789abcdef").expect("write");
        let member = |offset, size| {
            ImageLocation::Member(TarMember {
                shard: shard.clone(),
                member: "m.jpg".into(),
                offset,
                size,
            })
        };
        assert_eq!(member(10, 4).read(1024).expect("read"), b"abcd");
        let err = member(10, 40).read(1024).expect_err("short");
        assert!(err.to_string().contains("cut short"), "{err}");
        let err = member(0, 4).read(2).expect_err("limit");
        assert!(err.to_string().contains("limit"), "{err}");
    }
}
