//! Test support: the local AWS emulator process and a Lambda Runtime API emulator.
//!
//! Everything here runs real processes on loopback: [`Emulator`] starts the project's shim in
//! front of moto (`emulator/shim.py`), [`RuntimeApi`] serves Lambda's Runtime API so a real
//! function binary can be driven by [`LambdaProcess`]. Every process is stopped on drop and
//! also exits by itself when the test process dies (it watches its stdin), so no emulator
//! outlives a failed test.

mod emulator;
mod http;
mod lambda_process;
mod runtime_api;

/// Re-exported so that a crate whose shipped code must not depend on the S3 SDK (the
/// deploy-handler, see deny.toml) can still drive S3 in its tests.
pub use aws_sdk_s3;
pub use emulator::{ACCOUNT_ID, Call, Emulator, REGION, Registry};
pub use lambda_process::{LambdaProcess, lambda_binary};
pub use runtime_api::{Invocation, RuntimeApi};

use std::path::PathBuf;

/// The workspace root (the directory holding the top-level `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// The Cargo target directory the workspace builds into.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// An S3 client for `config`. Path-style addressing: the emulator serves every bucket on one
/// loopback host, so virtual-hosted bucket names would not resolve.
pub fn s3_client(config: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(config)
            .force_path_style(true)
            .build(),
    )
}
