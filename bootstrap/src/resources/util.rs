//! Small helpers shared by resource modules: policy documents as AWS returns them, tag diffs.

use crate::model::Tags;
use anyhow::{Context, Result, bail};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde_json::Value;

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

/// What a tag update must do: keys to remove, and the tags to (re)set.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TagChanges {
    pub remove: Vec<String>,
    pub set: Tags,
}

impl TagChanges {
    pub fn between(desired: &Tags, observed: &Tags) -> Self {
        let remove = observed
            .keys()
            .filter(|k| !desired.contains_key(*k))
            .cloned()
            .collect();
        let set = desired
            .iter()
            .filter(|(k, v)| observed.get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Self { remove, set }
    }

    pub fn is_empty(&self) -> bool {
        self.remove.is_empty() && self.set.is_empty()
    }
}

/// `Ok(None)` when the call failed because what it names does not exist, as `is_absent` tells
/// from the service's modeled error type; other errors pass through.
pub fn absent_as_none<T, E, R>(
    result: Result<T, SdkError<E, R>>,
    is_absent: impl FnOnce(&E) -> bool,
) -> Result<Option<T>>
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match result {
        Ok(value) => Ok(Some(value)),
        Err(err) if err.as_service_error().is_some_and(is_absent) => Ok(None),
        Err(err) => Err(err.into()),
    }
}

/// A delete whose target is already gone is done (every delete step is idempotent).
pub fn gone_is_done<T, E, R>(
    result: Result<T, SdkError<E, R>>,
    is_absent: impl FnOnce(&E) -> bool,
) -> Result<()>
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    absent_as_none(result, is_absent).map(drop)
}

/// The IAM role ARNs a resource policy names as principals: what AWS checks when the policy is
/// set, and so what may not have propagated yet.
pub fn role_principals(policy: &Value) -> Vec<String> {
    let mut roles = Vec::new();
    let statements = match &policy["Statement"] {
        Value::Array(list) => list.iter().collect(),
        single @ Value::Object(_) => vec![single],
        _ => Vec::new(),
    };
    for statement in statements {
        for key in ["Principal", "NotPrincipal"] {
            let arns = match &statement[key]["AWS"] {
                Value::String(one) => vec![one.as_str()],
                Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            for arn in arns {
                if arn.contains(":role/") && !roles.iter().any(|r| r == arn) {
                    roles.push(arn.to_owned());
                }
            }
        }
    }
    roles
}

/// True when an error has AWS error `code` and its message contains `needle`: for the refusals
/// AWS gives no narrower type than a generic one (each caller says which).
pub fn has_code_and_message<E: ProvideErrorMetadata>(err: &E, code: &str, needle: &str) -> bool {
    err.code() == Some(code) && err.message().is_some_and(|m| m.contains(needle))
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

    #[test]
    fn tag_changes_only_list_differences() {
        let desired: Tags = [("a".into(), "1".into()), ("b".into(), "2".into())].into();
        let observed: Tags = [
            ("a".into(), "1".into()),
            ("b".into(), "9".into()),
            ("c".into(), "3".into()),
        ]
        .into();
        let changes = TagChanges::between(&desired, &observed);
        assert_eq!(changes.remove, vec!["c".to_owned()]);
        assert_eq!(changes.set, Tags::from([("b".into(), "2".into())]));
        assert!(TagChanges::between(&desired, &desired).is_empty());
    }

    #[test]
    fn role_principals_are_read_from_every_statement_form() {
        let policy = json!({"Statement": [
            {"Principal": {"AWS": "arn:aws:iam::1:role/a"}},
            {"Principal": {"AWS": ["arn:aws:iam::1:role/b", "arn:aws:iam::1:root", "arn:aws:iam::1:role/a"]}},
            {"Principal": {"Service": "events.amazonaws.com"}},
            {"Principal": "*"}
        ]});
        assert_eq!(
            role_principals(&policy),
            vec![
                "arn:aws:iam::1:role/a".to_owned(),
                "arn:aws:iam::1:role/b".to_owned()
            ]
        );
        assert!(role_principals(&Value::Null).is_empty());
    }
}
