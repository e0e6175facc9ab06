//! Progress lines on stderr: one per resource as it moves, with the elapsed time.

use crate::model::ResourceId;
use std::time::Instant;

#[derive(Debug)]
pub struct Progress {
    quiet: bool,
    started: Instant,
}

impl Progress {
    pub fn new(quiet: bool) -> Self {
        Self {
            quiet,
            started: Instant::now(),
        }
    }

    pub fn quiet() -> Self {
        Self::new(true)
    }

    /// e.g. `[  1.2s] creating    s3 bucket artifacts-123456789012-dev`.
    pub fn resource(&self, id: &ResourceId, state: &str) {
        self.line(&format!("{state:<11} {id}"));
    }

    /// A state with a detail, e.g. `waiting  lambda function x: IAM role not assumable yet`.
    pub fn resource_detail(&self, id: &ResourceId, state: &str, detail: &str) {
        self.line(&format!("{state:<11} {id}: {detail}"));
    }

    pub fn line(&self, text: &str) {
        if !self.quiet {
            eprintln!("[{:>6.1}s] {text}", self.started.elapsed().as_secs_f64());
        }
    }

    pub fn elapsed(&self) -> std::time::Duration {
        self.started.elapsed()
    }
}
