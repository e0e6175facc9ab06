//! Each resource module of the deployer against the local emulator, one module at a time: one
//! test binary for all of them, as each binary links the whole AWS SDK (about 65 MB unoptimised).

mod support;

mod codebuild;
mod codepipeline;
mod connection;
mod deploy_target;
mod ecr;
mod events;
mod iam;
mod lambda;
mod pull_through_cache;
mod s3;
mod secrets;
mod sns;
mod webhook;
