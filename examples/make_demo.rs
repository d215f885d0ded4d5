//! Makes a demo set in the folder given (for trying the engine by hand).
fn main() -> std::io::Result<()> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "demo".into());
    let set = replicant::demo::make_demo(
        std::path::Path::new(&dir),
        &replicant::demo::DemoSpec::default(),
    )?;
    println!("{} {}", set.training.display(), set.generations.display());
    Ok(())
}
