//! Structure candidates: training images drawn by the geometry of their layout thumbnail, beside
//! SSCD's nearest, so that verification ([`crate::ranking::verify`]) can judge a source that
//! SSCD never ranks near the top. A style or colour transfer keeps the geometry of its content
//! photo and changes the colours and textures SSCD reads; with a few hundred training images a
//! restyled photo's source can sit at SSCD rank 50, and with millions it would be out of any
//! pool. Re-ranking a larger SSCD pool cannot reach it at scale, so the training images are also
//! indexed by a structure vector: the gradient orientation field verification compares (sign
//! folded away, weighted by edge strength), pooled into a coarse grid so that a pixel or two of
//! crop or resize still agrees, unit norm, searched by cosine. Each candidate it draws is then
//! scored by SSCD (its similarity computed from the stored embeddings: the reported similarity
//! stays SSCD's) and ranked with the others by the usual score. How the grid and the number of
//! candidates were chosen: `docs/tuning.md`, "Structure candidates".

use crate::ranking::verify::{Structure, field};

/// Cells per side of the pooled grid (the 30x30 interior of a 32x32 thumbnail's gradient).
pub const STRUCTURE_GRID: usize = 15;

/// Training images drawn per generation by structure, beside SSCD's pool.
pub const STRUCTURE_CANDIDATES: usize = 3;

/// The structure vector of a layout thumbnail (luminance 0-255, 32x32): two values a cell of a
/// `grid`x`grid` pooling of the orientation field, unit norm. `None` when the thumbnail is
/// missing, of another size, flat, or `grid` is 0.
pub fn structure_vector(luma: &[f32], grid: usize) -> Option<Vec<f32>> {
    if grid == 0 {
        return None;
    }
    let pooled_field = field(luma, Structure::Orientation)?;
    let (side, values) = (pooled_field.side, pooled_field.values);
    let grid = grid.min(side);
    let mut pooled = vec![0f32; 2 * grid * grid];
    for y in 0..side {
        for x in 0..side {
            let cell = (y * grid / side) * grid + x * grid / side;
            let v = values[y * side + x];
            pooled[2 * cell] += v[0];
            pooled[2 * cell + 1] += v[1];
        }
    }
    let norm = pooled.iter().map(|v| v * v).sum::<f32>().sqrt();
    // Orientations that cancel within every cell (a fine texture) leave nothing to search by.
    if norm < 1e-6 {
        return None;
    }
    for v in &mut pooled {
        *v /= norm;
    }
    Some(pooled)
}

/// The finest grid: one cell a pixel of the gradient's interior (30x30 for the 32x32 layout
/// thumbnail, whose border has no central difference).
pub const MAX_GRID: usize = 30;

/// The dimension of [`structure_vector`] for `grid`.
pub fn structure_dims(grid: usize) -> usize {
    let grid = grid.min(MAX_GRID);
    2 * grid * grid
}

#[cfg(test)]
mod tests {
    use super::*;

    const N: usize = crate::ranking::layout::LAYOUT_SIDE as usize;

    fn thumb(f: impl Fn(usize, usize) -> f32) -> Vec<f32> {
        (0..N * N).map(|i| f(i % N, i / N)).collect()
    }

    fn cosine(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    /// A disc and a bar on a mid ground, shifted by `s` pixels to the right.
    fn scene(s: usize) -> Vec<f32> {
        thumb(|x, y| {
            let x = x as isize - s as isize;
            let (dx, dy) = (x - 10, y as isize - 12);
            if dx * dx + dy * dy < 36 {
                230.0
            } else if (18..26).contains(&x) && (4..28).contains(&(y as isize)) {
                30.0
            } else {
                120.0
            }
        })
    }

    #[test]
    fn restyled_geometry_is_nearer_than_other_geometry() {
        let grid = STRUCTURE_GRID;
        let original = structure_vector(&scene(0), grid).expect("structure");
        assert_eq!(original.len(), structure_dims(grid));
        let norm: f32 = original.iter().map(|v| v * v).sum();
        assert!((norm - 1.0).abs() < 1e-4, "{norm}");
        // Tones inverted and compressed, shifted by a pixel: a restyled, slightly cropped copy.
        let restyled: Vec<f32> = scene(1).iter().map(|v| 255.0 - 0.4 * v).collect();
        let restyled = structure_vector(&restyled, grid).expect("structure");
        let stripes = thumb(|x, y| if (x + 2 * y) % 7 < 3 { 200.0 } else { 40.0 });
        let stripes = structure_vector(&stripes, grid).expect("structure");
        let (same, other) = (cosine(&original, &restyled), cosine(&original, &stripes));
        assert!(same > 0.6, "restyled copy: {same}");
        assert!(other < 0.2, "unrelated: {other}");
    }

    #[test]
    fn flat_or_missing_thumbnails_have_no_structure() {
        assert!(structure_vector(&thumb(|_, _| 90.0), STRUCTURE_GRID).is_none());
        assert!(structure_vector(&[1.0; 10], STRUCTURE_GRID).is_none());
        assert!(structure_vector(&scene(0), 0).is_none());
        assert_eq!(MAX_GRID, N - 2);
        assert_eq!(structure_dims(15), 450);
        assert_eq!(structure_dims(100), 2 * 30 * 30);
    }
}
