//! `cargo xtask bench [--smoke] [--reuse-variants]` and `cargo xtask bench --deploy [--smoke]`:
//! see `integration_tests::bench`. `cargo xtask bench` builds what this measures, then runs it.

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    integration_tests::bench::run(&args)
}
