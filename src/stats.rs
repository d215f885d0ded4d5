//! The statistics an audit report must be able to defend: Wilson intervals for rates,
//! percentiles, bootstrap intervals for means, Cohen's and Fleiss' kappa for agreement, the
//! calibrated threshold from labelled pairs, and a copy rate estimated band by band. Each is
//! the textbook formula, written out so a reader can re-derive every number.

use rand::{Rng, SeedableRng};

/// The normal quantile for a two-sided 95% interval.
pub const Z95: f64 = 1.959_963_984_540_054;

/// A count out of a total, with its Wilson 95% interval.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Rate {
    /// How many.
    pub count: usize,
    /// Out of how many.
    pub total: usize,
    /// `count / total` (0 when the total is 0).
    pub value: f64,
    /// The Wilson score interval at 95%.
    pub ci95: [f64; 2],
}

impl Rate {
    /// `count` of `total`, with its interval.
    pub fn of(count: usize, total: usize) -> Self {
        Self {
            count,
            total,
            value: if total == 0 {
                0.0
            } else {
                count as f64 / total as f64
            },
            ci95: wilson(count, total, Z95),
        }
    }
}

/// The Wilson score interval of `k` successes in `n` trials at normal quantile `z`:
/// `(p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)`. `[0, 1]` when `n` is 0.
pub fn wilson(k: usize, n: usize, z: f64) -> [f64; 2] {
    if n == 0 {
        return [0.0, 1.0];
    }
    let n = n as f64;
    let p = k as f64 / n;
    let z2 = z * z;
    let centre = p + z2 / (2.0 * n);
    let half = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    let denominator = 1.0 + z2 / n;
    [
        ((centre - half) / denominator).max(0.0),
        ((centre + half) / denominator).min(1.0),
    ]
}

/// The `q`-th percentile (0-100) of `values` by linear interpolation between closest ranks
/// (NumPy's default); `None` when empty.
pub fn percentile(values: &[f32], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted: Vec<f64> = values.iter().map(|&v| f64::from(v)).collect();
    sorted.sort_by(f64::total_cmp);
    let position = (q / 100.0).clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let low = position.floor() as usize;
    let high = position.ceil() as usize;
    let fraction = position - low as f64;
    Some(sorted[low] + (sorted[high] - sorted[low]) * fraction)
}

/// The 50th, 90th, 95th and 99th percentiles.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
}

impl Percentiles {
    /// Of `values`; `None` when empty.
    pub fn of(values: &[f32]) -> Option<Self> {
        Some(Self {
            p50: percentile(values, 50.0)?,
            p90: percentile(values, 90.0)?,
            p95: percentile(values, 95.0)?,
            p99: percentile(values, 99.0)?,
        })
    }
}

/// The share of `values` in each of `bins` equal bins over 0 to 1 (values outside are put in
/// the first or last bin), for histograms of similarities.
pub fn bin_shares(values: &[f32], bins: usize) -> Vec<f64> {
    let bins = bins.max(1);
    let mut counts = vec![0usize; bins];
    for v in values {
        let bin = (v.clamp(0.0, 0.999_9) * bins as f32) as usize;
        counts[bin.min(bins - 1)] += 1;
    }
    let n = values.len().max(1) as f64;
    counts.into_iter().map(|c| c as f64 / n).collect()
}

/// The mean of `values`; `None` when empty.
pub fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// A percentile bootstrap 95% interval of the mean of `values`: `resamples` resamples with
/// replacement from a generator seeded with `seed`, the 2.5th and 97.5th percentiles of their
/// means. `None` when empty.
pub fn bootstrap_mean_ci(values: &[f64], resamples: usize, seed: u64) -> Option<[f64; 2]> {
    if values.is_empty() {
        return None;
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let n = values.len();
    let means: Vec<f32> = (0..resamples.max(1))
        .map(|_| {
            let sum: f64 = (0..n).map(|_| values[rng.gen_range(0..n)]).sum();
            (sum / n as f64) as f32
        })
        .collect();
    Some([percentile(&means, 2.5)?, percentile(&means, 97.5)?])
}

/// Cohen's kappa of two raters' labels on the same items (`categories` possible values,
/// given as indices): `(po - pe) / (1 - pe)`. `None` with no items, or when chance agreement is
/// already complete (`pe` = 1).
pub fn cohen_kappa(pairs: &[(usize, usize)], categories: usize) -> Option<f64> {
    if pairs.is_empty() {
        return None;
    }
    let n = pairs.len() as f64;
    let mut a = vec![0f64; categories];
    let mut b = vec![0f64; categories];
    let mut agree = 0f64;
    for &(x, y) in pairs {
        a[x] += 1.0;
        b[y] += 1.0;
        if x == y {
            agree += 1.0;
        }
    }
    let po = agree / n;
    let pe: f64 = a.iter().zip(&b).map(|(x, y)| (x / n) * (y / n)).sum();
    ((1.0 - pe).abs() > 1e-12).then(|| (po - pe) / (1.0 - pe))
}

/// Fleiss' kappa over items each rated by the same number of raters (`counts[i][c]`: how many
/// raters put item `i` in category `c`). `None` with no items, fewer than two raters per item,
/// unequal rater counts, or complete chance agreement.
pub fn fleiss_kappa(counts: &[Vec<usize>]) -> Option<f64> {
    let raters: usize = counts.first()?.iter().sum();
    if raters < 2 || counts.iter().any(|row| row.iter().sum::<usize>() != raters) {
        return None;
    }
    let items = counts.len() as f64;
    let r = raters as f64;
    let categories = counts[0].len();
    let mut p_c = vec![0f64; categories];
    let mut p_bar = 0f64;
    for row in counts {
        let agreeing: f64 = row.iter().map(|&c| (c * c) as f64).sum::<f64>() - r;
        p_bar += agreeing / (r * (r - 1.0));
        for (total, &c) in p_c.iter_mut().zip(row) {
            *total += c as f64;
        }
    }
    p_bar /= items;
    let pe: f64 = p_c.iter().map(|t| (t / (items * r)).powi(2)).sum();
    ((1.0 - pe).abs() > 1e-12).then(|| (p_bar - pe) / (1.0 - pe))
}

/// The calibrated threshold from labelled pairs `(similarity, is_copy)`: the lowest
/// similarity `s` among them such that the pairs at or above `s` reach `target` precision.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Calibration {
    /// The precision asked for.
    pub target_precision: f64,
    /// The threshold; `None` when no similarity reaches the target.
    pub threshold: Option<f64>,
    /// The precision of the pairs at or above it.
    pub precision: Option<f64>,
    /// The share of labelled copies at or above it.
    pub recall: Option<f64>,
    /// Labelled pairs used.
    pub labelled_pairs: usize,
}

/// See [`Calibration`].
pub fn calibrate(pairs: &[(f32, bool)], target: f64) -> Calibration {
    let copies = pairs.iter().filter(|(_, copy)| *copy).count();
    let mut best = None;
    let mut candidates: Vec<f32> = pairs.iter().map(|(s, _)| *s).collect();
    candidates.sort_by(f32::total_cmp);
    candidates.dedup();
    for &s in &candidates {
        let above: Vec<bool> = pairs
            .iter()
            .filter(|(x, _)| *x >= s)
            .map(|(_, c)| *c)
            .collect();
        let hits = above.iter().filter(|c| **c).count();
        let precision = hits as f64 / above.len() as f64;
        if precision >= target {
            best = Some((
                f64::from(s),
                precision,
                if copies == 0 {
                    0.0
                } else {
                    hits as f64 / copies as f64
                },
            ));
            break;
        }
    }
    Calibration {
        target_precision: target,
        threshold: best.map(|b| b.0),
        precision: best.map(|b| b.1),
        recall: best.map(|b| b.2),
        labelled_pairs: pairs.len(),
    }
}

/// One point of a precision-recall curve: at or above `threshold`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PrPoint {
    /// The similarity.
    pub threshold: f64,
    /// Precision of the pairs at or above it.
    pub precision: f64,
    /// Share of all labelled copies at or above it.
    pub recall: f64,
}

/// The precision-recall curve over every distinct similarity of `pairs`, highest first.
pub fn pr_curve(pairs: &[(f32, bool)]) -> Vec<PrPoint> {
    let copies = pairs.iter().filter(|(_, c)| *c).count();
    let mut sims: Vec<f32> = pairs.iter().map(|(s, _)| *s).collect();
    sims.sort_by(|a, b| b.total_cmp(a));
    sims.dedup();
    sims.into_iter()
        .map(|s| {
            let above = pairs.iter().filter(|(x, _)| *x >= s).count();
            let hits = pairs.iter().filter(|(x, c)| *x >= s && *c).count();
            PrPoint {
                threshold: f64::from(s),
                precision: hits as f64 / above.max(1) as f64,
                recall: if copies == 0 {
                    0.0
                } else {
                    hits as f64 / copies as f64
                },
            }
        })
        .collect()
}

/// The width of a similarity band.
pub const BAND: f32 = 0.05;

/// The band of a similarity: `floor(s / 0.05)`, so band 10 holds [0.50, 0.55); the last
/// band, [0.95, 1.00], holds 1.0 too.
pub fn band_of(similarity: f32) -> i32 {
    (similarity.min(0.9999) / BAND + 1e-6).floor() as i32
}

/// One band's generations and labelled pairs.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BandPrecision {
    /// The band's lower edge.
    pub from: f32,
    /// Generations whose highest similarity is in the band.
    pub generations: usize,
    /// Labelled generations in the band (their top pair labelled).
    pub labelled: usize,
    /// Of those, copies (full or near).
    pub copies: usize,
}

/// A copy rate estimated band by band: each band's generations times its labelled precision,
/// summed, over all generations, with a normal 95% interval from the bands' binomial
/// variances (`N_b² p_b (1 - p_b) / n_b`). Bands without labels add nothing and are counted
/// in `unlabelled_generations`, so the estimate is a lower bound when that is not 0.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CopyRateEstimate {
    /// The estimated share of all generations that are copies.
    pub value: f64,
    /// Its 95% interval.
    pub ci95: [f64; 2],
    /// Generations in bands with no label.
    pub unlabelled_generations: usize,
    /// The bands.
    pub bands: Vec<BandPrecision>,
}

/// See [`CopyRateEstimate`]. `None` when there are no generations.
pub fn estimate_copy_rate(bands: &[BandPrecision]) -> Option<CopyRateEstimate> {
    let total: usize = bands.iter().map(|b| b.generations).sum();
    if total == 0 {
        return None;
    }
    let n = total as f64;
    let mut copies = 0f64;
    let mut variance = 0f64;
    let mut unlabelled = 0usize;
    for band in bands {
        if band.labelled == 0 {
            unlabelled += band.generations;
            continue;
        }
        let p = band.copies as f64 / band.labelled as f64;
        let size = band.generations as f64;
        copies += size * p;
        variance += size * size * p * (1.0 - p) / band.labelled as f64;
    }
    let value = copies / n;
    let half = Z95 * variance.sqrt() / n;
    Some(CopyRateEstimate {
        value,
        ci95: [(value - half).max(0.0), (value + half).min(1.0)],
        unlabelled_generations: unlabelled,
        bands: bands.to_vec(),
    })
}

/// One-sided Fisher's exact test (the alternative: "greater") of the 2x2 table
/// `[[a, b], [c, d]]`: the probability, with the margins fixed, of a count in the top-left
/// cell of `a` or more. For prompt phrases, `a` generations with the phrase were replicated
/// and `b` were not, `c` and `d` likewise without it: a small value says the phrase goes with
/// copying more than chance would. Testing many tables of one total, build one
/// [`FisherTables`] and ask it instead: this builds its log-factorials anew.
pub fn fisher_exact_greater(a: usize, b: usize, c: usize, d: usize) -> f64 {
    FisherTables::new(a + b + c + d).greater(a, b, c, d)
}

/// Fisher's exact tests of 2x2 tables up to a total of `n`, sharing one table of ln k!: the
/// hypergeometric terms are summed in log space, so tables of a million generations do not
/// overflow, and the thousands of phrases of one audit cost one table, not one each.
pub struct FisherTables {
    ln_factorial: Vec<f64>,
}

impl FisherTables {
    /// The log-factorials of 0 to `n`.
    pub fn new(n: usize) -> Self {
        // ln k! by a compensated (Kahan) running sum: a plain one drifts by about 1e-6 over a
        // million terms, which shows in p-values near 1.
        let ln_factorial = std::iter::once(0.0)
            .chain((1..=n).scan((0.0f64, 0.0f64), |(sum, carry), k| {
                let term = (k as f64).ln() - *carry;
                let next = *sum + term;
                *carry = (next - *sum) - term;
                *sum = next;
                Some(*sum)
            }))
            .collect();
        Self { ln_factorial }
    }

    /// [`fisher_exact_greater`] of `[[a, b], [c, d]]`, whose total must be at most the `n`
    /// these tables were built for.
    pub fn greater(&self, a: usize, b: usize, c: usize, d: usize) -> f64 {
        let n = a + b + c + d;
        let (with, replicated) = (a + b, a + c);
        let ln_factorial = &self.ln_factorial;
        let ln_choose =
            |n: usize, k: usize| ln_factorial[n] - ln_factorial[k] - ln_factorial[n - k];
        let total = ln_choose(n, with);
        let most = with.min(replicated);
        let p: f64 = (a..=most)
            .filter(|&x| with - x <= n - replicated)
            .map(|x| (ln_choose(replicated, x) + ln_choose(n - replicated, with - x) - total).exp())
            .sum();
        p.min(1.0)
    }
}

/// Benjamini-Hochberg q-values of `p_values` (in their order): the smallest false discovery
/// rate at which each would be called, `min over j >= i of p(j) * m / j` over the p-values
/// sorted ascending, capped at 1.
pub fn benjamini_hochberg(p_values: &[f64]) -> Vec<f64> {
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&x, &y| p_values[x].total_cmp(&p_values[y]));
    let mut q = vec![1.0; m];
    let mut running = 1.0f64;
    for (rank, &i) in order.iter().enumerate().rev() {
        running = running.min(p_values[i] * m as f64 / (rank + 1) as f64);
        q[i] = running.min(1.0);
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-4
    }

    #[test]
    fn wilson_matches_the_formula_worked_by_hand() {
        // 19 of 1,000 (the paper's 1.9%): p = 0.019, z² = 3.8415; centre = 0.019 + 3.8415/2000
        // = 0.0209207; half = 1.96 * sqrt(0.019 * 0.981 / 1000 + 3.8415 / 4e6) = 1.96 *
        // sqrt(1.86390e-5 + 9.6037e-7) = 1.96 * 0.0044271 = 0.0086769; / (1 + 0.0038415).
        let [lo, hi] = wilson(19, 1000, Z95);
        assert!(close(lo, 0.012197), "{lo}");
        assert!(close(hi, 0.029484), "{hi}");
        // 0 of 10: [0, z²/(n + z²)] = [0, 3.8415/13.8415].
        let [lo, hi] = wilson(0, 10, Z95);
        assert_eq!(lo, 0.0);
        assert!(close(hi, 0.277533), "{hi}");
        assert_eq!(wilson(0, 0, Z95), [0.0, 1.0]);
        let rate = Rate::of(5, 20);
        assert_eq!((rate.count, rate.total, rate.value), (5, 20, 0.25));
    }

    #[test]
    fn bin_shares_count_each_value_once() {
        // 0.1 and 0.12 in bin 0 of 4, 0.5 in bin 2, 1.0 and 1.7 in the last.
        let shares = bin_shares(&[0.1, 0.12, 0.5, 1.0, 1.7], 4);
        assert_eq!(shares, [0.4, 0.0, 0.2, 0.4]);
        assert_eq!(bin_shares(&[], 2), [0.0, 0.0]);
    }

    #[test]
    fn percentiles_interpolate_between_ranks() {
        let values = [0.1f32, 0.2, 0.3, 0.4, 0.5];
        assert!(close(percentile(&values, 50.0).unwrap_or(0.0), 0.3));
        // 90th: position 0.9 * 4 = 3.6, so 0.4 + 0.6 * 0.1.
        assert!(close(percentile(&values, 90.0).unwrap_or(0.0), 0.46));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn cohen_kappa_by_hand() {
        // 10 items, 3 labels. Agreement on 7 (po = 0.7). Rater A: 4, 3, 3 of each label;
        // rater B: 5, 2, 3; pe = 0.4*0.5 + 0.3*0.2 + 0.3*0.3 = 0.35; kappa = 0.35 / 0.65.
        let pairs = [
            (0, 0),
            (0, 0),
            (0, 0),
            (0, 1),
            (1, 1),
            (1, 0),
            (1, 0),
            (2, 2),
            (2, 2),
            (2, 2),
        ];
        let kappa = cohen_kappa(&pairs, 3).unwrap_or(f64::NAN);
        // Agreement here: items 1-3, 5, 8-10 = 7.
        assert!(close(kappa, 0.35 / 0.65), "{kappa}");
        assert_eq!(cohen_kappa(&[], 3), None);
        assert_eq!(cohen_kappa(&[(1, 1), (1, 1)], 3), None, "pe = 1");
    }

    #[test]
    fn fleiss_kappa_by_hand() {
        // 4 items, 3 raters, 3 categories.
        // rows: [3,0,0] P=1; [0,3,0] P=1; [1,1,1] P=0; [2,1,0] P=(4+1-3)/6=1/3.
        // P_bar = (1 + 1 + 0 + 1/3) / 4 = 7/12. Column totals 6, 5, 1 of 12:
        // pe = 0.25 + 0.173611 + 0.006944 = 0.430556. kappa = (0.583333 - 0.430556) / 0.569444.
        let counts = vec![vec![3, 0, 0], vec![0, 3, 0], vec![1, 1, 1], vec![2, 1, 0]];
        let kappa = fleiss_kappa(&counts).unwrap_or(f64::NAN);
        assert!(
            close(kappa, (7.0 / 12.0 - 0.430_555_6) / 0.569_444_4),
            "{kappa}"
        );
        assert_eq!(fleiss_kappa(&[vec![1, 0, 0]]), None, "one rater");
        assert_eq!(fleiss_kappa(&[vec![2, 0, 0], vec![1, 2, 0]]), None);
    }

    #[test]
    fn calibrated_threshold_by_hand() {
        // Sorted by similarity: 0.9 c, 0.8 c, 0.7 d, 0.6 c, 0.5 d, 0.4 d.
        // At >= 0.6: 3 copies of 4 = 0.75; at >= 0.7: 2 of 3 = 0.667; at >= 0.8: 1.0.
        let pairs = [
            (0.9, true),
            (0.8, true),
            (0.7, false),
            (0.6, true),
            (0.5, false),
            (0.4, false),
        ];
        let c = calibrate(&pairs, 0.75);
        assert_eq!(c.threshold, Some(f64::from(0.6f32)));
        assert_eq!((c.precision, c.recall), (Some(0.75), Some(1.0)));
        let strict = calibrate(&pairs, 0.9);
        assert_eq!(strict.threshold, Some(f64::from(0.8f32)));
        assert_eq!(strict.recall, Some(2.0 / 3.0));
        assert_eq!(calibrate(&[(0.9, false)], 0.9).threshold, None);
        let curve = pr_curve(&pairs);
        assert_eq!(curve.len(), 6);
        assert_eq!((curve[0].precision, curve[0].recall), (1.0, 1.0 / 3.0));
        assert_eq!((curve[5].precision, curve[5].recall), (0.5, 1.0));
    }

    #[test]
    fn copy_rate_by_band_by_hand() {
        // 100 generations: 80 in a band with 10 labelled, 1 copy; 20 in a band with 5
        // labelled, 4 copies. Copies = 80 * 0.1 + 20 * 0.8 = 24 of 100.
        // Variance = 80² * 0.09 / 10 + 20² * 0.16 / 5 = 57.6 + 12.8 = 70.4.
        let bands = [
            BandPrecision {
                from: 0.3,
                generations: 80,
                labelled: 10,
                copies: 1,
            },
            BandPrecision {
                from: 0.6,
                generations: 20,
                labelled: 5,
                copies: 4,
            },
        ];
        let e = estimate_copy_rate(&bands).expect("estimate");
        assert!(close(e.value, 0.24));
        let half = Z95 * 70.4f64.sqrt() / 100.0;
        assert!(close(e.ci95[0], 0.24 - half) && close(e.ci95[1], 0.24 + half));
        assert_eq!(e.unlabelled_generations, 0);
        assert_eq!(band_of(0.5), 10);
        assert_eq!(band_of(0.549), 10);
        assert_eq!(band_of(1.0), 19);
    }

    #[test]
    fn bootstrap_is_seeded_and_brackets_the_mean() {
        let values: Vec<f64> = (0..50).map(f64::from).collect();
        let a = bootstrap_mean_ci(&values, 500, 7).expect("ci");
        assert_eq!(Some(a), bootstrap_mean_ci(&values, 500, 7));
        assert!(a[0] < 24.5 && 24.5 < a[1]);
        assert_eq!(bootstrap_mean_ci(&[], 10, 1), None);
    }

    #[test]
    fn fisher_and_benjamini_hochberg_match_values_worked_by_hand() {
        // [[3, 1], [1, 5]]: 10 generations, 4 with the phrase, 4 replicated. P(X >= 3) =
        // (C(4,3) C(6,1) + C(4,4) C(6,0)) / C(10,4) = (24 + 1) / 210.
        assert!((fisher_exact_greater(3, 1, 1, 5) - 25.0 / 210.0).abs() < 1e-12);
        // [[5, 0], [0, 5]]: 1 / C(10,5) = 1 / 252.
        assert!((fisher_exact_greater(5, 0, 0, 5) - 1.0 / 252.0).abs() < 1e-12);
        // Nothing replicated with the phrase: every table counts, p = 1.
        assert!((fisher_exact_greater(0, 4, 3, 3) - 1.0).abs() < 1e-12);
        // A table with a million generations stays finite.
        let p = fisher_exact_greater(40, 60, 19_000, 981_000);
        assert!(p > 0.0 && p < 1e-20, "{p}");
        // p = [0.01, 0.04, 0.03, 0.2]: sorted 0.01, 0.03, 0.04, 0.2 give 0.04, 0.06, 0.0533,
        // 0.2; the running minimum from the end: 0.04, 0.0533, 0.0533, 0.2.
        let q = benjamini_hochberg(&[0.01, 0.04, 0.03, 0.2]);
        let expected = [0.04, 0.16 / 3.0, 0.16 / 3.0, 0.2];
        assert!(
            q.iter().zip(expected).all(|(a, b)| (a - b).abs() < 1e-12),
            "{q:?}"
        );
        assert_eq!(benjamini_hochberg(&[0.9, 0.8]), vec![0.9, 0.9]);
        assert!(benjamini_hochberg(&[]).is_empty());
    }
}
