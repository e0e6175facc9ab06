//! The job currently being worked on, so the panic hook knows which job to fail.

use std::sync::Mutex;

static IN_FLIGHT: Mutex<Option<String>> = Mutex::new(None);

/// Marks a job as in flight until [`InFlight::finish`] or drop (including unwinding).
#[derive(Debug)]
#[must_use = "the job stops being in flight when this guard drops"]
pub struct InFlight(());

pub fn enter(job_id: &str) -> InFlight {
    *lock() = Some(job_id.to_owned());
    InFlight(())
}

impl InFlight {
    /// The result was reported: a later panic must not report this job again.
    pub fn finish(self) {}
}

impl Drop for InFlight {
    fn drop(&mut self) {
        lock().take();
    }
}

/// Takes the in-flight job id, so exactly one party reports it.
pub fn take() -> Option<String> {
    lock().take()
}

fn lock() -> std::sync::MutexGuard<'static, Option<String>> {
    // A panic while holding this lock cannot leave the Option half-written.
    IN_FLIGHT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
