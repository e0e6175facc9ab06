//! Small helpers shared by resource modules: policy documents as AWS returns them and as a
//! setting to put or remove, error codes with messages, the one item a describe call answered
//! for a name, the wait for a role a request hands to a service.

use super::Ctx;
use super::errors::{NotFound, gone_is_done};
use crate::model::ResourceId;
use crate::retry::{IAM_PROPAGATION_BUDGET, while_role_propagates};
use anyhow::{Context, Result, bail};
use aws_smithy_runtime_api::client::result::SdkError;
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

/// Converges a setting that holds one JSON document (a policy, a lifecycle policy): `Null`
/// removes it with `remove` (none there already is fine), any other document is put as text with
/// `put`. An error names the step and `what` ("removing the lifecycle policy").
pub async fn put_or_remove<Removed, E, R, RemoveFut, Put, PutErr, PutFut>(
    document: &Value,
    what: &str,
    remove: impl FnOnce() -> RemoveFut,
    put: impl FnOnce(String) -> PutFut,
) -> Result<()>
where
    RemoveFut: Future<Output = Result<Removed, SdkError<E, R>>>,
    E: NotFound + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
    PutFut: Future<Output = Result<Put, PutErr>>,
    anyhow::Error: From<PutErr>,
{
    if document.is_null() {
        return gone_is_done(remove().await).with_context(|| format!("removing the {what}"));
    }
    let text =
        serde_json::to_string(document).with_context(|| format!("serialising the {what}"))?;
    let put = put(text).await.map_err(anyhow::Error::from);
    put.with_context(|| format!("setting the {what}")).map(drop)
}

/// The item of `items` whose name (`name_of`) is `name`: a describe call may answer more than
/// the name it was asked for (a prefix filter), so the exact one is picked out.
pub fn named<'i, T>(
    items: &'i [T],
    name: &str,
    name_of: impl Fn(&T) -> Option<&str>,
) -> Option<&'i T> {
    items.iter().find(|item| name_of(item) == Some(name))
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
    use aws_sdk_ecr::operation::delete_lifecycle_policy::DeleteLifecyclePolicyError;
    use aws_sdk_ecr::types::error::LifecyclePolicyNotFoundException;
    use serde_json::json;
    use std::sync::Mutex;

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

    type RemoveError = SdkError<DeleteLifecyclePolicyError, ()>;

    fn not_found() -> RemoveError {
        let absent = LifecyclePolicyNotFoundException::builder().build();
        SdkError::service_error(
            DeleteLifecyclePolicyError::LifecyclePolicyNotFoundException(absent),
            (),
        )
    }

    #[tokio::test]
    async fn a_document_is_put_as_text_and_null_removes_it_even_when_absent() {
        let put: Mutex<Vec<String>> = Mutex::default();
        let record = |text| {
            put.lock().expect("lock").push(text);
            std::future::ready(Ok::<(), RemoveError>(()))
        };
        let never_removed = || std::future::ready(Err::<(), _>(not_found()));
        put_or_remove(&json!({"rules": []}), "policy", never_removed, record)
            .await
            .expect("puts");
        assert_eq!(*put.lock().expect("lock"), [r#"{"rules":[]}"#]);
        let gone = || std::future::ready(Err::<(), _>(not_found()));
        let never_put = |_| std::future::ready(Ok::<(), RemoveError>(()));
        put_or_remove(&Value::Null, "policy", gone, never_put)
            .await
            .expect("absent already is removed");
        let failed = |_| std::future::ready(Err::<(), _>(not_found()));
        let err = put_or_remove(&json!({}), "lifecycle policy", never_removed, failed)
            .await
            .expect_err("a failed put is an error");
        assert_eq!(err.to_string(), "setting the lifecycle policy");
    }

    #[test]
    fn named_picks_the_exact_name_out_of_a_prefix_match() {
        let names = [Some("app-logs"), None, Some("app")];
        let found = named(&names, "app", |n| *n);
        assert_eq!(found, Some(&Some("app")));
        assert_eq!(named(&names, "ap", |n| *n), None);
    }

    #[test]
    fn truncated_escape_is_an_error() {
        assert!(percent_decode("abc%4").is_err());
        assert!(percent_decode("%zz").is_err());
    }
}
