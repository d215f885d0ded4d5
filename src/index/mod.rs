//! Nearest-neighbour search over training embeddings, behind the [`TrainingIndex`] trait (add,
//! search, save) and the [`IndexStore`] trait that creates, loads and memory-maps indexes of
//! one kind. usearch is the store here; a server store (Qdrant, say) can implement both traits
//! without the scan changing.
//!
//! The usearch index uses the cosine metric and f16 storage by default (half the memory of
//! f32; similarities differ from f32 by under 0.001). Search is exact (a scan of every vector)
//! up to [`EXACT_SEARCH_MAX`] training images, and approximate (HNSW graph) above that: a full
//! scan costs time linear in the training set (about 1 ms per query at 20,000 images of 512
//! f16 dimensions on one core), while HNSW stays near 0.1-0.3 ms and, with the expansion used
//! here, finds the true top-5 for over 99% of queries.
//!
//! [`prebuilt`] is a training index saved once and shared by many projects: the usearch file,
//! its manifest and the per-row data the ranking needs.

pub mod exact;
pub mod prebuilt;

use std::path::Path;

use usearch::{Index, IndexOptions, MetricKind, ScalarKind};

/// Training sets up to this size are searched exhaustively, so results are exact.
pub const EXACT_SEARCH_MAX: usize = 20_000;

/// Index files larger than this are memory-mapped (viewed) rather than read into memory when
/// a project's own index is reopened.
const VIEW_FROM_BYTES: u64 = 256 * 1024 * 1024;

/// The search beam of approximate search: wide, to keep recall high for the few matches
/// reported.
///
/// The graph's shape was chosen with `replicant bench index` on 200,000 clustered vectors
/// (seed 99, not the seed reported in docs/scale.md): recall@10 against exact search was 0.9895
/// with usearch's defaults (16 neighbours, beams 128/128) and 0.9986 with 32 neighbours and
/// beams of 256, at a p99 query time of 3.6 ms instead of 1.1 ms and a build four times as
/// long; at a million vectors the defaults fell to 0.90 (docs/scale.md, "The index at a million").
pub const EXPANSION_SEARCH: usize = 256;

/// Neighbours kept per vector in the HNSW graph (see [`EXPANSION_SEARCH`]).
pub const CONNECTIVITY: usize = 32;

/// The beam while adding vectors to the HNSW graph (see [`EXPANSION_SEARCH`]).
pub const EXPANSION_ADD: usize = 256;

/// How far past ±1 a cosine similarity may stray from storage rounding before it counts as
/// damage.
const SIMILARITY_SLACK: f32 = 0.02;

/// How vectors are stored in the index (`--dtype`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dtype {
    /// Full 32-bit floats.
    F32,
    /// 16-bit floats (the default).
    #[default]
    F16,
    /// 8-bit integers: smallest and fastest, similarities within about 0.01.
    I8,
}

impl Dtype {
    /// The name used on the command line and in manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::F32 => "f32",
            Self::F16 => "f16",
            Self::I8 => "i8",
        }
    }

    /// Bytes one stored vector component takes.
    pub fn bytes(self) -> usize {
        match self {
            Self::F32 => 4,
            Self::F16 => 2,
            Self::I8 => 1,
        }
    }
}

impl std::str::FromStr for Dtype {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "f32" => Ok(Self::F32),
            "f16" => Ok(Self::F16),
            "i8" => Ok(Self::I8),
            other => Err(format!("unknown dtype {other:?}; use f16, i8 or f32")),
        }
    }
}

/// One hit: the key of a training embedding and its cosine similarity to the query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    /// The key the vector was added with.
    pub key: u64,
    /// Cosine similarity, 1 for identical embeddings.
    pub similarity: f32,
}

impl Hit {
    /// A hit for `key` at `similarity` as a search computed it: rounding in f16/i8 storage
    /// strays a little past ±1 and is clamped; more, or NaN, means the stored vectors are
    /// damaged, and a similarity from them would be a lie.
    pub(crate) fn checked(key: u64, similarity: f32) -> Result<Self, IndexError> {
        if !similarity.is_finite() || similarity.abs() > 1.0 + SIMILARITY_SLACK {
            return Err(IndexError::Damaged(format!(
                "a search returned similarity {similarity} for key {key}"
            )));
        }
        Ok(Self {
            key,
            similarity: similarity.clamp(-1.0, 1.0),
        })
    }
}

/// Orders hits most similar first, equal similarities by key, so every search and shortlist
/// lists the same hits in the same order.
pub(crate) fn sort_best_first(hits: &mut [Hit]) {
    hits.sort_by(|a, b| {
        b.similarity
            .total_cmp(&a.similarity)
            .then(a.key.cmp(&b.key))
    });
}

/// Errors from the index. Each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// usearch reported an error.
    #[error("vector index error: {0}")]
    Usearch(String),
    /// The saved index could not be read.
    #[error(
        "cannot read the saved index {path}: {detail}; it will be rebuilt (delete it if this repeats)"
    )]
    Load {
        /// The file.
        path: String,
        /// What went wrong.
        detail: String,
    },
    /// The index gave a similarity that cannot be (NaN, or beyond ±1).
    #[error(
        "the training index is damaged: {0}; a project's own index is rebuilt by scanning again, a shared one must be built again (`replicant index verify` checks it)"
    )]
    Damaged(String),
    /// A prebuilt training index is missing, damaged or does not fit.
    #[error("training index {path}: {detail}")]
    Prebuilt {
        /// The index folder.
        path: String,
        /// What is wrong and what to do.
        detail: String,
    },
}

/// How to make a new index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexParams {
    /// Vector length.
    pub dims: usize,
    /// Storage type.
    pub dtype: Dtype,
}

/// A searchable set of training embeddings, keyed by `u64`.
pub trait TrainingIndex: Send + Sync {
    /// How many vectors the index holds.
    fn len(&self) -> usize;
    /// Whether the index is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The vector length.
    fn dims(&self) -> usize;
    /// Whether searches are exhaustive (exact).
    fn is_exact(&self) -> bool;
    /// Makes room for `capacity` vectors in all, added from up to `threads` threads at once.
    fn reserve(&self, capacity: usize, threads: usize) -> Result<(), IndexError>;
    /// Adds one vector; safe from several threads at once after [`Self::reserve`].
    fn add(&self, key: u64, vector: &[f32]) -> Result<(), IndexError>;
    /// The `k` nearest vectors to `query`, most similar first (ties by key).
    fn search(&self, query: &[f32], k: usize) -> Result<Vec<Hit>, IndexError>;
    /// The `k` nearest by an exhaustive scan of the stored vectors, whatever the index's size
    /// (to measure approximate search against).
    fn search_exact(&self, query: &[f32], k: usize) -> Result<Vec<Hit>, IndexError> {
        self.search(query, k)
    }
    /// Saves the index to `path` (through a temporary file, so a crash leaves no half file).
    fn save(&self, path: &Path) -> Result<(), IndexError>;
    /// The stored vector of `key` (as stored: f16 and i8 indexes give it back rounded), if
    /// the index holds it.
    fn vector(&self, _key: u64) -> Result<Option<Vec<f32>>, IndexError> {
        Ok(None)
    }
}

/// Creates, loads and memory-maps indexes of one kind, and makes exact in-memory ones.
pub trait IndexStore: Send + Sync {
    /// A new, empty index.
    fn create(&self, params: IndexParams) -> Result<Box<dyn TrainingIndex>, IndexError>;
    /// Loads a saved index into memory.
    fn open(&self, path: &Path) -> Result<Box<dyn TrainingIndex>, IndexError>;
    /// Opens a saved index as a read-only memory-mapped view (the file stays on disk; the
    /// pages searches touch are read on demand).
    fn view(&self, path: &Path) -> Result<Box<dyn TrainingIndex>, IndexError>;
    /// A new, empty index with its graph shaped as `graph` says (to measure other shapes);
    /// a store without a graph makes its usual one.
    fn create_with(
        &self,
        params: IndexParams,
        _graph: Graph,
    ) -> Result<Box<dyn TrainingIndex>, IndexError> {
        self.create(params)
    }
    /// A saved index as a memory-mapped view searched with a beam of `expansion_search`; a
    /// store without a beam opens its usual view.
    fn view_with(
        &self,
        path: &Path,
        _expansion_search: usize,
    ) -> Result<Box<dyn TrainingIndex>, IndexError> {
        self.view(path)
    }
    /// An exact index of `vectors` (each `dims` long) held in memory and searched by brute
    /// force: for re-scoring a shortlist or sampling a baseline, where every hit must be the
    /// true nearest.
    fn exact(
        &self,
        dims: usize,
        vectors: Vec<(u64, Vec<f32>)>,
    ) -> Result<Box<dyn TrainingIndex>, IndexError> {
        Ok(Box::new(exact::ExactIndex::of(dims, vectors)?))
    }
}

/// The vector store a job is given (the scan, the audit, the index build): where its
/// indexes are made and opened. The default keeps them in usearch files.
#[derive(Clone)]
pub struct VectorStore(std::sync::Arc<dyn IndexStore>);

impl VectorStore {
    /// A handle on `store`.
    pub fn new(store: impl IndexStore + 'static) -> Self {
        Self(std::sync::Arc::new(store))
    }
}

impl Default for VectorStore {
    fn default() -> Self {
        Self::new(UsearchStore)
    }
}

impl std::ops::Deref for VectorStore {
    type Target = dyn IndexStore;

    fn deref(&self) -> &Self::Target {
        self.0.as_ref()
    }
}

impl std::fmt::Debug for VectorStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VectorStore")
    }
}

/// Two handles are equal when they share one store.
impl PartialEq for VectorStore {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

/// Adds `vectors` to `index` from all cores (rayon), after reserving room for them.
pub fn add_parallel(
    index: &dyn TrainingIndex,
    vectors: &[(u64, &[f32])],
) -> Result<(), IndexError> {
    use rayon::prelude::*;
    index.reserve(
        index.len() + vectors.len(),
        rayon::current_num_threads().max(1),
    )?;
    vectors
        .par_iter()
        .try_for_each(|(key, vector)| index.add(*key, vector))
}

/// Builds an index of `vectors` (key, embedding) in `store`, adding from all cores.
pub fn build(
    store: &dyn IndexStore,
    params: IndexParams,
    vectors: &[(u64, &[f32])],
) -> Result<Box<dyn TrainingIndex>, IndexError> {
    let index = store.create(params)?;
    add_parallel(index.as_ref(), vectors)?;
    Ok(index)
}

/// Reopens an index this program saved: memory-mapped when large, else read into memory.
pub fn reopen(store: &dyn IndexStore, path: &Path) -> Result<Box<dyn TrainingIndex>, IndexError> {
    let size = std::fs::metadata(path)
        .map_err(|e| IndexError::Load {
            path: path.display().to_string(),
            detail: e.to_string(),
        })?
        .len();
    if size >= VIEW_FROM_BYTES {
        store.view(path)
    } else {
        store.open(path)
    }
}

/// The usearch file store.
#[derive(Debug, Clone, Copy, Default)]
pub struct UsearchStore;

/// A usearch index of training embeddings.
pub struct UsearchIndex {
    index: Index,
}

/// The HNSW graph's shape: how many neighbours each vector keeps and how wide the searches
/// that build and query it are. Wider means better recall, slower builds and queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Graph {
    /// Neighbours per vector (usearch's default is 16).
    pub connectivity: usize,
    /// The beam while adding vectors (usearch's default is 128).
    pub expansion_add: usize,
    /// The beam while searching.
    pub expansion_search: usize,
}

impl Default for Graph {
    fn default() -> Self {
        Self {
            connectivity: CONNECTIVITY,
            expansion_add: EXPANSION_ADD,
            expansion_search: EXPANSION_SEARCH,
        }
    }
}

fn usearch_options(params: IndexParams, graph: Graph) -> IndexOptions {
    IndexOptions {
        dimensions: params.dims,
        metric: MetricKind::Cos,
        quantization: match params.dtype {
            Dtype::F32 => ScalarKind::F32,
            Dtype::F16 => ScalarKind::F16,
            Dtype::I8 => ScalarKind::I8,
        },
        connectivity: graph.connectivity,
        expansion_add: graph.expansion_add,
        expansion_search: graph.expansion_search,
        multi: false,
    }
}

fn usearch_err(err: impl std::fmt::Display) -> IndexError {
    IndexError::Usearch(err.to_string())
}

impl UsearchIndex {
    fn wrap(index: Index, expansion_search: usize) -> Box<dyn TrainingIndex> {
        index.change_expansion_search(expansion_search);
        Box::new(Self { index })
    }
}

impl IndexStore for UsearchStore {
    /// A new, empty index with the graph shaped as `graph` says (to measure other shapes).
    fn create_with(
        &self,
        params: IndexParams,
        graph: Graph,
    ) -> Result<Box<dyn TrainingIndex>, IndexError> {
        let index = Index::new(&usearch_options(params, graph)).map_err(usearch_err)?;
        Ok(UsearchIndex::wrap(index, graph.expansion_search))
    }

    /// A saved index as a memory-mapped view, searched with a beam of `expansion_search`.
    fn view_with(
        &self,
        path: &Path,
        expansion_search: usize,
    ) -> Result<Box<dyn TrainingIndex>, IndexError> {
        let text = path.to_string_lossy();
        let index = Index::restore_view(&text).map_err(|e| IndexError::Load {
            path: text.to_string(),
            detail: e.to_string(),
        })?;
        Ok(UsearchIndex::wrap(index, expansion_search))
    }

    fn create(&self, params: IndexParams) -> Result<Box<dyn TrainingIndex>, IndexError> {
        self.create_with(params, Graph::default())
    }

    fn open(&self, path: &Path) -> Result<Box<dyn TrainingIndex>, IndexError> {
        let text = path.to_string_lossy();
        let index = Index::restore(&text).map_err(|e| IndexError::Load {
            path: text.to_string(),
            detail: e.to_string(),
        })?;
        Ok(UsearchIndex::wrap(index, EXPANSION_SEARCH))
    }

    fn view(&self, path: &Path) -> Result<Box<dyn TrainingIndex>, IndexError> {
        self.view_with(path, EXPANSION_SEARCH)
    }
}

impl TrainingIndex for UsearchIndex {
    fn len(&self) -> usize {
        self.index.size()
    }

    fn dims(&self) -> usize {
        self.index.dimensions()
    }

    fn is_exact(&self) -> bool {
        self.index.size() <= EXACT_SEARCH_MAX
    }

    fn reserve(&self, capacity: usize, threads: usize) -> Result<(), IndexError> {
        self.index
            .reserve_capacity_and_threads(capacity.max(1), threads.max(1))
            .map_err(usearch_err)
    }

    fn add(&self, key: u64, vector: &[f32]) -> Result<(), IndexError> {
        if vector.len() != self.index.dimensions() {
            return Err(IndexError::Usearch(format!(
                "a vector of {} dimensions cannot join an index of {}",
                vector.len(),
                self.index.dimensions()
            )));
        }
        self.index.add(key, vector).map_err(usearch_err)
    }

    fn search(&self, query: &[f32], k: usize) -> Result<Vec<Hit>, IndexError> {
        self.search_mode(query, k, self.is_exact())
    }

    fn search_exact(&self, query: &[f32], k: usize) -> Result<Vec<Hit>, IndexError> {
        self.search_mode(query, k, true)
    }

    fn vector(&self, key: u64) -> Result<Option<Vec<f32>>, IndexError> {
        let mut buffer = vec![0f32; self.index.dimensions()];
        let found = self.index.get(key, &mut buffer).map_err(usearch_err)?;
        Ok((found > 0).then_some(buffer))
    }

    fn save(&self, path: &Path) -> Result<(), IndexError> {
        let tmp = path.with_extension("usearch.partial");
        self.index
            .save(&tmp.to_string_lossy())
            .map_err(usearch_err)?;
        std::fs::rename(&tmp, path)
            .map_err(|e| IndexError::Usearch(format!("{}: {e}", path.display())))
    }
}

impl UsearchIndex {
    fn search_mode(&self, query: &[f32], k: usize, exact: bool) -> Result<Vec<Hit>, IndexError> {
        if self.index.size() == 0 || k == 0 {
            return Ok(Vec::new());
        }
        let k = k.min(self.index.size());
        let found = if exact {
            self.index.exact_search(query, k)
        } else {
            self.index.search(query, k)
        }
        .map_err(usearch_err)?;
        let mut hits = Vec::with_capacity(found.keys.len());
        for (&key, &distance) in found.keys.iter().zip(&found.distances) {
            hits.push(Hit::checked(key, 1.0 - distance)?);
        }
        sort_best_first(&mut hits);
        Ok(hits)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A deterministic pseudo-random unit vector (xorshift).
    pub(crate) fn unit(seed: u64, dims: usize) -> Vec<f32> {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut v: Vec<f32> = (0..dims)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state % 2001) as f32 / 1000.0 - 1.0
            })
            .collect();
        crate::embed::l2_normalise(&mut v);
        v
    }

    /// An exact float32 index of `vectors`, keyed by their position (for the tests of what
    /// searches one).
    pub(crate) fn f32_index(vectors: &[Vec<f32>]) -> Box<dyn TrainingIndex> {
        let params = IndexParams {
            dims: vectors.first().map_or(0, Vec::len),
            dtype: Dtype::F32,
        };
        build(&*VectorStore::default(), params, &keyed(vectors, 1)).expect("index")
    }

    fn keyed(vectors: &[Vec<f32>], step: u64) -> Vec<(u64, &[f32])> {
        vectors
            .iter()
            .enumerate()
            .map(|(i, v)| (i as u64 * step, v.as_slice()))
            .collect()
    }

    #[test]
    fn finds_the_nearest_vectors_with_cosine_similarity() {
        let vectors: Vec<Vec<f32>> = (0..200).map(|i| unit(i, 64)).collect();
        let params = IndexParams {
            dims: 64,
            dtype: Dtype::F16,
        };
        let index = build(&UsearchStore, params, &keyed(&vectors, 1)).expect("build");
        assert!(index.is_exact());
        assert_eq!(index.dims(), 64);
        let hits = index.search(&vectors[17], 3).expect("search");
        assert_eq!(hits[0].key, 17);
        assert!((hits[0].similarity - 1.0).abs() < 2e-3, "{hits:?}");
        assert!(hits[1].similarity <= hits[0].similarity);
    }

    #[test]
    fn saves_then_loads_and_views() {
        let vectors: Vec<Vec<f32>> = (0..50).map(|i| unit(i + 1000, 32)).collect();
        let params = IndexParams {
            dims: 32,
            dtype: Dtype::F32,
        };
        let index = build(&UsearchStore, params, &keyed(&vectors, 10)).expect("build");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("training.usearch");
        index.save(&path).expect("save");
        for reopened in [
            UsearchStore.open(&path).expect("open"),
            UsearchStore.view(&path).expect("view"),
        ] {
            assert_eq!(reopened.len(), 50);
            assert_eq!(reopened.search(&vectors[4], 1).expect("search")[0].key, 40);
        }
    }

    #[test]
    fn empty_index_gives_no_hits_and_wrong_lengths_are_refused() {
        let params = IndexParams {
            dims: 8,
            dtype: Dtype::F16,
        };
        let index = build(&UsearchStore, params, &[]).expect("build");
        assert!(index.search(&[0.0; 8], 5).expect("search").is_empty());
        index.reserve(1, 1).expect("reserve");
        assert!(index.add(1, &[0.5; 4]).is_err());
    }

    /// Regression: damaged vectors gave NaN similarities that were reported as results; a
    /// NaN (or beyond ±1) similarity is now an error naming the damage.
    #[test]
    fn a_nan_similarity_is_an_error_not_a_result() {
        let params = IndexParams {
            dims: 8,
            dtype: Dtype::F32,
        };
        let good = unit(1, 8);
        let damaged = vec![f32::NAN; 8];
        let index = build(&UsearchStore, params, &[(0, &good), (1, &damaged)]).expect("build");
        let err = index
            .search(&good, 2)
            .expect_err("NaN must not be a result");
        assert!(matches!(err, IndexError::Damaged(_)), "{err}");
        assert!(err.to_string().contains("damaged"), "{err}");
    }

    #[test]
    fn dtype_names_round_trip() {
        for dtype in [Dtype::F32, Dtype::F16, Dtype::I8] {
            assert_eq!(dtype.as_str().parse::<Dtype>(), Ok(dtype));
        }
        assert!("f64".parse::<Dtype>().is_err());
    }
}
