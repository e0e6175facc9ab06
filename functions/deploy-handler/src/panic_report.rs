//! Reports a panic as the in-flight job's failure, so the pipeline never waits 20 minutes for
//! a handler that died (release builds abort on panic, so nothing can catch it).

use std::panic::PanicHookInfo;
use std::sync::mpsc;
use std::time::Duration;

use crate::inflight;
use crate::report::{FailureKind, FailureReport, put_failure};

/// Longest the hook waits for CodePipeline before letting the process die anyway.
const REPORT_WAIT: Duration = Duration::from_secs(4);

pub fn install(client: aws_sdk_codepipeline::Client) {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if let Some(job_id) = inflight::take() {
            report_panic(&client, job_id, panic_message(info));
        }
        default_hook(info);
    }));
}

pub fn panic_message(info: &PanicHookInfo<'_>) -> String {
    let payload = info
        .payload()
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| info.payload().downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(non-text panic payload)".to_owned());
    let location = info
        .location()
        .map(|l| format!("{}:{}", l.file(), l.line()))
        .unwrap_or_else(|| "unknown location".to_owned());
    format!("deploy-handler panicked: {payload} at {location}; see the function's logs")
}

/// Sends the failure from a fresh thread with its own runtime: the panicking thread may be a
/// runtime worker, which must not block on its own runtime.
fn report_panic(client: &aws_sdk_codepipeline::Client, job_id: String, message: String) {
    let client = client.clone();
    let (done, wait) = mpsc::channel();
    let report = FailureReport {
        kind: FailureKind::JobFailed,
        message,
        external_execution_id: job_id.clone(),
    };
    let spawned = std::thread::Builder::new()
        .name("panic-report".into())
        .spawn(move || {
            let result = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
                .and_then(|runtime| {
                    runtime.block_on(async {
                        tokio::time::timeout(REPORT_WAIT, put_failure(&client, &job_id, &report))
                            .await
                            .map_err(|_| "timed out".to_owned())?
                            .map(|_| ())
                            .map_err(|e| {
                                aws_smithy_types::error::display::DisplayErrorContext(&e)
                                    .to_string()
                            })
                    })
                });
            // The hook may have stopped waiting; a closed channel is fine.
            let _ = done.send((job_id, result));
        });
    if spawned.is_err() {
        tracing::error!("could not start the thread that reports the panic; the job will time out");
        return;
    }
    match wait.recv_timeout(REPORT_WAIT + Duration::from_millis(500)) {
        Ok((job_id, Ok(()))) => tracing::error!(job_id, "reported the panic as the job's failure"),
        Ok((job_id, Err(error))) => tracing::error!(
            job_id,
            error,
            "could not report the panic; the job will time out"
        ),
        Err(_) => tracing::error!("reporting the panic took too long; the job may time out"),
    }
}
