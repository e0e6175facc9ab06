//! The webhook's HMAC secret: given directly, or read from Secrets Manager on first use and
//! cached while the instance is warm. Never printed.

use std::fmt;
use std::sync::Arc;

use aws_sdk_secretsmanager::error::ProvideErrorMetadata as _;

use super::TargetError;
use crate::BoxFuture;

/// The webhook's HMAC secret; never printed.
#[derive(Clone)]
pub struct WebhookSecret(Arc<[u8]>);

impl WebhookSecret {
    pub fn new(secret: impl AsRef<[u8]>) -> Self {
        Self(Arc::from(secret.as_ref()))
    }
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(** redacted **)")
    }
}

pub trait SecretSource: Send + Sync {
    fn secret(&self) -> BoxFuture<'_, Result<WebhookSecret, TargetError>>;
}

/// The secret given directly in `DEPLOY_WEBHOOK_SECRET`.
#[derive(Debug, Clone)]
pub struct StaticSecret(pub WebhookSecret);

impl SecretSource for StaticSecret {
    fn secret(&self) -> BoxFuture<'_, Result<WebhookSecret, TargetError>> {
        let secret = self.0.clone();
        Box::pin(async move { Ok(secret) })
    }
}

/// The secret in Secrets Manager, fetched on first use and cached for the warm instance.
#[derive(Debug)]
pub struct SecretsManagerSecret {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
    cached: tokio::sync::OnceCell<WebhookSecret>,
}

impl SecretsManagerSecret {
    pub fn new(client: aws_sdk_secretsmanager::Client, secret_id: String) -> Self {
        Self {
            client,
            secret_id,
            cached: tokio::sync::OnceCell::new(),
        }
    }

    async fn fetch(&self) -> Result<WebhookSecret, TargetError> {
        let id = &self.secret_id;
        let output = self.client.get_secret_value().secret_id(id).send().await.map_err(|err| {
            let detail = aws_smithy_types::error::display::DisplayErrorContext(&err).to_string();
            match err.as_service_error() {
                Some(e) if e.is_resource_not_found_exception() => TargetError::Configuration(format!(
                    "the webhook secret {id} does not exist ({detail}); fix DEPLOY_WEBHOOK_SECRET_ARN"
                )),
                Some(e) if e.is_decryption_failure() => TargetError::Permission(format!(
                    "the webhook secret {id} cannot be decrypted ({detail}); grant the function's role kms:Decrypt on the secret's key"
                )),
                // Secrets Manager models no AccessDenied type: the code is all there is.
                Some(e) if e.code() == Some("AccessDeniedException") => TargetError::Permission(format!(
                    "the function's role may not read the webhook secret {id} ({detail}); grant it secretsmanager:GetSecretValue"
                )),
                _ => TargetError::Failed(format!("could not read the webhook secret {id}: {detail}; retry the stage")),
            }
        })?;
        if let Some(text) = output.secret_string().filter(|s| !s.is_empty()) {
            return Ok(WebhookSecret::new(text.as_bytes()));
        }
        if let Some(binary) = output.secret_binary().filter(|b| !b.as_ref().is_empty()) {
            return Ok(WebhookSecret::new(binary.as_ref()));
        }
        Err(TargetError::Configuration(format!(
            "the webhook secret {id} is empty; store the HMAC secret in it"
        )))
    }
}

impl SecretSource for SecretsManagerSecret {
    fn secret(&self) -> BoxFuture<'_, Result<WebhookSecret, TargetError>> {
        Box::pin(async move { self.cached.get_or_try_init(|| self.fetch()).await.cloned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_debug_is_redacted() {
        assert!(!format!("{:?}", WebhookSecret::new("hunter2")).contains("hunter2"));
    }
}
