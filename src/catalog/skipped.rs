//! What cataloguing could not use: files skipped (with the side they were on and why), and
//! tar shards that ended early.

/// Which side of the comparison a file belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Side {
    /// The generated images under audit.
    Generation,
    /// The training set.
    Training,
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Generation => "generation",
            Self::Training => "training",
        })
    }
}

/// A file the scan could not use, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SkippedFile {
    /// Which folder it was in.
    pub side: Side,
    /// Its path, relative to its folder.
    pub path: String,
    /// What went wrong and what to do.
    pub reason: String,
}

/// A tar shard that ended early: the members before the cut were used, the rest is lost.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TruncatedShard {
    /// Which side it was on.
    pub side: Side,
    /// The shard, as named in results (`SHARD.tar`, prefixed like its members).
    pub shard: String,
    /// Image members read before the cut.
    pub members_read: usize,
    /// Where it was cut and what was lost.
    pub detail: String,
}
