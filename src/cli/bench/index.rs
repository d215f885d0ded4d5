//! `replicant bench index`: the training index at scale, without images. N vectors drawn to
//! resemble real SSCD embeddings are added to an index as `replicant index build` adds them,
//! saved, and measured from a fresh process that opens the file as a memory-mapped view, as a
//! scan with `--training-index` does: open time, resident memory while querying, query latency
//! for top-64, and recall@10 against exact search over the same stored vectors.
//!
//! How the vectors are drawn (clustered, not uniform): `N / 256` cluster centres, uniform on
//! the sphere; each vector picks a centre with a skewed (quadratic) law, so a few topics are
//! large and most are small, and lies at a cosine of 0.37 to 0.71 from it (Gaussian noise of
//! 1 to 2.5 times the centre's length), so that vectors of one topic have cosines of about
//! 0.1 to 0.5 to each other and of about 0 to other topics, as unrelated and same-topic SSCD
//! embeddings do. 3% of vectors are near-duplicates (cosine about 0.99) of an earlier one, as
//! web-scale training sets hold. The 1,000 held-out queries are drawn the same way, half of
//! them as near copies (cosine 0.75 to 0.95) of a stored vector, as copying generations are.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;

use replicant::index::{Dtype, Graph, IndexParams, VectorStore};

/// Top-k of each timed query.
const QUERY_TOP_K: usize = 64;

/// `replicant bench index`.
#[derive(Debug, Args)]
pub struct IndexBenchArgs {
    /// Vectors in the index.
    #[arg(long, default_value_t = 1_000_000)]
    pub vectors: usize,
    /// Vector length.
    #[arg(long, default_value_t = 512)]
    pub dims: usize,
    /// How the index stores vectors: f16, i8 or f32.
    #[arg(long, default_value = "f16", value_parser = clap::value_parser!(Dtype))]
    pub dtype: Dtype,
    /// Held-out queries.
    #[arg(long, default_value_t = 1000)]
    pub queries: usize,
    /// Seed of the vectors.
    #[arg(long, default_value_t = 11)]
    pub seed: u64,
    /// Print one JSON object on one line (the last line of stdout) after the table.
    #[arg(long)]
    pub json: bool,
    /// Keep the index in this folder (default: a temporary one, removed at the end).
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
    /// Neighbours per vector in the graph (default: what `index build` uses).
    #[arg(long, hide = true)]
    pub connectivity: Option<usize>,
    /// The beam while adding (default: what `index build` uses).
    #[arg(long, hide = true)]
    pub expansion_add: Option<usize>,
    /// The beam while searching (default: what a scan uses).
    #[arg(long, hide = true)]
    pub expansion_search: Option<usize>,
    /// Internal: measure the saved index in DIR from this (fresh) process.
    #[arg(long, hide = true, value_name = "DIR")]
    pub probe: Option<PathBuf>,
}

/// What the fresh process measured.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Probe {
    view_open_secs: f64,
    rss_bytes_querying: Option<u64>,
    query_p50_ms: f64,
    query_p99_ms: f64,
    recall_at_10: f64,
}

/// The report (`--json`).
#[derive(Debug, serde::Serialize)]
struct Report {
    vectors: usize,
    dims: usize,
    dtype: &'static str,
    build_secs: f64,
    adds_per_sec: f64,
    file_bytes: u64,
    view_open_secs: f64,
    rss_bytes_querying: Option<u64>,
    query_p50_ms: f64,
    query_p99_ms: f64,
    recall_at_10: f64,
    threads: usize,
    connectivity: usize,
    expansion_add: usize,
    expansion_search: usize,
}

fn gaussian_unit(rng: &mut impl Rng, dims: usize) -> Vec<f32> {
    let mut v: Vec<f32> = (0..dims).map(|_| StandardNormal.sample(rng)).collect();
    replicant::embed::l2_normalise(&mut v);
    v
}

/// `base` plus Gaussian noise `scale` times its length, normalised.
fn around(rng: &mut impl Rng, base: &[f32], scale: f32) -> Vec<f32> {
    let noise = gaussian_unit(rng, base.len());
    let mut v: Vec<f32> = base
        .iter()
        .zip(&noise)
        .map(|(b, n)| b + scale * n)
        .collect();
    replicant::embed::l2_normalise(&mut v);
    v
}

/// The stored vectors and the held-out queries (see the module's comment).
fn draw(n: usize, queries: usize, dims: usize, seed: u64) -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
    let clusters = (n / 256).max(8);
    let centres: Vec<Vec<f32>> = (0..clusters)
        .into_par_iter()
        .map(|c| {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ (c as u64).wrapping_mul(31));
            gaussian_unit(&mut rng, dims)
        })
        .collect();
    let pick = |rng: &mut rand::rngs::StdRng| {
        let u: f64 = rng.r#gen();
        ((u * u * clusters as f64) as usize).min(clusters - 1)
    };
    let mut vectors: Vec<Vec<f32>> = (0..n)
        .into_par_iter()
        .map(|i| {
            let mut rng =
                rand::rngs::StdRng::seed_from_u64(seed.wrapping_add(1 + i as u64).wrapping_mul(7));
            let centre = &centres[pick(&mut rng)];
            let scale = rng.gen_range(1.0..2.5);
            around(&mut rng, centre, scale)
        })
        .collect();
    // Near-duplicates of earlier vectors (3%).
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ 0xD0B1E);
    for i in 1..n {
        if rng.gen_bool(0.03) {
            let of = rng.gen_range(0..i);
            vectors[i] = around(&mut rng, &vectors[of].clone(), 0.15);
        }
    }
    let held_out: Vec<Vec<f32>> = (0..queries)
        .map(|q| {
            if q % 2 == 0 && n > 0 {
                let of = rng.gen_range(0..n);
                let scale = rng.gen_range(0.35..1.0);
                around(&mut rng, &vectors[of].clone(), scale)
            } else {
                let centre = &centres[pick(&mut rng)];
                let scale = rng.gen_range(1.0..2.5);
                around(&mut rng, centre, scale)
            }
        })
        .collect();
    (vectors, held_out)
}

fn write_queries(path: &Path, queries: &[Vec<f32>]) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    for q in queries {
        for v in q {
            out.write_all(&v.to_le_bytes())?;
        }
    }
    out.flush()
}

fn read_queries(path: &Path, dims: usize) -> anyhow::Result<Vec<Vec<f32>>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    anyhow::ensure!(
        bytes.len() % (4 * dims) == 0,
        "{} is not a list of {dims}-long f32 vectors",
        path.display()
    );
    Ok(bytes
        .chunks_exact(4 * dims)
        .map(|v| {
            v.chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()
        })
        .collect())
}

/// Resident memory of this process (Linux), in bytes.
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// The fresh process's part: open the view, query it, measure.
fn probe(dir: &Path, dims: usize, expansion_search: usize) -> anyhow::Result<Probe> {
    let queries = read_queries(&dir.join("queries.f32"), dims)?;
    let started = Instant::now();
    let index = VectorStore::default().view_with(&dir.join("index.usearch"), expansion_search)?;
    let view_open_secs = started.elapsed().as_secs_f64();
    // Latency one query at a time, as the scan's matching asks.
    let mut approximate = Vec::with_capacity(queries.len());
    let mut millis = Vec::with_capacity(queries.len());
    for q in &queries {
        let started = Instant::now();
        let hits = index.search(q, QUERY_TOP_K)?;
        millis.push(started.elapsed().as_secs_f64() * 1000.0);
        approximate.push(hits);
    }
    // Measured before the exact searches below, which read every page of the file.
    let rss_bytes_querying = resident_bytes();
    millis.sort_by(f64::total_cmp);
    let found: usize = queries
        .par_iter()
        .zip(&approximate)
        .map(|(q, hits)| -> Result<usize, replicant::index::IndexError> {
            let exact = index.search_exact(q, 10)?;
            let top: Vec<u64> = hits.iter().take(10).map(|h| h.key).collect();
            Ok(exact.iter().filter(|h| top.contains(&h.key)).count())
        })
        .sum::<Result<usize, _>>()?;
    let wanted: usize = queries.len() * 10.min(index.len());
    Ok(Probe {
        view_open_secs,
        rss_bytes_querying,
        query_p50_ms: percentile(&millis, 50.0),
        query_p99_ms: percentile(&millis, 99.0),
        recall_at_10: if wanted == 0 {
            0.0
        } else {
            found as f64 / wanted as f64
        },
    })
}

/// Runs the index benchmark.
///
/// Over 100 lines on purpose: the index benchmark's runs in the order its table prints them, each
/// timed against the others in the same process.
pub fn run(args: &IndexBenchArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.dims >= 2, "--dims must be at least 2");
    let defaults = Graph::default();
    let graph = Graph {
        connectivity: args.connectivity.unwrap_or(defaults.connectivity),
        expansion_add: args.expansion_add.unwrap_or(defaults.expansion_add),
        expansion_search: args.expansion_search.unwrap_or(defaults.expansion_search),
    };
    if let Some(dir) = &args.probe {
        let probe = probe(dir, args.dims, graph.expansion_search)?;
        println!("{}", serde_json::to_string(&probe)?);
        return Ok(ExitCode::SUCCESS);
    }
    let temp = tempfile::tempdir().context("temporary folder")?;
    let dir = args
        .keep
        .clone()
        .unwrap_or_else(|| temp.path().to_path_buf());
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    eprintln!(
        "replicant: drawing {} clustered {}-dimensional vectors and {} held-out queries",
        args.vectors, args.dims, args.queries
    );
    let (vectors, queries) = draw(args.vectors, args.queries, args.dims, args.seed);
    write_queries(&dir.join("queries.f32"), &queries)?;
    drop(queries);
    let threads = rayon::current_num_threads();
    eprintln!(
        "replicant: building a {} index on {threads} threads",
        args.dtype.as_str()
    );
    let keyed: Vec<(u64, &[f32])> = vectors
        .iter()
        .enumerate()
        .map(|(k, v)| (k as u64, v.as_slice()))
        .collect();
    let params = IndexParams {
        dims: args.dims,
        dtype: args.dtype,
    };
    let started = Instant::now();
    let index = VectorStore::default().create_with(params, graph)?;
    replicant::index::add_parallel(index.as_ref(), &keyed)?;
    let build_secs = started.elapsed().as_secs_f64();
    drop(keyed);
    drop(vectors);
    let file = dir.join("index.usearch");
    index.save(&file)?;
    drop(index);
    let file_bytes = std::fs::metadata(&file)?.len();

    eprintln!("replicant: measuring the saved index from a fresh process");
    let exe = std::env::current_exe().context("cannot find this program to start the probe")?;
    let output = Command::new(exe)
        .args([
            "bench",
            "index",
            "--dims",
            &args.dims.to_string(),
            "--expansion-search",
            &graph.expansion_search.to_string(),
            "--probe",
        ])
        .arg(&dir)
        .output()
        .context("cannot start the probe process")?;
    anyhow::ensure!(
        output.status.success(),
        "the probe process failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line = String::from_utf8_lossy(&output.stdout);
    let probe: Probe = serde_json::from_str(line.trim().lines().last().unwrap_or_default())
        .context("the probe's report")?;
    let report = Report {
        vectors: args.vectors,
        dims: args.dims,
        dtype: args.dtype.as_str(),
        build_secs,
        adds_per_sec: args.vectors as f64 / build_secs.max(1e-9),
        file_bytes,
        view_open_secs: probe.view_open_secs,
        rss_bytes_querying: probe.rss_bytes_querying,
        query_p50_ms: probe.query_p50_ms,
        query_p99_ms: probe.query_p99_ms,
        recall_at_10: probe.recall_at_10,
        threads,
        connectivity: graph.connectivity,
        expansion_add: graph.expansion_add,
        expansion_search: graph.expansion_search,
    };
    let mb = |b: u64| b as f64 / 1e6;
    println!(
        "index of {} vectors x {} ({}), {threads} threads, graph {} neighbours, beams {} (add) / {} (search)",
        report.vectors,
        report.dims,
        report.dtype,
        graph.connectivity,
        graph.expansion_add,
        graph.expansion_search
    );
    println!(
        "build                 {:10.1} s  ({:.0} adds/s)",
        report.build_secs, report.adds_per_sec
    );
    println!("file                  {:10.1} MB", mb(report.file_bytes));
    println!(
        "open as a view        {:10.3} s  (fresh process)",
        report.view_open_secs
    );
    match report.rss_bytes_querying {
        Some(rss) => println!(
            "resident, querying    {:10.1} MB  (file + {:.1} MB)",
            mb(rss),
            mb(rss) - mb(report.file_bytes)
        ),
        None => println!("resident, querying           n/a  (no /proc on this system)"),
    }
    println!(
        "query top-{QUERY_TOP_K}          p50 {:.3} ms, p99 {:.3} ms (one at a time)",
        report.query_p50_ms, report.query_p99_ms
    );
    println!(
        "recall@10 vs exact    {:10.4}  ({} held-out queries)",
        report.recall_at_10, args.queries
    );
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawn_vectors_cluster_like_embeddings() {
        let (vectors, queries) = draw(2048, 20, 64, 3);
        assert_eq!((vectors.len(), queries.len()), (2048, 20));
        let dot = replicant::embed::cosine;
        for v in &vectors {
            assert!((dot(v, v) - 1.0).abs() < 1e-4);
        }
        // Each query that copies a stored vector has one at 0.7 or more; the mean cosine of
        // two stored vectors is near 0 (many topics) but some pairs share a topic.
        let best = |q: &[f32]| {
            vectors
                .iter()
                .map(|v| dot(q, v))
                .fold(f32::NEG_INFINITY, f32::max)
        };
        for q in queries.iter().step_by(2) {
            assert!(best(q) > 0.7, "{}", best(q));
        }
        let pairs: Vec<f32> = (0..500)
            .map(|i| dot(&vectors[i], &vectors[i + 1000]))
            .collect();
        let mean = pairs.iter().sum::<f32>() / pairs.len() as f32;
        assert!(mean.abs() < 0.1, "{mean}");
        assert!(pairs.iter().any(|&c| c > 0.1), "no two share a topic");
    }
}
