//! A small exhaustive index held in memory: the cascade's per-generation shortlist, re-scored
//! with full SSCD, is searched through it so that matching (regions, layout re-rank, collage)
//! runs unchanged over a few dozen candidates.

use std::path::Path;
use std::sync::RwLock;

use super::{Hit, IndexError, TrainingIndex, sort_best_first};

/// Vectors kept as given; search is a dot product with each.
pub struct ExactIndex {
    dims: usize,
    vectors: RwLock<Vec<(u64, Vec<f32>)>>,
}

impl ExactIndex {
    /// An empty index of `dims`-long vectors.
    pub fn new(dims: usize) -> Self {
        Self {
            dims,
            vectors: RwLock::new(Vec::new()),
        }
    }

    /// An index of `vectors` (each `dims` long).
    pub fn of(dims: usize, vectors: Vec<(u64, Vec<f32>)>) -> Result<Self, IndexError> {
        for (key, v) in &vectors {
            check_dims(*key, v.len(), dims)?;
        }
        Ok(Self {
            dims,
            vectors: RwLock::new(vectors),
        })
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

impl TrainingIndex for ExactIndex {
    fn len(&self) -> usize {
        self.vectors.read().map_or(0, |v| v.len())
    }

    fn dims(&self) -> usize {
        self.dims
    }

    fn vector(&self, key: u64) -> Result<Option<Vec<f32>>, IndexError> {
        Ok(self
            .vectors
            .read()
            .ok()
            .and_then(|v| v.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone())))
    }

    fn is_exact(&self) -> bool {
        true
    }

    fn reserve(&self, capacity: usize, _threads: usize) -> Result<(), IndexError> {
        let mut vectors = self
            .vectors
            .write()
            .map_err(|_| IndexError::Usearch("the index lock was poisoned".into()))?;
        let more = capacity.saturating_sub(vectors.len());
        vectors.reserve(more);
        Ok(())
    }

    fn add(&self, key: u64, vector: &[f32]) -> Result<(), IndexError> {
        check_dims(key, vector.len(), self.dims)?;
        self.vectors
            .write()
            .map_err(|_| IndexError::Usearch("the index lock was poisoned".into()))?
            .push((key, vector.to_vec()));
        Ok(())
    }

    fn search(&self, query: &[f32], k: usize) -> Result<Vec<Hit>, IndexError> {
        let vectors = self
            .vectors
            .read()
            .map_err(|_| IndexError::Usearch("the index lock was poisoned".into()))?;
        let mut hits = Vec::with_capacity(vectors.len());
        for (key, vector) in vectors.iter() {
            hits.push(Hit::checked(*key, crate::embed::cosine(vector, query))?);
        }
        sort_best_first(&mut hits);
        hits.truncate(k);
        Ok(hits)
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
}
