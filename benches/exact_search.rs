//! The report's exact baseline search: `ExactIndex::search` (vectors in one block, eight-lane
//! dot products, every core above 32,768 vectors, a partial selection of the best k) against
//! the plain way it replaced (a vector per allocation, one running sum, a full sort), in one
//! run: `cargo bench --bench exact_search`. Vectors are random unit vectors of 512
//! dimensions; the work per query does not depend on their values.

use criterion::{Criterion, criterion_group, criterion_main};
use replicant::index::TrainingIndex;
use replicant::index::exact::ExactIndex;

const DIMS: usize = 512;
const VECTORS: u64 = 100_000;
/// The baseline's neighbours per sampled image (DUPLICATE_NEIGHBOURS + 1).
const K: usize = 257;

fn unit_vectors(n: u64) -> Vec<(u64, Vec<f32>)> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    (0..n)
        .map(|key| {
            let mut v: Vec<f32> = (0..DIMS)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state % 2001) as f32 / 1000.0 - 1.0
                })
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
    let index = ExactIndex::of(DIMS, vectors.clone()).expect("index");
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
