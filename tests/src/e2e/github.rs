//! The GitHub side of a push and CodePipeline's webhook checks: a realistic push payload,
//! GitHub's `X-Hub-Signature-256` signature, and the webhook's authentication and filters
//! evaluated the way CodePipeline evaluates them before it starts an execution.

use anyhow::{Result, bail};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

/// One commit pushed to GitHub.
#[derive(Clone, Debug)]
pub struct Commit {
    /// 40 hex digits.
    pub id: String,
    pub message: String,
    pub author: String,
}

/// A push event body as GitHub sends it (the fields CodePipeline and people look at).
pub fn push_payload(repository: &str, branch: &str, before: &str, commit: &Commit) -> Value {
    let (owner, name) = repository
        .split_once('/')
        .unwrap_or((repository, repository));
    json!({
        "ref": format!("refs/heads/{branch}"),
        "before": before,
        "after": commit.id,
        "created": false,
        "deleted": false,
        "forced": false,
        "compare": format!("https://github.com/{repository}/compare/{}...{}", &before[..12], &commit.id[..12]),
        "head_commit": {
            "id": commit.id,
            "message": commit.message,
            "url": format!("https://github.com/{repository}/commit/{}", commit.id),
            "author": {"name": commit.author, "email": format!("{}@users.noreply.github.com", commit.author.to_lowercase().replace(' ', "."))},
        },
        "commits": [{"id": commit.id, "message": commit.message}],
        "repository": {
            "name": name,
            "full_name": repository,
            "owner": {"login": owner, "name": owner},
            "html_url": format!("https://github.com/{repository}"),
            "default_branch": "main",
        },
        "pusher": {"name": commit.author},
    })
}

/// `sha256=<hex HMAC-SHA256 of the exact body>`, GitHub's `X-Hub-Signature-256` header.
pub fn signature_header(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks a signature header against the body in constant time, as a webhook receiver must.
pub fn signature_is_valid(secret: &[u8], body: &[u8], header: &str) -> bool {
    let Some(hex_digest) = header.strip_prefix("sha256=") else {
        return false;
    };
    let Ok(expected) = hex::decode(hex_digest) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// A webhook filter as ListWebhooks returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    pub json_path: String,
    pub match_equals: Option<String>,
}

/// Why a filter did or did not let the push through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterVerdict {
    pub json_path: String,
    pub expected: Option<String>,
    pub found: Option<String>,
    pub matched: bool,
}

/// Evaluates every filter (all must match, as in CodePipeline). `MatchEquals` may name source
/// action configuration properties in braces (`refs/heads/{Branch}`), which are substituted
/// from `action_configuration`.
pub fn evaluate_filters(
    filters: &[Filter],
    payload: &Value,
    action_configuration: &[(String, String)],
) -> Result<Vec<FilterVerdict>> {
    let mut verdicts = Vec::new();
    for filter in filters {
        let found = json_path_value(payload, &filter.json_path)?;
        let expected = filter
            .match_equals
            .as_ref()
            .map(|template| substitute(template, action_configuration))
            .transpose()?;
        let found_text = found.map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        // A filter without MatchEquals only requires the path to exist.
        let matched = match (&expected, &found_text) {
            (Some(want), Some(got)) => want == got,
            (None, Some(_)) => true,
            _ => false,
        };
        verdicts.push(FilterVerdict {
            json_path: filter.json_path.clone(),
            expected,
            found: found_text,
            matched,
        });
    }
    Ok(verdicts)
}

fn substitute(template: &str, configuration: &[(String, String)]) -> Result<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else {
            bail!(
                "webhook filter MatchEquals `{template}` has an unclosed `{{`; close it or remove it"
            );
        };
        let key = &rest[start + 1..start + len];
        let Some((_, value)) = configuration.iter().find(|(k, _)| k == key) else {
            bail!(
                "webhook filter MatchEquals `{template}` names `{{{key}}}`, which the source action's configuration does not define; use one of its keys"
            );
        };
        out.push_str(&rest[..start]);
        out.push_str(value);
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The value at a dotted JSONPath (`$.ref`, `$.repository.full_name`, `$['ref']`).
pub fn json_path_value<'a>(document: &'a Value, path: &str) -> Result<Option<&'a Value>> {
    let Some(rest) = path.strip_prefix('$') else {
        bail!("webhook filter path `{path}` is not JSONPath: it must start with `$`");
    };
    let mut current = document;
    let mut rest = rest;
    while !rest.is_empty() {
        let key;
        if let Some(after) = rest.strip_prefix("['") {
            let Some(end) = after.find("']") else {
                bail!("webhook filter path `{path}` has an unclosed `['`");
            };
            key = &after[..end];
            rest = &after[end + 2..];
        } else if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            key = &after[..end];
            rest = &after[end..];
        } else {
            bail!(
                "webhook filter path `{path}` uses JSONPath this rehearsal does not evaluate (only `$.a.b` and `$['a']`); simplify the filter"
            );
        }
        match current.get(key) {
            Some(next) => current = next,
            None => return Ok(None),
        }
    }
    Ok(Some(current))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn commit() -> Commit {
        Commit {
            id: "a".repeat(40),
            message: "Say hello".into(),
            author: "Ada Lovelace".into(),
        }
    }

    #[test]
    fn signature_matches_githubs_documented_example() {
        // GitHub's docs: secret "It's a Secret to Everybody", body "Hello, World!".
        let header = signature_header(b"It's a Secret to Everybody", b"Hello, World!");
        assert_eq!(
            header,
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
        assert!(signature_is_valid(
            b"It's a Secret to Everybody",
            b"Hello, World!",
            &header
        ));
        assert!(!signature_is_valid(
            b"another secret",
            b"Hello, World!",
            &header
        ));
        assert!(!signature_is_valid(
            b"It's a Secret to Everybody",
            b"Hello, World?",
            &header
        ));
        assert!(!signature_is_valid(
            b"It's a Secret to Everybody",
            b"Hello, World!",
            "sha1=00"
        ));
    }

    #[test]
    fn branch_filter_passes_the_configured_branch_only() {
        let filters = [Filter {
            json_path: "$.ref".into(),
            match_equals: Some("refs/heads/{Branch}".into()),
        }];
        let config = [("Branch".to_owned(), "main".to_owned())];
        let main = push_payload("o/r", "main", &"0".repeat(40), &commit());
        let verdicts = evaluate_filters(&filters, &main, &config).unwrap();
        assert!(verdicts[0].matched, "{verdicts:?}");
        let other = push_payload("o/r", "feature/x", &"0".repeat(40), &commit());
        let verdicts = evaluate_filters(&filters, &other, &config).unwrap();
        assert!(!verdicts[0].matched);
        assert_eq!(verdicts[0].found.as_deref(), Some("refs/heads/feature/x"));
        assert_eq!(verdicts[0].expected.as_deref(), Some("refs/heads/main"));
    }

    #[test]
    fn unknown_placeholders_and_paths_are_explained() {
        let payload = json!({"ref": "refs/heads/main", "repository": {"full_name": "o/r"}});
        assert_eq!(
            json_path_value(&payload, "$['repository'].full_name").unwrap(),
            Some(&json!("o/r"))
        );
        assert_eq!(json_path_value(&payload, "$.missing").unwrap(), None);
        let err = json_path_value(&payload, "ref").unwrap_err().to_string();
        assert!(err.contains("must start with `$`"), "{err}");
        let filters = [Filter {
            json_path: "$.ref".into(),
            match_equals: Some("refs/heads/{Nope}".into()),
        }];
        let err = evaluate_filters(&filters, &payload, &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("{Nope}"), "{err}");
    }
}
