//! Delivering the deployment event to what the team runs: a signed HTTPS webhook (with the
//! 202 + Location long-deployment protocol, [`webhook`]) and an EventBridge bus
//! ([`eventbridge`]), the webhook's secret ([`secret`]), and the event they all receive.

pub mod eventbridge;
pub mod secret;
pub mod webhook;

use serde::{Deserialize, Serialize};

use crate::report::FailureKind;

/// The event every delivery carries (also the EventBridge detail).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentEvent {
    /// The CodePipeline job id: stable across re-deliveries, so receivers can dedupe on it.
    pub deployment_id: String,
    pub pipeline: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub execution_id: Option<String>,
    pub image: ImageFields,
    /// The input artifact's revision (the commit the image was built from), when known.
    pub commit: Option<String>,
    pub environment: Option<String>,
    pub service: String,
    pub requested_at: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageFields {
    pub uri: String,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TargetError {
    #[error("{0}")]
    Configuration(String),
    #[error("{0}")]
    Permission(String),
    #[error(
        "the deployment webhook answered HTTP {status} to {method} {url}: {excerpt}; fix the receiver \
         or its configuration, then retry the stage"
    )]
    Rejected {
        method: &'static str,
        url: String,
        status: u16,
        excerpt: String,
    },
    #[error(
        "the deployment webhook {method} {url} failed after {attempts} attempt(s): {detail}; check that the receiver is reachable"
    )]
    Unreachable {
        method: &'static str,
        url: String,
        attempts: u32,
        detail: String,
    },
    #[error("{0}")]
    Failed(String),
}

impl TargetError {
    pub fn failure_kind(&self) -> FailureKind {
        match self {
            Self::Configuration(_) => FailureKind::ConfigurationError,
            Self::Permission(_) => FailureKind::PermissionError,
            _ => FailureKind::JobFailed,
        }
    }
}
