//! Small file-system helpers shared by every layer.

use std::path::Path;

/// A temporary file in `dir` (named `PREFIX…` ending `.tmp`) that becomes an output by a rename: made
/// with mode 0666 less the umask, like any file a program writes, so a colleague can read a
/// report on a shared server where the umask allows it (a temporary file's own default,
/// 0600, would follow it through the rename).
pub fn output_temp_file(dir: &Path, prefix: &str) -> std::io::Result<tempfile::NamedTempFile> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    builder.tempfile_in(dir)
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename, so a
/// reader never sees half a file and a crash leaves the old one. The file's mode follows the
/// umask.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = output_temp_file(dir, ".replicant-")?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|err| err.error)?;
    Ok(())
}

/// The time now as RFC 3339 UTC to the second (`2026-11-25T18:26:51Z`), for manifests.
pub fn utc_now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// A file or folder name as text, losslessly: valid UTF-8 as it is, any other byte as `\xNN`
/// (so two names that differ only in bytes that are not text stay two names, where U+FFFD
/// would merge them).
pub fn display_os(name: &std::ffi::OsStr) -> String {
    if let Some(text) = name.to_str() {
        return text.to_string();
    }
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let mut out = String::new();
        for chunk in name.as_bytes().utf8_chunks() {
            out.push_str(chunk.valid());
            for byte in chunk.invalid() {
                out.push_str(&format!("\\x{byte:02X}"));
            }
        }
        out
    }
    #[cfg(not(unix))]
    {
        name.to_string_lossy().into_owned()
    }
}

/// `text` safe to print on a terminal: control characters (escape sequences, carriage
/// returns, bells) are shown as `\u{..}` instead of acting on the terminal.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(
        text.chars()
            .map(|c| {
                if c.is_control() {
                    format!("\\u{{{:x}}}", c as u32)
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// What to do about an I/O error: free space when the disk is full, else `otherwise`.
pub fn io_remedy<'a>(err: &std::io::Error, otherwise: &'a str) -> &'a str {
    if is_disk_full(err) {
        "the disk is full: free some space and run again"
    } else {
        otherwise
    }
}

/// Whether an I/O error means the disk (or quota) is full, so the message can say to free
/// space instead of suggesting damage.
pub fn is_disk_full(err: &std::io::Error) -> bool {
    err.kind() == std::io::ErrorKind::StorageFull
        || err.kind() == std::io::ErrorKind::QuotaExceeded
        || err.raw_os_error() == Some(28)
}

/// Lossless (de)serialisation of paths: a path that is UTF-8 is a JSON string, as before;
/// any other is `{"os_path_hex": "..."}`, its bytes in hex, so a file name that is not text
/// survives a round trip (serde's own form refuses to write it).
pub mod serde_path {
    use std::path::{Path, PathBuf};

    use serde::{Deserialize, Deserializer, Serializer};

    #[derive(serde::Serialize, serde::Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Text(String),
        Bytes { os_path_hex: String },
    }

    fn to_repr(path: &Path) -> Repr {
        match path.to_str() {
            Some(text) => Repr::Text(text.to_string()),
            None => Repr::Bytes {
                os_path_hex: path
                    .as_os_str()
                    .as_encoded_bytes()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect(),
            },
        }
    }

    fn from_repr(repr: Repr) -> Result<PathBuf, String> {
        match repr {
            Repr::Text(text) => Ok(PathBuf::from(text)),
            Repr::Bytes { os_path_hex } => {
                if os_path_hex.len() % 2 != 0 {
                    return Err("odd number of hex digits".into());
                }
                let bytes = (0..os_path_hex.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&os_path_hex[i..i + 2], 16))
                    .collect::<Result<Vec<u8>, _>>()
                    .map_err(|e| e.to_string())?;
                #[cfg(unix)]
                {
                    use std::os::unix::ffi::OsStringExt;
                    Ok(PathBuf::from(std::ffi::OsString::from_vec(bytes)))
                }
                #[cfg(not(unix))]
                {
                    Ok(PathBuf::from(String::from_utf8_lossy(&bytes).into_owned()))
                }
            }
        }
    }

    /// Serialises a path.
    pub fn serialize<S: Serializer>(path: &Path, serializer: S) -> Result<S::Ok, S::Error> {
        serde::Serialize::serialize(&to_repr(path), serializer)
    }

    /// Deserialises a path.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<PathBuf, D::Error> {
        from_repr(Repr::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }

    /// The same for `Option<PathBuf>`.
    pub mod option {
        use super::*;

        /// Serialises an optional path.
        pub fn serialize<S: Serializer>(
            path: &Option<PathBuf>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            serde::Serialize::serialize(&path.as_deref().map(to_repr), serializer)
        }

        /// Deserialises an optional path.
        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Option<PathBuf>, D::Error> {
            Option::<Repr>::deserialize(deserializer)?
                .map(from_repr)
                .transpose()
                .map_err(serde::de::Error::custom)
        }
    }

    /// The same for `Vec<PathBuf>`.
    pub mod vec {
        use super::*;

        /// Serialises paths.
        pub fn serialize<S: Serializer>(
            paths: &[PathBuf],
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            let reprs: Vec<Repr> = paths.iter().map(|p| to_repr(p)).collect();
            serde::Serialize::serialize(&reprs, serializer)
        }

        /// Deserialises paths.
        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Vec<PathBuf>, D::Error> {
            Vec::<Repr>::deserialize(deserializer)?
                .into_iter()
                .map(from_repr)
                .collect::<Result<_, _>>()
                .map_err(serde::de::Error::custom)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct Holder {
        #[serde(with = "serde_path")]
        path: std::path::PathBuf,
    }

    #[cfg(unix)]
    #[test]
    fn paths_that_are_not_text_round_trip_and_stay_distinct_when_shown() {
        use std::os::unix::ffi::OsStrExt;
        let a = std::ffi::OsStr::from_bytes(b"caf\xe9.png");
        let b = std::ffi::OsStr::from_bytes(b"caf\xe8.png");
        assert_eq!(display_os(a), "caf\\xE9.png");
        assert_ne!(display_os(a), display_os(b));
        let holder = Holder {
            path: std::path::PathBuf::from(a),
        };
        let json = serde_json::to_string(&holder).expect("serialise");
        assert!(json.contains("os_path_hex"), "{json}");
        assert_eq!(
            serde_json::from_str::<Holder>(&json).expect("parse"),
            holder
        );
        let plain: Holder = serde_json::from_str(r#"{"path": "/a/b.png"}"#).expect("parse");
        assert_eq!(plain.path, std::path::PathBuf::from("/a/b.png"));
    }

    #[test]
    fn control_characters_are_shown_not_run() {
        assert_eq!(printable("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(printable("plain"), "plain");
    }
}
