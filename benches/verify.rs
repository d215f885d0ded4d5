//! Verification's cost per candidate (`cargo bench --bench verify`): `Verifier::verify` on two
//! 32x32 layout thumbnails (gradient structure, 25 shifts, the 4x4 cell grid), beside the
//! layout agreement the re-rank already computed for each candidate, in one run. The
//! thumbnails are made-up textures; the work does not depend on their values.

use criterion::{Criterion, criterion_group, criterion_main};
use replicant::ranking::layout::{layout_agreement, signature_from_luma};
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
}

criterion_group!(benches, bench);
criterion_main!(benches);
