//! The report's exact baseline search: `ExactIndex::search` (vectors in one block, eight-lane
//! dot products, every core above 32,768 vectors, a partial selection of the best k) against
//! the plain way it replaced (a vector per allocation, one running sum, a full sort), in one
//! run: `cargo bench --bench exact_search`. Vectors are random directions in 512
//! dimensions; the work per query does not depend on their values.

use criterion::{Criterion, criterion_group, criterion_main};
use replicant::index::VectorStore;

const DIMS: usize = 512;
const VECTORS: u64 = 100_000;
/// The baseline's neighbours per sampled image (DUPLICATE_NEIGHBOURS + 1).
const K: usize = 257;

/// `n` random directions (normal components, unit length), seeded.
fn unit_vectors(n: u64) -> Vec<(u64, Vec<f32>)> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    (0..n)
        .map(|key| {
            let mut v: Vec<f32> = (0..DIMS)
                .map(|_| rng.sample::<f32, _>(rand_distr::StandardNormal))
                .collect();
            replicant::embed::l2_normalise(&mut v);
            (key, v)
        })
        .collect()
}

/// The search as it was: one in-order sum per vector, then every hit sorted.
fn plain_search(vectors: &[(u64, Vec<f32>)], query: &[f32], k: usize) -> Vec<u64> {
    let mut hits: Vec<(f32, u64)> = vectors
        .iter()
        .map(|(key, v)| (v.iter().zip(query).map(|(x, y)| x * y).sum::<f32>(), *key))
        .collect();
    hits.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    hits.truncate(k);
    hits.into_iter().map(|(_, key)| key).collect()
}

fn exact_search(c: &mut Criterion) {
    let vectors = unit_vectors(VECTORS);
    let query = vectors[4_242].1.clone();
    let index = VectorStore::default()
        .exact(DIMS, vectors.clone())
        .expect("index");
    let mut group = c.benchmark_group(format!("top-{K} of {VECTORS} x {DIMS}"));
    group.sample_size(10);
    group.bench_function("plain: in-order sums, full sort", |b| {
        b.iter(|| plain_search(&vectors, &query, K))
    });
    group.bench_function("ExactIndex::search", |b| {
        b.iter(|| index.search(&query, K).expect("search"))
    });
    group.finish();
}

criterion_group!(benches, exact_search);
criterion_main!(benches);
