//! WebDataset tar shards as img2dataset writes them: per sample `KEY.jpg` (or another image
//! extension), an optional `KEY.txt` caption and an optional `KEY.json` (`caption`, `url`,
//! ...). Listing a shard reads its 512-byte headers and seeks over the data, so it costs one
//! small read per member whatever the images weigh; captions (small) are read as they pass.
//!
//! A shard cut short is listed up to the cut: the members whose data is complete count, and
//! the listing says where it was cut and what was lost.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use super::{CatalogWarning, IMAGE_EXTENSIONS};

/// Captions longer than this are cut here (a caption is a line of text; a huge one is damage
/// or an attack, and would be copied into every output).
pub const MAX_CAPTION_BYTES: u64 = 64 * 1024;

/// The tar block size.
const BLOCK: u64 = 512;

/// One image member of a shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardMember {
    /// The member's name inside the shard (`000000001.jpg`, or `dir/000000001.jpg`).
    pub name: String,
    /// The byte offset of its data in the shard.
    pub offset: u64,
    /// Its size in bytes.
    pub size: u64,
    /// The caption from `KEY.txt`, else the `caption` (or `text`, `prompt`) of `KEY.json`.
    pub caption: Option<String>,
    /// img2dataset's `key` and `url` for the sample (from `KEY.json`; the key defaults to the
    /// member's name without its extension).
    pub sample: super::ShardSample,
}

/// How a shard was cut short, and what was lost.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Truncation {
    /// Image members read before the cut (all of them count).
    pub members_read: usize,
    /// Where the cut is and what was lost.
    pub detail: String,
}

/// What a shard holds.
#[derive(Debug, Clone, Default)]
pub struct ShardListing {
    /// Its image members, in the order of the tar.
    pub members: Vec<ShardMember>,
    /// Members that are not used, with reasons (relative to the shard).
    pub warnings: Vec<CatalogWarning>,
    /// Set when the shard ends early.
    pub truncated: Option<Truncation>,
    /// Every member read, images or not (an empty shard is named).
    pub members_total: usize,
}

/// The WebDataset key of a member: its name up to the first dot of its last component.
fn sample_key(name: &str) -> &str {
    let start = name.rfind('/').map_or(0, |slash| slash + 1);
    match name[start..].find('.') {
        Some(dot) => &name[..start + dot],
        None => name,
    }
}

fn extension_of(name: &str) -> Option<String> {
    let base = name.rsplit('/').next().unwrap_or(name);
    base.rfind('.')
        .map(|dot| base[dot + 1..].to_ascii_lowercase())
}

/// What a `KEY.json` member holds that the tool keeps: the text that serves as a caption, and
/// img2dataset's `key` and `url`.
#[derive(Debug, Default)]
struct JsonFields {
    caption: Option<String>,
    key: Option<String>,
    url: Option<String>,
}

impl JsonFields {
    /// The fields of a `KEY.json`; none where it is not a JSON object.
    fn read(bytes: &[u8]) -> Self {
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
            return Self::default();
        };
        let text = |key: &str| {
            value
                .get(key)
                .and_then(|v| v.as_str())
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        };
        Self {
            caption: ["caption", "text", "prompt"]
                .iter()
                .find_map(|key| text(key)),
            key: text("key"),
            url: text("url"),
        }
    }
}

/// Reads at most [`MAX_CAPTION_BYTES`] of a member as text.
fn read_text(entry: &mut impl Read) -> std::io::Result<String> {
    let mut bytes = Vec::new();
    entry.take(MAX_CAPTION_BYTES).read_to_end(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).trim().to_string())
}

/// What a file that should be a plain tar is instead, from its first bytes: a compressed
/// file (a `.tar.gz` renamed `.tar`, say) or nothing at all.
fn not_a_tar(head: &[u8], len: u64) -> Option<String> {
    let compressed = |what: &str, tool: &str| {
        Some(format!(
            "it is {what}-compressed, not a plain tar (WebDataset shards are plain .tar files): decompress it into a plain .tar (e.g. `{tool} -dc SHARD > SHARD.plain.tar`) and scan that"
        ))
    };
    if len == 0 {
        return Some("it is empty (0 bytes): re-copy or re-download the shard".into());
    }
    if head.starts_with(&[0x1f, 0x8b]) {
        return compressed("gzip", "gzip");
    }
    if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        return compressed("zstd", "zstd");
    }
    if head.starts_with(b"BZh") {
        return compressed("bzip2", "bzip2");
    }
    if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        return compressed("xz", "xz");
    }
    None
}

/// Lists the image members of the tar shard at `path`, with their captions. Fails only when
/// the file cannot be opened; damage inside it ends the listing with [`ShardListing::truncated`].
///
/// Over 100 lines on purpose: one pass over a tar's headers, where every kind of damage (a bad
/// header, a short member, a missing end marker) is met at a different point of the same loop and
/// must end the listing with what was read so far; the member naming and captions are helpers.
pub fn list_shard(path: &Path) -> std::io::Result<ShardListing> {
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let mut head = Vec::with_capacity(8);
    (&mut file).take(8).read_to_end(&mut head)?;
    if let Some(detail) = not_a_tar(&head, len) {
        return Ok(ShardListing {
            truncated: Some(Truncation {
                members_read: 0,
                detail: format!("{detail}; no member of it was read"),
            }),
            ..ShardListing::default()
        });
    }
    file.seek(SeekFrom::Start(0))?;
    // Error texts of a damaged tar can quote its bytes: shown escaped, never raw.
    let said = |err: &std::io::Error| crate::fsutil::printable(&err.to_string()).into_owned();
    // How often each image member's name was seen: a repeat gets `#N` so that names stay
    // unique (labels and results are keyed by them).
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut archive = tar::Archive::new(std::io::BufReader::with_capacity(8 * 1024, file));
    let mut listing = ShardListing::default();
    let mut txt: HashMap<String, String> = HashMap::new();
    let mut json: HashMap<String, JsonFields> = HashMap::new();
    // The end of the last member's data, rounded up to a block: where the end-of-archive
    // marker (two zero blocks) must start.
    let mut data_end = 0u64;
    let mut cut: Option<String> = None;
    match archive.entries_with_seek() {
        Err(err) => cut = Some(format!("its first header cannot be read ({})", said(&err))),
        Ok(entries) => {
            for entry in entries {
                let mut entry = match entry {
                    Ok(entry) => entry,
                    Err(err) => {
                        cut = Some(format!(
                            "it is damaged or cut short after byte {data_end} ({})",
                            said(&err)
                        ));
                        break;
                    }
                };
                let offset = entry.raw_file_position();
                let size = entry.size();
                let name = match entry.path() {
                    Ok(name) => name
                        .components()
                        .map(|c| c.as_os_str().to_string_lossy().into_owned())
                        .collect::<Vec<_>>()
                        .join("/"),
                    Err(err) => {
                        listing.warnings.push(CatalogWarning {
                            path: format!("member at byte {offset}"),
                            reason: format!("its name cannot be read ({}); skipped", said(&err)),
                            skipped: true,
                        });
                        continue;
                    }
                };
                if offset.saturating_add(size) > len {
                    cut = Some(format!(
                        "member {name} is cut short: {} of its {size} bytes are there",
                        len.saturating_sub(offset)
                    ));
                    break;
                }
                data_end = (offset + size).div_ceil(BLOCK) * BLOCK;
                listing.members_total += 1;
                let kind = entry.header().entry_type();
                if kind.is_symlink() || kind.is_hard_link() {
                    let target = entry
                        .link_name()
                        .ok()
                        .flatten()
                        .map(|t| t.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    listing.warnings.push(CatalogWarning {
                        path: name,
                        reason: format!(
                            "a link (to {target:?}), not a file: links inside shards are not followed; skipped"
                        ),
                        skipped: true,
                    });
                    continue;
                }
                if !kind.is_file() {
                    continue;
                }
                let extension = extension_of(&name);
                let mut unique = |name: String, listing: &mut ShardListing| {
                    let count = seen.entry(name.clone()).or_insert(0);
                    *count += 1;
                    if *count == 1 {
                        return name;
                    }
                    let renamed = format!("{name}#{count}");
                    listing.warnings.push(CatalogWarning {
                        path: name.clone(),
                        reason: format!(
                            "the name {name} is used again by the member at byte {offset}; that one is named {renamed} so both can be matched and labelled"
                        ),
                        skipped: false,
                    });
                    renamed
                };
                match extension.as_deref() {
                    Some(ext) if IMAGE_EXTENSIONS.contains(&ext) => {
                        let name = unique(name, &mut listing);
                        listing.members.push(ShardMember {
                            name,
                            offset,
                            size,
                            caption: None,
                            sample: super::ShardSample::default(),
                        })
                    }
                    Some("txt") => {
                        if let Ok(text) = read_text(&mut entry) {
                            txt.insert(sample_key(&name).to_string(), text);
                        }
                    }
                    Some("json") => {
                        let mut bytes = Vec::new();
                        if entry
                            .by_ref()
                            .take(MAX_CAPTION_BYTES)
                            .read_to_end(&mut bytes)
                            .is_ok()
                        {
                            json.insert(sample_key(&name).to_string(), JsonFields::read(&bytes));
                        }
                    }
                    // Other fields (class labels, arrays, audio) are not images, but an image
                    // saved under a wrong extension is still one: sniffed by its first bytes,
                    // as in folders.
                    _ => {
                        let mut head = Vec::with_capacity(64);
                        if entry.by_ref().take(64).read_to_end(&mut head).is_ok()
                            && crate::decode::sniff_bytes(&head).is_some()
                        {
                            let name = unique(name, &mut listing);
                            listing.members.push(ShardMember {
                                name,
                                offset,
                                size,
                                caption: None,
                                sample: super::ShardSample::default(),
                            });
                        }
                    }
                }
            }
        }
    }
    if cut.is_none() && !has_end_marker(path, data_end, len) {
        cut = Some(format!(
            "it ends at byte {len} without the end-of-archive marker, so it may have been cut after its last complete member"
        ));
    }
    for member in &mut listing.members {
        let key = sample_key(&member.name);
        let fields = json.get(key);
        member.caption = txt
            .get(key)
            .filter(|t| !t.is_empty())
            .or_else(|| fields.and_then(|f| f.caption.as_ref()))
            .cloned();
        let stem = key.rsplit('/').next().unwrap_or(key);
        member.sample = super::ShardSample {
            key: fields
                .and_then(|f| f.key.clone())
                .unwrap_or_else(|| stem.to_string()),
            url: fields.and_then(|f| f.url.clone()),
        };
    }
    listing.truncated = cut.map(|detail| Truncation {
        members_read: listing.members.len(),
        detail: format!(
            "{detail}; the {} image members before the cut are used, anything after it is lost: re-copy or re-download the shard",
            listing.members.len()
        ),
    });
    Ok(listing)
}

/// Whether a zero block follows the last member's data (a tar's end-of-archive marker).
fn has_end_marker(path: &Path, data_end: u64, len: u64) -> bool {
    if data_end + BLOCK > len {
        return false;
    }
    let Ok(mut file) = std::fs::File::open(path) else {
        return false;
    };
    let mut block = [0u8; BLOCK as usize];
    file.seek(SeekFrom::Start(data_end)).is_ok()
        && file.read_exact(&mut block).is_ok()
        && block.iter().all(|&b| b == 0)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Writes a tar of `(name, bytes)` members with the `tar` crate, as img2dataset's Python
    /// `tarfile` does (regular files, end-of-archive marker).
    pub(crate) fn write_tar(path: &Path, members: &[(&str, &[u8])]) {
        let file = std::fs::File::create(path).expect("create tar");
        let mut builder = tar::Builder::new(file);
        for (name, bytes) in members {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder
                .append_data(&mut header, name, *bytes)
                .expect("append");
        }
        builder.finish().expect("finish");
    }

    #[test]
    fn lists_images_with_their_captions_and_offsets() {
        let dir = tempfile::tempdir().expect("tempdir");
        let shard = dir.path().join("00000.tar");
        write_tar(
            &shard,
            &[
                ("000000000.jpg", b"JPEG-0"),
                ("000000000.txt", b" a red barn \n"),
                (
                    "000000000.json",
                    br#"{"caption": "ignored: the txt wins", "url": "u"}"#,
                ),
                ("000000001.png", b"PNG-1"),
                (
                    "000000001.json",
                    br#"{"caption": "from json", "key": "sample-1", "url": 7}"#,
                ),
                ("000000001.cls", b"7"),
                ("000000002.webp", b"WEBP-2"),
                (
                    "000000003.svg",
                    b"\x89PNG\r\n\x1a\n a PNG under a wrong extension",
                ),
            ],
        );
        let listing = list_shard(&shard).expect("list");
        assert!(listing.truncated.is_none(), "{:?}", listing.truncated);
        let names: Vec<&str> = listing.members.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "000000000.jpg",
                "000000001.png",
                "000000002.webp",
                "000000003.svg"
            ]
        );
        let captions: Vec<Option<&str>> = listing
            .members
            .iter()
            .map(|m| m.caption.as_deref())
            .collect();
        assert_eq!(
            captions,
            [Some("a red barn"), Some("from json"), None, None]
        );
        // img2dataset's key and url from KEY.json; the member's stem where it has no key.
        let samples: Vec<(&str, Option<&str>)> = listing
            .members
            .iter()
            .map(|m| (m.sample.key.as_str(), m.sample.url.as_deref()))
            .collect();
        assert_eq!(
            samples,
            [
                ("000000000", Some("u")),
                ("sample-1", None),
                ("000000002", None),
                ("000000003", None)
            ]
        );
        let bytes = std::fs::read(&shard).expect("read");
        let m = &listing.members[1];
        assert_eq!(
            &bytes[m.offset as usize..(m.offset + m.size) as usize],
            b"PNG-1"
        );
    }

    #[test]
    fn a_shard_cut_short_keeps_the_members_before_the_cut_and_says_so() {
        let dir = tempfile::tempdir().expect("tempdir");
        let shard = dir.path().join("00001.tar");
        let big = vec![7u8; 5000];
        write_tar(
            &shard,
            &[("a.jpg", b"first"), ("b.jpg", &big), ("c.jpg", b"third")],
        );
        let full = std::fs::read(&shard).expect("read");
        // Cut inside b.jpg's data.
        std::fs::write(&shard, &full[..3000]).expect("cut");
        let listing = list_shard(&shard).expect("list");
        let names: Vec<&str> = listing.members.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["a.jpg"]);
        let cut = listing.truncated.expect("truncated");
        assert_eq!(cut.members_read, 1);
        assert!(cut.detail.contains("b.jpg is cut short"), "{}", cut.detail);

        // Cut inside the third header: a damaged header.
        let third_header = full
            .windows(5)
            .position(|w| w == b"c.jpg")
            .expect("third header");
        std::fs::write(&shard, &full[..third_header + 100]).expect("cut");
        let listing = list_shard(&shard).expect("list");
        assert_eq!(listing.members.len(), 2);
        assert!(listing.truncated.is_some());

        // Cut exactly after a member, losing the end-of-archive marker.
        let end_of_a = 512 + 512;
        std::fs::write(&shard, &full[..end_of_a]).expect("cut");
        let listing = list_shard(&shard).expect("list");
        assert_eq!(listing.members.len(), 1);
        let cut = listing.truncated.expect("no end marker");
        assert!(cut.detail.contains("end-of-archive"), "{}", cut.detail);
    }

    /// A repeated member name, a link member, an empty shard and a compressed one: each is
    /// named, none silently merged or dropped.
    #[test]
    fn repeats_links_empty_and_compressed_shards_are_named() {
        use std::io::Write;
        let dir = tempfile::tempdir().expect("tempdir");
        let shard = dir.path().join("a.tar");
        {
            let mut builder = tar::Builder::new(std::fs::File::create(&shard).expect("tar"));
            for (name, bytes) in [("dup.png", &b"one"[..]), ("dup.png", &b"two"[..])] {
                let mut header = tar::Header::new_gnu();
                header.set_size(bytes.len() as u64);
                header.set_mode(0o644);
                header.set_cksum();
                builder
                    .append_data(&mut header, name, bytes)
                    .expect("append");
            }
            let mut link = tar::Header::new_gnu();
            link.set_entry_type(tar::EntryType::Symlink);
            link.set_size(0);
            builder
                .append_link(&mut link, "l.png", "/etc/passwd")
                .expect("link");
            builder.finish().expect("finish");
        }
        let listing = list_shard(&shard).expect("list");
        let names: Vec<&str> = listing.members.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["dup.png", "dup.png#2"]);
        let bytes = std::fs::read(&shard).expect("read");
        let second = &listing.members[1];
        assert_eq!(
            &bytes[second.offset as usize..(second.offset + second.size) as usize],
            b"two"
        );
        let said: Vec<(&str, bool)> = listing
            .warnings
            .iter()
            .map(|w| (w.path.as_str(), w.skipped))
            .collect();
        assert_eq!(
            said,
            [("dup.png", false), ("l.png", true)],
            "{:?}",
            listing.warnings
        );
        assert!(listing.warnings[1].reason.contains("link"));

        let empty = dir.path().join("empty.tar");
        write_tar(&empty, &[]);
        let listing = list_shard(&empty).expect("list");
        assert!(listing.truncated.is_none() && listing.members_total == 0);

        let zero = dir.path().join("zero.tar");
        std::fs::write(&zero, b"").expect("zero");
        let cut = list_shard(&zero).expect("list").truncated.expect("named");
        assert!(cut.detail.contains("empty (0 bytes)"), "{}", cut.detail);

        let gz = dir.path().join("gz.tar");
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(&bytes).expect("gzip");
        std::fs::write(&gz, encoder.finish().expect("gzip")).expect("write");
        let cut = list_shard(&gz).expect("list").truncated.expect("named");
        assert!(cut.detail.contains("gzip-compressed"), "{}", cut.detail);
        assert!(
            !cut.detail.chars().any(char::is_control),
            "{:?}",
            cut.detail
        );
    }

    #[test]
    fn keys_follow_webdataset() {
        assert_eq!(sample_key("000000001.jpg"), "000000001");
        assert_eq!(sample_key("dir/a.b.seg.png"), "dir/a");
        assert_eq!(sample_key("noext"), "noext");
    }
}
