//! Times reading, decoding and resizing each image of a folder (for tuning by hand).
use std::time::Instant;
fn main() {
    let dir = std::env::args().nth(1).unwrap_or_else(|| ".".into());
    let catalog = replicant::catalog::walk_images(std::path::Path::new(&dir)).expect("walk");
    let pre = replicant::embed::Preprocess::sscd();
    let mut rows = Vec::new();
    for e in &catalog.images {
        let t0 = Instant::now();
        let bytes = std::fs::read(e.location.file()).expect("read");
        let t1 = Instant::now();
        let _h = blake3::hash(&bytes);
        let t2 = Instant::now();
        let Ok(d) = replicant::decode::decode_image(&bytes, &Default::default()) else {
            continue;
        };
        let t3 = Instant::now();
        let _r = replicant::embed::resize_for_model(&d.rgb, &pre);
        let t4 = Instant::now();
        rows.push((
            t3 - t2,
            t4 - t3,
            (t1 - t0) + (t2 - t1),
            e.rel_path.clone(),
            d.rgb.dimensions(),
            d.format,
        ));
    }
    rows.sort_by_key(|r| std::cmp::Reverse(r.0 + r.1));
    let (mut dec, mut res, mut io) = (0.0, 0.0, 0.0);
    for r in &rows {
        dec += r.0.as_secs_f64();
        res += r.1.as_secs_f64();
        io += r.2.as_secs_f64();
    }
    let mut by_format: std::collections::BTreeMap<String, (f64, usize)> = Default::default();
    for r in &rows {
        let e = by_format.entry(format!("{:?}", r.5)).or_default();
        e.0 += r.0.as_secs_f64();
        e.1 += 1;
    }
    println!("{by_format:?}");
    println!(
        "total decode {dec:.2}s resize {res:.2}s read+hash {io:.2}s over {}",
        rows.len()
    );
    for r in rows.iter().take(15) {
        println!(
            "{:6.1}ms {:5.1}ms {:?} {:?} {}",
            r.0.as_secs_f64() * 1e3,
            r.1.as_secs_f64() * 1e3,
            r.4,
            r.5,
            r.3
        );
    }
}
