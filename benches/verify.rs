//! Verification's cost per candidate (`cargo bench --bench verify`): `Verifier::verify` on two
//! 32x32 layout thumbnails (gradient structure, 25 shifts, the 4x4 cell grid), beside the
//! layout agreement the re-rank already computed for each candidate, in one run. The
//! thumbnails are made-up textures; the work does not depend on their values. Beside them,
//! structure candidates' costs: one structure vector, and one search of a structure index of
//! 20,000 training images (exact, the largest exhaustive size) and of 100,000 (HNSW), against
//! one SSCD search of the same sizes (512 values) that every generation makes anyway.

use criterion::{Criterion, criterion_group, criterion_main};
use replicant::index::{Dtype, IndexParams, VectorStore, build};
use replicant::ranking::layout::{layout_agreement, signature_from_luma};
use replicant::ranking::structure::{STRUCTURE_GRID, structure_dims, structure_vector};
use replicant::ranking::verify::{Structure, Verifier};

fn thumbnail(seed: u32) -> Vec<f32> {
    (0..1024u32)
        .map(|i| ((i.wrapping_mul(2_654_435_761).wrapping_add(seed * 97) >> 7) % 256) as f32)
        .collect()
}

fn bench(c: &mut Criterion) {
    let generation = thumbnail(1);
    let candidate = thumbnail(2);
    let mut group = c.benchmark_group("per candidate");
    group.bench_function("layout agreement (the re-rank's)", |b| {
        let g = signature_from_luma(&generation);
        b.iter(|| layout_agreement(&g, &signature_from_luma(std::hint::black_box(&candidate))))
    });
    group.bench_function("verification (orientation, 25 shifts, cells)", |b| {
        let verifier = Verifier::new(&generation, Structure::Orientation).expect("structure");
        b.iter(|| verifier.verify(std::hint::black_box(&candidate)))
    });
    group.finish();
    let mut group = c.benchmark_group("per generation");
    group.bench_function("structure vector", |b| {
        b.iter(|| structure_vector(std::hint::black_box(&generation), STRUCTURE_GRID))
    });
    for (n, dims, what) in [
        (20_000, structure_dims(STRUCTURE_GRID), "structure"),
        (20_000, 512, "SSCD"),
        (100_000, structure_dims(STRUCTURE_GRID), "structure"),
        (100_000, 512, "SSCD"),
    ] {
        let vectors: Vec<(u64, Vec<f32>)> =
            (0..n as u64).map(|k| (k, unit(k as u32, dims))).collect();
        let refs: Vec<(u64, &[f32])> = vectors.iter().map(|(k, v)| (*k, v.as_slice())).collect();
        let params = IndexParams {
            dims,
            dtype: Dtype::F16,
        };
        let store = VectorStore::default();
        let index = build(&*store, params, &refs).expect("index");
        let query = unit(7, dims);
        group.bench_function(
            format!("{what} search of {n} ({dims} values), top 10"),
            |b| b.iter(|| index.search(std::hint::black_box(&query), 10)),
        );
    }
    group.finish();
}

/// A made-up unit vector.
fn unit(seed: u32, dims: usize) -> Vec<f32> {
    let v: Vec<f32> = (0..dims as u32)
        .map(|i| {
            ((i.wrapping_mul(2_654_435_761) ^ seed.wrapping_mul(40_503)) % 1000) as f32 - 500.0
        })
        .collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter().map(|x| x / norm).collect()
}

criterion_group!(benches, bench);
criterion_main!(benches);
