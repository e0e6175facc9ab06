//! End-to-end tests live in tests/; this library holds what they share.
//!
//! [`buildspec_runner`] runs `buildspec.yml`'s phases locally the way CodeBuild would.

pub mod buildspec_runner;
pub mod e2e;
