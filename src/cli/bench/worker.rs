//! `replicant bench --worker`: one `embed` worker over the same images as a plain folder and
//! as WebDataset tar shards (100 images a shard, each with a caption member, as img2dataset
//! writes them), timed in one run, then the index built from the shards' part.

use std::path::{Path, PathBuf};

use anyhow::Context;

use replicant::index::VectorStore;
use replicant::shards::build::{IndexBuildOptions, build_index};
use replicant::shards::worker::{EmbedOptions, EmbedSummary, start_embed};

use super::{BenchArgs, link_or_copy};

/// Images per shard.
const PER_SHARD: usize = 100;

fn embed(args: &BenchArgs, source: &Path, out: &Path) -> anyhow::Result<EmbedSummary> {
    let options = EmbedOptions {
        training: vec![source.to_path_buf()],
        out: out.to_path_buf(),
        worker: 0,
        workers: 1,
        model: args.model.request(),
        batch_size: args.batch,
        decode_threads: args.decode_threads,
        models: Default::default(),
    };
    let handle = start_embed(options, None);
    for _ in handle.events.iter() {}
    handle
        .result
        .recv()
        .context("the worker stopped without a result")?
        .map_err(anyhow::Error::msg)?
        .context("the worker was cancelled")
}

fn pack(files: &[PathBuf], dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (s, chunk) in files.chunks(PER_SHARD).enumerate() {
        let file = std::fs::File::create(dir.join(format!("{s:05}.tar")))?;
        let mut builder = tar::Builder::new(std::io::BufWriter::new(file));
        for (i, path) in chunk.iter().enumerate() {
            let key = format!("{s:05}{i:04}");
            let ext = path.extension().map_or_else(
                || "jpg".into(),
                |e| e.to_string_lossy().to_ascii_lowercase(),
            );
            let bytes = std::fs::read(path)?;
            for (name, data) in [
                (format!("{key}.{ext}"), bytes),
                (format!("{key}.txt"), format!("image {key}").into_bytes()),
            ] {
                let mut header = tar::Header::new_gnu();
                header.set_size(data.len() as u64);
                header.set_mode(0o644);
                header.set_cksum();
                builder.append_data(&mut header, name, data.as_slice())?;
            }
        }
        builder.into_inner()?;
    }
    Ok(())
}

/// Times the worker on `files` as a folder and as shards under `work`, and builds the index.
pub fn run(args: &BenchArgs, files: &[PathBuf], work: &Path) -> anyhow::Result<()> {
    let folder = work.join("worker-folder");
    for (i, file) in files.iter().enumerate() {
        let name = file
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        link_or_copy(file, &folder.join(format!("{i:06}-{name}")))?;
    }
    let shards = work.join("worker-shards");
    pack(files, &shards)?;
    let on_folder = embed(args, &folder, &work.join("embeddings-folder"))?;
    let on_shards = embed(args, &shards, &work.join("embeddings-shards"))?;
    let rate = |s: &EmbedSummary| s.rows as f64 / s.seconds;
    println!(
        "worker on a folder          {:8.1} images/s  ({:.2} s, {} rows)",
        rate(&on_folder),
        on_folder.seconds,
        on_folder.rows
    );
    println!(
        "worker on tar shards        {:8.1} images/s  ({:.2} s, {} rows, {} shards)",
        rate(&on_shards),
        on_shards.seconds,
        on_shards.rows,
        files.len().div_ceil(PER_SHARD)
    );
    println!(
        "shards / folder             {:8.3}",
        rate(&on_shards) / rate(&on_folder)
    );
    for dtype in [replicant::index::Dtype::F16, replicant::index::Dtype::I8] {
        let options = IndexBuildOptions {
            embeddings: vec![work.join("embeddings-shards")],
            out: work.join(format!("index-{}", dtype.as_str())),
            dtype,
            force: true,
            store: VectorStore::default(),
        };
        let built = build_index(&options, &mut |_, _| {})?;
        let part_bytes: u64 = ["npy", "jsonl", "json"]
            .iter()
            .filter_map(|ext| {
                std::fs::metadata(work.join(format!("embeddings-shards/part-0-of-1.{ext}"))).ok()
            })
            .map(|m| m.len())
            .sum();
        println!(
            "index build ({})            {:8.2} s  ({} rows; index {} B = {:.0} B/row, rows {} B = {:.0} B/row; part files {:.0} B/row)",
            dtype.as_str(),
            built.seconds,
            built.rows,
            built.index_bytes,
            built.index_bytes as f64 / built.rows.max(1) as f64,
            built.rows_bytes,
            built.rows_bytes as f64 / built.rows.max(1) as f64,
            part_bytes as f64 / built.rows.max(1) as f64,
        );
    }
    Ok(())
}
