//! Tests of [`super`] (`src/shards/parts.rs`).

use super::*;

fn manifest(worker: usize, workers: usize, dims: usize) -> PartManifest {
    PartManifest {
        format: PART_FORMAT,
        worker,
        workers,
        model_key: "m".into(),
        dims,
        sources: vec!["/src".into()],
        units: Vec::new(),
        rows: 0,
        skipped: Vec::new(),
        truncated_shards: Vec::new(),
        notes: Vec::new(),
        model_probe: vec![1.0, 0.0],
        npy: FileCheck::default(),
        jsonl: FileCheck::default(),
        replicant_version: "test".into(),
        created_at: "now".into(),
    }
}

fn row(i: usize) -> PartRow {
    PartRow {
        training: format!("00000.tar/{i:09}.jpg"),
        source: "/src".into(),
        path: "00000.tar".into(),
        member: Some(format!("{i:09}.jpg")),
        offset: Some(512 * (i as u64 + 1)),
        size: 10,
        blake3: blake3::hash(&[i as u8]).to_hex().to_string(),
        width: 4,
        height: 3,
        caption: None,
        sample: None,
        layout: PartRow::encode_layout(&[1, 2, 3]),
    }
}

/// A part whose vectors hold a NaN (a worker's bug or damage that its hashes were
/// recomputed over) is refused by row, with the worker to run again.
#[test]
fn a_nan_in_a_part_is_refused_with_its_row_and_worker() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rows: Vec<PartRow> = (0..3).map(row).collect();
    let vectors = [0.5, 0.5, 0.1, f32::NAN, 0.3, 0.2];
    let json = write_part(dir.path(), manifest(1, 2, 2), &rows, &vectors).expect("write");
    let part = FoundPart {
        manifest: read_manifest(&json).expect("manifest"),
        json,
    };
    part.verify_files().expect("the files are as written");
    let err = read_vectors(&part, 2, |_, _| Ok(())).expect_err("a NaN");
    let text = err.to_string();
    assert!(text.contains("row 1 holds NaN"), "{text}");
    assert!(text.contains("--shard 1/2"), "{text}");
}

/// A row overwritten with another's bytes keeps the file's size; its hash finds it.
#[test]
fn a_row_overwritten_with_another_is_found_by_the_recorded_hash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rows: Vec<PartRow> = (0..2).map(row).collect();
    let json =
        write_part(dir.path(), manifest(0, 1, 2), &rows, &[0.6, 0.8, 0.8, 0.6]).expect("write");
    let part = FoundPart {
        manifest: read_manifest(&json).expect("manifest"),
        json,
    };
    let mut npy = std::fs::read(part.npy()).expect("npy");
    let len = npy.len();
    let second = npy[len - 4..].to_vec();
    npy[len - 8..len - 4].copy_from_slice(&second);
    std::fs::write(part.npy(), &npy).expect("damage");
    let err = part.verify_files().expect_err("damaged");
    assert!(
        err.to_string().contains("does not match its manifest"),
        "{err}"
    );
}

#[test]
fn a_part_round_trips_and_its_npy_is_float16_with_numpys_header() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rows: Vec<PartRow> = (0..3).map(row).collect();
    let vectors: Vec<f32> = (0..6).map(|v| v as f32 * 0.25).collect();
    write_part(dir.path(), manifest(0, 1, 2), &rows, &vectors).expect("write");
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 3, "no temporary file left: {names:?}");
    let npy = std::fs::read(dir.path().join("part-0-of-1.npy")).expect("npy");
    assert!(npy.starts_with(b"\x93NUMPY"));
    let header = String::from_utf8_lossy(&npy[10..npy.len().min(128)]);
    assert!(header.contains("'descr': '<f2'"), "{header}");
    assert!(header.contains("'shape': (3, 2"), "{header}");
    let parts = find_parts(dir.path()).expect("find");
    assert_eq!(parts.len(), 1);
    assert_eq!(read_rows(&parts[0]).expect("rows"), rows);
    let mut got = Vec::new();
    read_vectors(&parts[0], 2, |first, chunk| {
        got.push((first, chunk.to_vec()));
        Ok(())
    })
    .expect("vectors");
    assert_eq!(
        got,
        [(0, vectors[..4].to_vec()), (2, vectors[4..].to_vec())]
    );
    assert_eq!(rows[0].layout_bytes(), Some(vec![1, 2, 3]));
}

#[test]
fn missing_and_mixed_workers_are_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_part(dir.path(), manifest(0, 3, 1), &[row(0)], &[1.0]).expect("write");
    write_part(dir.path(), manifest(2, 3, 1), &[row(1)], &[1.0]).expect("write");
    let err = find_parts(dir.path()).expect_err("worker 1 missing");
    assert!(err.to_string().contains("--shard 1/3"), "{err}");
    write_part(dir.path(), manifest(1, 2, 1), &[row(2)], &[1.0]).expect("write");
    let err = find_parts(dir.path()).expect_err("mixed");
    assert!(err.to_string().contains("mixed"), "{err}");
    assert_eq!(parse_part_name("part-12-of-40.json"), Some((12, 40)));
    assert_eq!(parse_part_name("part-1-of-2.npy"), None);
}
