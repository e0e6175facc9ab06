//! Turns CodePipeline state-change events from EventBridge into SNS notifications that say
//! what happened, where, in which commit, and link to the execution.
//!
//! `main.rs` only wires these modules together; each is usable and tested on its own.

pub mod approval;
pub mod commit_status;
pub mod config;
pub mod dedupe;
pub mod enrich;
pub mod event;
pub mod github;
pub mod github_http;
pub mod github_token;
pub mod handler;
pub mod message;
pub mod publish;
pub mod text;
