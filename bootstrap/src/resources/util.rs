//! Small helpers shared by resource modules: policy documents as AWS returns them, error
//! codes with messages, the wait for a role a request hands to a service.

use super::Ctx;
use crate::model::ResourceId;
use crate::retry::{IAM_PROPAGATION_BUDGET, while_role_propagates};
use anyhow::{Context, Result, bail};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde_json::Value;
use std::future::Future;

/// Decodes `%XX` escapes (and `+` as space, as IAM's form encoding uses) into UTF-8 text.
pub fn percent_decode(text: &str) -> Result<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .context("a '%' escape is cut short in a URL-encoded document")?;
                let hex = std::str::from_utf8(hex).context("a '%' escape is not ASCII")?;
                let byte = u8::from_str_radix(hex, 16)
                    .with_context(|| format!("'%{hex}' is not a valid escape"))?;
                out.push(byte);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    String::from_utf8(out).context("a URL-encoded document does not decode to UTF-8")
}

/// Parses a policy document that may come URL-encoded (IAM) or as plain JSON text.
pub fn parse_policy(text: &str) -> Result<Value> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') {
        return serde_json::from_str(trimmed).context("a policy document is not valid JSON");
    }
    let decoded = percent_decode(text)?;
    match serde_json::from_str(&decoded) {
        Ok(value) => Ok(value),
        Err(err) => bail!("a policy document is not valid JSON after URL-decoding: {err}"),
    }
}

/// True when an error has AWS error `code` and its message contains `needle`: for the refusals
/// AWS gives no narrower type than a generic one (each caller says which).
pub fn has_code_and_message<E: ProvideErrorMetadata>(err: &E, code: &str, needle: &str) -> bool {
    err.code() == Some(code) && err.message().is_some_and(|m| m.contains(needle))
}

/// Sends the request `op` makes for the resource `id`, again while `is_propagation` says the
/// service cannot use the role `role_arn` yet (IAM has not propagated it), within
/// [`IAM_PROPAGATION_BUDGET`]: every create or update that hands a service a role goes through it.
pub async fn until_role_usable<T, E, F, Fut>(
    ctx: Ctx<'_>,
    id: &ResourceId,
    role_arn: &str,
    is_propagation: impl Fn(&E) -> bool,
    op: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: std::error::Error + Send + Sync + 'static,
{
    let budget = IAM_PROPAGATION_BUDGET;
    while_role_propagates(ctx.progress, id, role_arn, budget, is_propagation, op).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decodes_iam_url_encoded_policy() {
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D";
        assert_eq!(
            parse_policy(encoded).expect("decodes"),
            json!({"Version": "2012-10-17", "Statement": []})
        );
    }

    #[test]
    fn plain_json_is_parsed_as_is_even_with_percent_signs() {
        assert_eq!(
            parse_policy(r#"{"a":"50%"}"#).expect("parses"),
            json!({"a": "50%"})
        );
    }

    #[test]
    fn truncated_escape_is_an_error() {
        assert!(percent_decode("abc%4").is_err());
        assert!(percent_decode("%zz").is_err());
    }
}
