//! The bootstrap: a reconciler that provisions, converges and destroys one environment's
//! CI/CD pipeline. Desired state is data ([`desired`]), observing is IO ([`observe`]),
//! [`plan::plan`] is a pure function of the two, and [`apply`] executes a plan.

pub mod artifacts;
pub mod aws;
pub mod cli;
pub mod config;
pub mod desired;
pub mod engine;
pub mod model;
pub mod ops;
pub mod plan;
pub mod policies;
pub mod progress;
pub mod resources;
pub mod retry;
pub mod secret;

/// An error and its sources on one line (SDK errors keep the useful part in their source).
pub fn error_text(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        let next = inner.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = inner.source();
    }
    text
}
