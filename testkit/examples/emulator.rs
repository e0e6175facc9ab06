//! `cargo xtask emulator`: runs the local AWS emulator until Ctrl-C and prints the environment
//! that points `bootstrap` or the `aws` CLI at it.

use anyhow::Result;

fn main() -> Result<()> {
    let emulator = testkit::Emulator::start()?;
    println!(
        "The local AWS emulator is listening on {}.",
        emulator.endpoint()
    );
    println!("To point `bootstrap` or the `aws` CLI at it, run in another shell:\n");
    for (key, value) in emulator.env() {
        println!("  export {key}={value}");
    }
    println!("\nPress Ctrl-C to stop it.");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(tokio::signal::ctrl_c())?;
    drop(emulator);
    println!("emulator stopped");
    Ok(())
}
