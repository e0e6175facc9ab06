//! The GitHub token from Secrets Manager (`GITHUB_STATUS_TOKEN_SECRET`): read at the first status
//! of a cold start and kept while the instance is warm; a failed read is retried at the next
//! event. Never printed.

use aws_sdk_secretsmanager::error::ProvideErrorMetadata as _;
use aws_smithy_types::error::display::DisplayErrorContext;

use crate::github::{BoxFuture, GitHubToken};

/// Where the token comes from; tests stand in for Secrets Manager.
pub trait TokenSource: Send + Sync {
    fn token(&self) -> BoxFuture<'_, Result<GitHubToken, String>>;
}

#[derive(Debug)]
pub struct SecretsManagerToken {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
    cached: tokio::sync::OnceCell<GitHubToken>,
}

impl SecretsManagerToken {
    pub fn new(client: aws_sdk_secretsmanager::Client, secret_id: String) -> Self {
        Self {
            client,
            secret_id,
            cached: tokio::sync::OnceCell::new(),
        }
    }

    async fn fetch(&self) -> Result<GitHubToken, String> {
        let id = &self.secret_id;
        let output = self
            .client
            .get_secret_value()
            .secret_id(id)
            .send()
            .await
            .map_err(|err| {
                let detail = DisplayErrorContext(&err).to_string();
                match err.as_service_error() {
                    Some(e) if e.is_resource_not_found_exception() => format!(
                        "the GitHub token secret {id} does not exist ({detail}); fix GITHUB_STATUS_TOKEN_SECRET"
                    ),
                    Some(e) if e.is_decryption_failure() => format!(
                        "the GitHub token secret {id} cannot be decrypted ({detail}); grant the notifier's role kms:Decrypt on its key"
                    ),
                    // Secrets Manager models no AccessDenied type: the code is all there is.
                    Some(e) if e.code() == Some("AccessDeniedException") => format!(
                        "the notifier's role may not read the GitHub token secret {id} ({detail}); grant it secretsmanager:GetSecretValue"
                    ),
                    _ => format!("could not read the GitHub token secret {id}: {detail}"),
                }
            })?;
        output
            .secret_string()
            .and_then(GitHubToken::from_secret)
            .ok_or_else(|| {
                format!(
                    "the GitHub token secret {id} holds no token (SecretString empty, binary, or with spaces); \
                     put the token itself, or {{\"token\": \"...\"}}"
                )
            })
    }
}

impl TokenSource for SecretsManagerToken {
    fn token(&self) -> BoxFuture<'_, Result<GitHubToken, String>> {
        Box::pin(async move { self.cached.get_or_try_init(|| self.fetch()).await.cloned() })
    }
}
