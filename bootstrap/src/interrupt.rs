//! Ctrl-C during `deploy` or `destroy`: no new step starts, the calls in flight finish, and the
//! command says what was done and that a re-run converges. A second Ctrl-C stops at once.

use std::sync::atomic::{AtomicBool, Ordering};

/// Set by the first SIGINT; read by the engine before it starts a step.
static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Takes over SIGINT for the rest of the run (call it from inside the runtime, once a command
/// that changes things begins).
pub fn install() {
    tokio::spawn(async {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        REQUESTED.store(true, Ordering::SeqCst);
        crate::progress::notice(
            "\ninterrupted: starting no new step; the calls in flight finish first (Ctrl-C again \
             to stop at once; a re-run converges either way)",
        );
        if tokio::signal::ctrl_c().await.is_ok() {
            crate::progress::notice("stopped at once; run the same command again: it converges");
            std::process::exit(130);
        }
    });
}

/// Whether Ctrl-C was pressed.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}
