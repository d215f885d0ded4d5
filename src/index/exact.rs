//! An exhaustive index held in memory: the cascade's per-generation shortlist, re-scored with
//! full SSCD, is searched through it so that matching (regions, layout re-rank, collage) runs
//! unchanged over a few dozen candidates, and the report's baseline searches the whole
//! training side through it.

use std::collections::HashMap;
use std::path::Path;
use std::sync::RwLock;

use rayon::prelude::*;

use super::{Hit, IndexError, TrainingIndex, sort_best_first};

/// Above this many vectors a search splits its dot products over every core: the report's
/// baseline searches the whole training side once per sampled image.
const PARALLEL_FROM: usize = 32_768;

/// Vectors kept as given, one after another; search is a dot product with each.
pub struct ExactIndex {
    dims: usize,
    stored: RwLock<Stored>,
}

#[derive(Default)]
struct Stored {
    keys: Vec<u64>,
    /// `keys.len() * dims` components, the i-th vector at `i * dims`.
    data: Vec<f32>,
    /// Where each key's vector is (the first, if a key was added twice).
    positions: HashMap<u64, usize>,
}

impl Stored {
    fn push(&mut self, key: u64, vector: &[f32]) {
        self.positions.entry(key).or_insert(self.keys.len());
        self.keys.push(key);
        self.data.extend_from_slice(vector);
    }
}

impl ExactIndex {
    /// An empty index of `dims`-long vectors.
    pub fn new(dims: usize) -> Self {
        Self {
            dims,
            stored: RwLock::new(Stored::default()),
        }
    }

    /// An index of `vectors` (each `dims` long).
    pub fn of(dims: usize, vectors: Vec<(u64, Vec<f32>)>) -> Result<Self, IndexError> {
        let mut stored = Stored {
            data: Vec::with_capacity(vectors.len() * dims),
            ..Stored::default()
        };
        for (key, v) in vectors {
            check_dims(key, v.len(), dims)?;
            stored.push(key, &v);
        }
        Ok(Self {
            dims,
            stored: RwLock::new(stored),
        })
    }

    /// The stored keys, in the order they were added.
    pub fn keys(&self) -> Vec<u64> {
        self.stored
            .read()
            .map_or_else(|_| Vec::new(), |s| s.keys.clone())
    }

    fn read(&self) -> Result<std::sync::RwLockReadGuard<'_, Stored>, IndexError> {
        self.stored
            .read()
            .map_err(|_| IndexError::Usearch("the index lock was poisoned".into()))
    }

    fn write(&self) -> Result<std::sync::RwLockWriteGuard<'_, Stored>, IndexError> {
        self.stored
            .write()
            .map_err(|_| IndexError::Usearch("the index lock was poisoned".into()))
    }
}

/// A vector of the wrong length is refused, naming it.
fn check_dims(key: u64, len: usize, dims: usize) -> Result<(), IndexError> {
    if len == dims {
        Ok(())
    } else {
        Err(IndexError::Usearch(format!(
            "vector {key} has {len} dimensions, the index {dims}"
        )))
    }
}

/// The best `k` of `hits`, best first, as a full sort would give them (ties by key): the
/// rest are set apart in linear time instead of sorted.
fn best_k(mut hits: Vec<Hit>, k: usize) -> Vec<Hit> {
    let order = |a: &Hit, b: &Hit| {
        b.similarity
            .total_cmp(&a.similarity)
            .then(a.key.cmp(&b.key))
    };
    if k == 0 {
        return Vec::new();
    }
    if k < hits.len() {
        hits.select_nth_unstable_by(k - 1, order);
        hits.truncate(k);
    }
    sort_best_first(&mut hits);
    hits
}

impl TrainingIndex for ExactIndex {
    fn len(&self) -> usize {
        self.stored.read().map_or(0, |s| s.keys.len())
    }

    fn dims(&self) -> usize {
        self.dims
    }

    fn vector(&self, key: u64) -> Result<Option<Vec<f32>>, IndexError> {
        let stored = self.read()?;
        Ok(stored
            .positions
            .get(&key)
            .map(|&i| stored.data[i * self.dims..(i + 1) * self.dims].to_vec()))
    }

    fn is_exact(&self) -> bool {
        true
    }

    fn reserve(&self, capacity: usize, _threads: usize) -> Result<(), IndexError> {
        let mut stored = self.write()?;
        let more = capacity.saturating_sub(stored.keys.len());
        stored.keys.reserve(more);
        stored.data.reserve(more * self.dims);
        Ok(())
    }

    fn add(&self, key: u64, vector: &[f32]) -> Result<(), IndexError> {
        check_dims(key, vector.len(), self.dims)?;
        self.write()?.push(key, vector);
        Ok(())
    }

    fn search(&self, query: &[f32], k: usize) -> Result<Vec<Hit>, IndexError> {
        let stored = self.read()?;
        let dims = self.dims.max(1);
        let hit =
            |(key, vector): (&u64, &[f32])| Hit::checked(*key, crate::embed::cosine(vector, query));
        let hits: Vec<Hit> = if stored.keys.len() >= PARALLEL_FROM {
            stored
                .keys
                .par_iter()
                .zip(stored.data.par_chunks_exact(dims))
                .map(hit)
                .collect::<Result<_, _>>()?
        } else {
            stored
                .keys
                .iter()
                .zip(stored.data.chunks_exact(dims))
                .map(hit)
                .collect::<Result<_, _>>()?
        };
        Ok(best_k(hits, k))
    }

    fn save(&self, path: &Path) -> Result<(), IndexError> {
        Err(IndexError::Usearch(format!(
            "an in-memory shortlist index is not saved ({})",
            path.display()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::tests::unit;

    #[test]
    fn ranks_by_dot_product_and_breaks_ties_by_key() {
        let a = unit(1, 8);
        let index = ExactIndex::of(8, vec![(7, a.clone()), (3, a.clone()), (5, unit(2, 8))])
            .expect("index");
        let hits = index.search(&a, 2).expect("search");
        assert_eq!(hits.iter().map(|h| h.key).collect::<Vec<_>>(), [3, 7]);
        assert!((hits[0].similarity - 1.0).abs() < 1e-5);
        assert!(ExactIndex::of(8, vec![(1, vec![0.0; 4])]).is_err());
        let broken = ExactIndex::of(8, vec![(1, vec![f32::NAN; 8])]).expect("index");
        assert!(matches!(broken.search(&a, 1), Err(IndexError::Damaged(_))));
    }

    /// The partial selection gives exactly a full sort's first k, ties included, serial and
    /// parallel, and a key's vector is found wherever it was added.
    #[test]
    fn the_best_k_are_a_full_sorts_first_k() {
        let dims = 4;
        // Few distinct directions, so many vectors tie.
        let vectors: Vec<(u64, Vec<f32>)> = (0..(PARALLEL_FROM as u64 + 500))
            .map(|i| (i * 7 % 100_003, unit(i % 13, dims)))
            .collect();
        let index = ExactIndex::of(dims, vectors.clone()).expect("index");
        let small = ExactIndex::new(dims);
        for (key, v) in vectors.iter().take(300) {
            small.add(*key, v).expect("add");
        }
        for (index, n) in [(&index, vectors.len()), (&small, 300)] {
            for q in [0u64, 5, 12] {
                let query = unit(q, dims);
                let mut all: Vec<Hit> = vectors[..n]
                    .iter()
                    .map(|(k, v)| Hit::checked(*k, crate::embed::cosine(v, &query)).expect("hit"))
                    .collect();
                sort_best_first(&mut all);
                for k in [0, 1, 10, 257, n, n + 5] {
                    let got = index.search(&query, k).expect("search");
                    assert_eq!(got, all[..k.min(n)], "k {k} of {n}");
                }
            }
        }
        let (key, v) = &vectors[12_345];
        assert_eq!(index.vector(*key).expect("vector").as_ref(), Some(v));
        assert_eq!(index.vector(1 << 40).expect("vector"), None);
        assert_eq!(index.len(), vectors.len());
    }
}
