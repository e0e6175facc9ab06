//! The workspace-level rehearsals and what they share: the end-to-end pipeline run (tests and
//! `examples/demo.rs`), the benchmarks (`examples/bench.rs`) and a local runner for
//! `buildspec.yml`'s phases ([`buildspec_runner`]), run the way CodeBuild would.

pub mod bench;
pub mod buildspec_runner;
pub mod e2e;
