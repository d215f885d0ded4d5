//! Verification: a second look at a generation's top candidates with local evidence. Global
//! descriptors (SSCD, and the coarse layout of [`crate::ranking::layout`]) rank a restyled
//! copy's content photo near, not always at, the top: a colour or style transfer changes the
//! colours, textures and the luminance that both read, and keeps the geometry. Verification
//! compares the geometry itself, in the 32x32 layout thumbnails every image already has (the
//! cache, embedding parts and prebuilt indexes all store them, so no image is read again): the
//! orientation of the luminance gradient at each pixel, with the sign folded away (a colour
//! transfer can darken what was light), weighted by how strong the edge is, after the best
//! small shift (up to [`MAX_SHIFT`] pixels either way: a slight crop or resize). Its score is
//! the agreement of the two gradient fields (-1 to 1), reported beside SSCD's similarity and
//! added to the ranking score with a weight; a 4x4 grid of local agreements shows the reviewer
//! where the structure agrees. How the weight was chosen: `docs/tuning.md`, "Verification".

/// How far the candidate's thumbnail is shifted against the generation's, in thumbnail pixels
/// (a 32-pixel side: one pixel is about 3% of the frame).
pub const MAX_SHIFT: i32 = 2;

/// Cells per side of the agreement grid the desk shows.
pub const GRID: usize = 4;

/// How much the verification score counts against SSCD similarity when ranking (0: it is
/// reported but does not rank).
pub const VERIFY_WEIGHT: f32 = 0.2;

/// What verification found for one candidate.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Verification {
    /// Agreement of the two images' gradient structure after the best shift (-1 to 1; about 0
    /// for unrelated images, 1 for the same geometry).
    pub score: f32,
    /// The best shift of the training image against the generation, in thumbnail pixels
    /// (`[dx, dy]`, each within ±[`MAX_SHIFT`] of a 32-pixel side).
    pub shift: [i8; 2],
    /// Local agreement in a [`GRID`]x[`GRID`] grid over the generation, row by row (-1 to 1;
    /// 0 where either image is flat).
    pub cells: Vec<f32>,
}

/// Which gradient comparison verification uses (all three were measured; see the docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Structure {
    /// Gradient orientation with the sign folded away (doubled angle), weighted by strength.
    #[default]
    Orientation,
    /// The signed gradient vectors.
    Gradient,
    /// Gradient magnitude (edge strength), zero-mean.
    Edges,
}

impl Structure {
    /// Its name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Orientation => "orientation",
            Self::Gradient => "gradient",
            Self::Edges => "edges",
        }
    }

    /// Parses `orientation`, `gradient` or `edges`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "orientation" => Some(Self::Orientation),
            "gradient" => Some(Self::Gradient),
            "edges" => Some(Self::Edges),
            _ => None,
        }
    }
}

/// A thumbnail's structure field: two values a pixel over the interior (the border has no
/// central difference), unit norm over the whole field.
pub(crate) struct Field {
    /// Pixels per side of the interior.
    pub(crate) side: usize,
    /// Row by row.
    pub(crate) values: Vec<[f32; 2]>,
}

/// The structure field of a square thumbnail (luminance 0-255); `None` when it is flat or not
/// square. Structure candidates ([`crate::ranking::structure`]) pool the same field.
pub(crate) fn field(luma: &[f32], structure: Structure) -> Option<Field> {
    // Square thumbnails only (the layout thumbnails are 32x32).
    let n = (luma.len() as f64).sqrt().round() as usize;
    if n < 4 || luma.len() != n * n {
        return None;
    }
    let side = n - 2;
    let at = |x: usize, y: usize| luma[y * n + x];
    let mut values = Vec::with_capacity(side * side);
    for y in 1..n - 1 {
        for x in 1..n - 1 {
            // Sobel: smooths across the derivative, so a texture's pixel noise counts less.
            let gx = (at(x + 1, y - 1) + 2.0 * at(x + 1, y) + at(x + 1, y + 1))
                - (at(x - 1, y - 1) + 2.0 * at(x - 1, y) + at(x - 1, y + 1));
            let gy = (at(x - 1, y + 1) + 2.0 * at(x, y + 1) + at(x + 1, y + 1))
                - (at(x - 1, y - 1) + 2.0 * at(x, y - 1) + at(x + 1, y - 1));
            values.push(match structure {
                Structure::Gradient => [gx, gy],
                Structure::Orientation => {
                    // (gx + i gy)^2 / |g|: the doubled angle, with the edge's strength.
                    let m = (gx * gx + gy * gy).sqrt();
                    if m > 0.0 {
                        [(gx * gx - gy * gy) / m, 2.0 * gx * gy / m]
                    } else {
                        [0.0, 0.0]
                    }
                }
                Structure::Edges => [(gx * gx + gy * gy).sqrt(), 0.0],
            });
        }
    }
    if structure == Structure::Edges {
        let mean = values.iter().map(|v| v[0]).sum::<f32>() / values.len() as f32;
        for v in &mut values {
            v[0] -= mean;
        }
    }
    let norm = values
        .iter()
        .map(|v| v[0] * v[0] + v[1] * v[1])
        .sum::<f32>()
        .sqrt();
    // A flat thumbnail has no structure to agree with.
    if norm < 1e-3 {
        return None;
    }
    for v in &mut values {
        v[0] /= norm;
        v[1] /= norm;
    }
    Some(Field { side, values })
}

/// The agreement of `a` with `b` shifted by (`dx`, `dy`) over their overlap.
fn agreement(a: &Field, b: &Field, dx: i32, dy: i32) -> f32 {
    let side = a.side as i32;
    let mut sum = 0.0;
    for y in 0.max(-dy)..side.min(side - dy) {
        for x in 0.max(-dx)..side.min(side - dx) {
            let p = a.values[(y * side + x) as usize];
            let q = b.values[((y + dy) * side + x + dx) as usize];
            sum += p[0] * q[0] + p[1] * q[1];
        }
    }
    sum
}

/// Local agreements over a [`GRID`]x[`GRID`] grid of `a`, with `b` shifted by `shift`.
fn cells(a: &Field, b: &Field, [dx, dy]: [i32; 2]) -> Vec<f32> {
    let side = a.side as i32;
    let cell = side as f32 / GRID as f32;
    let mut out = Vec::with_capacity(GRID * GRID);
    for row in 0..GRID {
        for col in 0..GRID {
            let (x0, x1) = ((col as f32 * cell) as i32, ((col + 1) as f32 * cell) as i32);
            let (y0, y1) = ((row as f32 * cell) as i32, ((row + 1) as f32 * cell) as i32);
            let (mut dot, mut na, mut nb) = (0f32, 0f32, 0f32);
            for y in y0..y1 {
                for x in x0..x1 {
                    let (u, v) = (x + dx, y + dy);
                    if u < 0 || v < 0 || u >= side || v >= side {
                        continue;
                    }
                    let p = a.values[(y * side + x) as usize];
                    let q = b.values[(v * side + u) as usize];
                    dot += p[0] * q[0] + p[1] * q[1];
                    na += p[0] * p[0] + p[1] * p[1];
                    nb += q[0] * q[0] + q[1] * q[1];
                }
            }
            out.push(if na > 0.0 && nb > 0.0 {
                dot / (na * nb).sqrt()
            } else {
                0.0
            });
        }
    }
    out
}

/// A generation's side of verification, computed once for all its candidates.
pub struct Verifier {
    generation: Field,
    structure: Structure,
}

impl Verifier {
    /// From the generation's layout thumbnail (luminance 0-255, [`crate::ranking::layout::LAYOUT_SIDE`]² values);
    /// `None` when it is missing or flat.
    pub fn new(generation: &[f32], structure: Structure) -> Option<Self> {
        Some(Self {
            generation: field(generation, structure)?,
            structure,
        })
    }

    /// Verifies a candidate by its layout thumbnail: the agreement of the two structures after
    /// the best shift; `None` when the candidate's is missing or flat.
    pub fn verify(&self, candidate: &[f32]) -> Option<Verification> {
        let a = &self.generation;
        let b = field(candidate, self.structure).filter(|b| b.side == a.side)?;
        let mut best: (f32, [i32; 2]) = (f32::NEG_INFINITY, [0, 0]);
        for dy in -MAX_SHIFT..=MAX_SHIFT {
            for dx in -MAX_SHIFT..=MAX_SHIFT {
                let score = agreement(a, &b, dx, dy);
                // Ties keep the smaller shift.
                let (size, best_size) = (dx.abs() + dy.abs(), best.1[0].abs() + best.1[1].abs());
                if score > best.0 || (score == best.0 && size < best_size) {
                    best = (score, [dx, dy]);
                }
            }
        }
        let (score, shift) = best;
        Some(Verification {
            score,
            shift: [shift[0] as i8, shift[1] as i8],
            cells: cells(a, &b, shift),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const N: usize = crate::ranking::layout::LAYOUT_SIDE as usize;

    /// A thumbnail from `f(x, y)` (luminance 0-255).
    fn thumb(f: impl Fn(usize, usize) -> f32) -> Vec<f32> {
        (0..N * N).map(|i| f(i % N, i / N)).collect()
    }

    /// A scene: a bright disc and a dark bar on a mid ground, shifted by (`sx`, `sy`).
    fn scene(sx: isize, sy: isize) -> Vec<f32> {
        thumb(|x, y| {
            let (x, y) = (x as isize - sx, y as isize - sy);
            let (dx, dy) = (x - 10, y - 12);
            if dx * dx + dy * dy < 36 {
                230.0
            } else if (18..26).contains(&x) && (4..28).contains(&y) {
                30.0
            } else {
                120.0
            }
        })
    }

    #[test]
    fn the_same_geometry_agrees_in_other_tones_and_unrelated_geometry_does_not() {
        let verifier = Verifier::new(&scene(0, 0), Structure::Orientation).expect("structure");
        // Tones remapped and inverted, as a colour or style transfer may do.
        let restyled: Vec<f32> = scene(0, 0).iter().map(|v| 255.0 - 0.5 * v).collect();
        let same = verifier.verify(&restyled).expect("structure");
        let stripes = verifier
            .verify(&thumb(
                |x, y| if (x + 2 * y) % 7 < 3 { 200.0 } else { 40.0 },
            ))
            .expect("structure");
        assert!(same.score > 0.95, "restyled: {}", same.score);
        assert_eq!(same.shift, [0, 0]);
        assert!(stripes.score < 0.3, "unrelated: {}", stripes.score);
        // The cells agree where the structure is: every cell with an edge.
        assert_eq!(same.cells.len(), GRID * GRID);
        assert!(
            same.cells.iter().all(|c| *c == 0.0 || *c > 0.9),
            "{:?}",
            same.cells
        );
    }

    #[test]
    fn a_small_shift_is_found_and_flat_thumbnails_verify_nothing() {
        let verifier = Verifier::new(&scene(0, 0), Structure::Gradient).expect("structure");
        let shifted = verifier.verify(&scene(2, -1)).expect("structure");
        assert_eq!(shifted.shift, [2, -1]);
        let unshifted = Verifier::new(&scene(0, 0), Structure::Gradient)
            .and_then(|v| v.verify(&scene(0, 0)))
            .expect("structure");
        assert!(shifted.score > 0.8 * unshifted.score);
        assert!(Verifier::new(&thumb(|_, _| 90.0), Structure::Edges).is_none());
        assert!(verifier.verify(&thumb(|_, _| 90.0)).is_none());
        assert!(verifier.verify(&[1.0; 10]).is_none(), "wrong size");
    }
}
