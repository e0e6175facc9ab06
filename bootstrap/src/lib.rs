//! The bootstrap: a reconciler that provisions, converges and destroys one environment's
//! CI/CD pipeline. Desired state is data ([`desired`]), observing is IO ([`observe`]),
//! [`plan::plan`] is a pure function of the two, and [`apply`] executes a plan.

pub mod artifacts;
pub mod aws;
pub mod cli;
pub mod config;
pub mod desired;
pub mod engine;
pub mod interrupt;
pub mod model;
pub mod ops;
pub mod plan;
pub mod policies;
pub mod progress;
pub mod resources;
pub mod retry;
pub mod retry_notice;
pub mod secret;
pub mod target_facts;

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

/// The error codes AWS answers a call the credentials' policies do not allow with, by protocol
/// (query: `AccessDenied`, JSON: `AccessDeniedException`, SNS: `AuthorizationError`).
pub const ACCESS_DENIED_CODES: [&str; 4] = [
    "AccessDenied",
    "AccessDeniedException",
    "AuthorizationError",
    "AuthorizationErrorException",
];

/// An error and its contexts on one line, an SDK error as `Code: message` instead of the SDK's
/// `service error: unhandled error (Code): Error { code: .., message: .. }`.
pub fn error_report(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        if let Some(meta) = cause.downcast_ref::<aws_smithy_types::error::ErrorMetadata>() {
            parts.push(format!(
                "{}: {}",
                meta.code().unwrap_or("error"),
                meta.message().unwrap_or("(no message)")
            ));
            break;
        }
        let text = cause.to_string();
        // The SDK's wrappers around the service's answer carry nothing of their own.
        if text == "service error" || text.starts_with("unhandled error") {
            continue;
        }
        if parts.last().is_some_and(|last| last.contains(&text)) {
            continue;
        }
        parts.push(text);
    }
    parts.join(": ")
}

/// Whether a report (see [`error_report`]) holds an access denial: the text is all that is left
/// once several errors are gathered into one.
pub fn reports_access_denied(report: &str) -> bool {
    ACCESS_DENIED_CODES
        .iter()
        .any(|code| report.contains(&format!("{code}: ")))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use aws_sdk_iam::operation::get_role::GetRoleError;
    use aws_smithy_runtime_api::client::result::SdkError;
    use aws_smithy_runtime_api::http::Response;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    fn denied() -> anyhow::Error {
        let meta = ErrorMetadata::builder()
            .code("AccessDenied")
            .message("User: arn:aws:iam::1:user/ci is not authorized to perform: iam:GetRole")
            .build();
        let response = Response::new(403.try_into().unwrap(), SdkBody::empty());
        let err: SdkError<GetRoleError, Response> =
            SdkError::service_error(GetRoleError::generic(meta), response);
        anyhow::Error::new(err).context("reading iam role build-role-dev")
    }

    #[test]
    fn an_sdk_error_reads_as_its_code_and_message() {
        let report = error_report(&denied());
        assert_eq!(
            report,
            "reading iam role build-role-dev: AccessDenied: User: arn:aws:iam::1:user/ci is not authorized to perform: iam:GetRole"
        );
        assert!(reports_access_denied(&report));
        assert!(!reports_access_denied(
            "reading iam role x: NoSuchEntity: The role cannot be found"
        ));
    }
}
