//! Says when the SDK retries a call, and until when: a throttled or unavailable service is
//! otherwise silent for the seconds the standard retry strategy waits between attempts.

use crate::progress::Progress;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use aws_smithy_types::retry::RetryConfig;
use std::sync::Arc;

/// An SDK interceptor that prints one progress line before each retry of a call.
#[derive(Debug, Clone)]
pub struct RetryNotice {
    progress: Arc<Progress>,
}

impl RetryNotice {
    pub fn new(quiet: bool) -> Self {
        Self {
            progress: Arc::new(Progress::new(quiet)),
        }
    }
}

/// How the previous attempt of this call failed, kept for the next attempt's notice.
#[derive(Debug, Clone)]
struct LastFailure(String);

impl Storable for LastFailure {
    type Storer = StoreReplace<Self>;
}

impl Intercept for RetryNotice {
    fn name(&self) -> &'static str {
        "RetryNotice"
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(Err(err)) = context.output_or_error() {
            let failure = match context.response() {
                Some(response) => {
                    let code = response
                        .headers()
                        .get("x-amzn-errortype")
                        .map(|value| value.split(':').next().unwrap_or(value).to_owned());
                    format!(
                        "HTTP {}{}",
                        response.status().as_u16(),
                        code.map(|c| format!(" {c}")).unwrap_or_default()
                    )
                }
                None => crate::error_text(err),
            };
            cfg.interceptor_state().store_put(LastFailure(failure));
        }
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let attempt = cfg.load::<RequestAttempts>().map_or(1, |a| a.attempts());
        if attempt < 2 {
            return Ok(());
        }
        let call = cfg.load::<Metadata>().map_or_else(
            || "a call".to_owned(),
            |m| format!("{} {}", m.service(), m.name()),
        );
        let most = cfg
            .load::<RetryConfig>()
            .map_or_else(|| "?".to_owned(), |r| r.max_attempts().to_string());
        let failure = cfg
            .load::<LastFailure>()
            .map_or_else(|| "an error".to_owned(), |f| f.0.clone());
        self.progress.line(&format!(
            "retrying {call} after {failure}: attempt {attempt} of {most} (it gives up after \
             attempt {most}; AWS_MAX_ATTEMPTS changes that)"
        ));
        Ok(())
    }
}
