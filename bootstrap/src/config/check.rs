//! The rules each input must meet before any AWS call, as strict as the strictest service or
//! tool the value reaches (tags: every tagged service; repository: GitHub; branch: git;
//! subscribers: SNS), so nothing is refused after part of the stack is made.

use anyhow::{Result, bail};
use pipeline_common::tags;
use std::collections::BTreeMap;

/// Tags per resource every service the tags go to accepts (IAM, Lambda, ECR, SNS, CodeBuild,
/// CodePipeline, EventBridge, S3, Logs, Secrets Manager all allow 50; IAM API Reference, `Tag`;
/// "Tagging AWS resources", Tag naming limits and requirements).
pub const MAX_TAGS: usize = 50;

/// The tags bootstrap sets on everything itself: they count against [`MAX_TAGS`] and cannot be
/// given.
const OURS: [&str; 3] = [tags::PROJECT, tags::ENVIRONMENT, tags::MANAGED_BY];

/// Checks the user's tags (flags and file already merged) against the rules every service the
/// tags go to shares: IAM's pattern `[\p{L}\p{Z}\p{N}_.:/=+\-@]`, key 1–128 and value 0–256
/// characters (IAM API Reference, `Tag`), no `aws:` prefix in any case ("Tagging AWS
/// resources": reserved for AWS), keys unique ignoring case (IAM treats keys that differ only
/// in case as the same key: IAM User Guide, "Tagging IAM resources", rules for tagging), and
/// at most [`MAX_TAGS`] with ours.
pub fn tags(tags: &BTreeMap<String, String>) -> Result<()> {
    let fix = "fix or drop that --tag (or the `[tag]` table in bootstrap.toml)";
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for (key, value) in tags {
        if let Some(ours) = OURS.iter().find(|ours| ours.eq_ignore_ascii_case(key)) {
            bail!(
                "--tag {key}=... is reserved: bootstrap sets {ours} on everything itself (to name \
                 the project and prove ownership); choose another key"
            );
        }
        if let Some(earlier) = seen.insert(key.to_lowercase(), key) {
            bail!(
                "--tag {earlier} and --tag {key} differ only in case; IAM counts them as one key: \
                 keep one"
            );
        }
        let key_len = key.chars().count();
        if !(1..=128).contains(&key_len) || value.chars().count() > 256 {
            bail!(
                "--tag {key}={value}: a key is 1-128 characters and a value at most 256 \
                 (AWS tag rules); {fix}"
            );
        }
        for (what, text) in [("key", key.as_str()), ("value", value.as_str())] {
            if text
                .get(..4)
                .is_some_and(|p| p.eq_ignore_ascii_case("aws:"))
            {
                bail!(
                    "--tag {key}={value}: a tag {what} may not start with aws: (reserved for AWS); {fix}"
                );
            }
            if let Some(bad) = text.chars().find(|c| !tag_char(*c)) {
                bail!(
                    "--tag {key}={value}: the {what} has `{bad}`; AWS tags allow letters, digits, \
                     spaces and _ . : / = + - @ only; {fix}"
                );
            }
        }
    }
    if tags.len() + OURS.len() > MAX_TAGS {
        bail!(
            "{} tags given; with bootstrap's own {} ({}) that passes AWS's limit of {MAX_TAGS} per \
             resource: give at most {}",
            tags.len(),
            OURS.len(),
            OURS.join(", "),
            MAX_TAGS - OURS.len()
        );
    }
    Ok(())
}

/// `[\p{L}\p{Z}\p{N}_.:/=+\-@]`: letters, separators (spaces), numbers and seven symbols.
fn tag_char(c: char) -> bool {
    c.is_alphanumeric() || (c.is_whitespace() && !c.is_control()) || "_.:/=+-@".contains(c)
}

/// Splits `OWNER/REPO` and checks both against GitHub's naming rules: an owner (user or
/// organization) is 1–39 letters, digits or single hyphens, neither first nor last (GitHub's
/// sign-up form; Enterprise Managed Users add `_SHORTCODE`, so one inner underscore is
/// allowed); a repository is 1–100 of letters, digits, `.`, `-`, `_`, not `.` or `..`, and
/// GitHub strips a trailing `.git` (it names the clone URL, not the repository).
pub fn github_repo(raw: &str) -> Result<(String, String)> {
    let example = "e.g. --github-repo octo-org/service";
    let Some((owner, repo)) = raw.split_once('/') else {
        bail!("--github-repo `{raw}` is not OWNER/REPO ({example})");
    };
    let owner_ok = (1..=39).contains(&owner.len())
        && owner
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && !owner.starts_with(['-', '_'])
        && !owner.ends_with(['-', '_'])
        && !owner.contains("--")
        && owner.matches('_').count() <= 1;
    if !owner_ok {
        bail!(
            "--github-repo `{raw}`: `{owner}` is not a GitHub owner (1-39 letters, digits or single \
             hyphens, not first or last); {example}"
        );
    }
    if let Some(stem) = repo.strip_suffix(".git") {
        bail!(
            "--github-repo `{raw}`: give the repository's name without .git: --github-repo {owner}/{stem}"
        );
    }
    let repo_ok = (1..=100).contains(&repo.len())
        && repo
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && repo != "."
        && repo != "..";
    if !repo_ok {
        bail!(
            "--github-repo `{raw}`: `{repo}` is not a GitHub repository name (1-100 letters, \
             digits, `.`, `-` or `_`, not `.` or `..`); {example}"
        );
    }
    Ok((owner.to_owned(), repo.to_owned()))
}

/// A branch name as `git check-ref-format --branch` accepts it (git-check-ref-format(1), rules
/// 1 and 3-10), and not starting with `-` (git branch refuses that) nor naming a full ref.
pub fn branch(raw: &str) -> Result<()> {
    let problem = if raw.is_empty() {
        Some("it is empty")
    } else if raw.starts_with("refs/") {
        Some("it is a full ref; give the plain branch name")
    } else if raw.starts_with('-') {
        Some("it starts with `-`")
    } else if raw == "@" || raw == "HEAD" {
        Some("git reserves that name")
    } else if raw.starts_with('/') || raw.ends_with('/') || raw.contains("//") {
        Some("it starts or ends with `/`, or has `//`")
    } else if raw.ends_with('.') || raw.contains("..") {
        Some("it ends with `.` or has `..`")
    } else if raw.contains("@{") {
        Some("it has `@{`")
    } else if raw
        .chars()
        .any(|c| c.is_ascii_control() || " ~^:?*[\\".contains(c))
    {
        Some("it has a space, a control character or one of ~ ^ : ? * [ \\")
    } else if raw
        .split('/')
        .any(|part| part.starts_with('.') || part.ends_with(".lock"))
    {
        Some("a part between slashes starts with `.` or ends with `.lock`")
    } else {
        None
    };
    match problem {
        Some(problem) => bail!(
            "--branch `{raw}` is not a branch name git accepts: {problem} (git check-ref-format); \
             give the branch as `git branch` shows it, e.g. --branch main"
        ),
        None => Ok(()),
    }
}

/// An email endpoint SNS accepts: one `@`, a non-empty local part, a dotted domain, no spaces
/// (SNS Subscribe, `Endpoint` for the email protocol). Trimmed first: a pasted trailing space
/// would otherwise reach SNS.
pub fn email(raw: &str) -> Result<String> {
    let email = raw.trim();
    let valid = email.split_once('@').is_some_and(|(user, domain)| {
        !user.is_empty()
            && !domain.contains('@')
            && domain.split('.').count() >= 2
            && domain.split('.').all(|label| {
                !label.is_empty() && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            })
    }) && !email.chars().any(char::is_whitespace);
    if !valid {
        bail!("--notify-email `{raw}` is not an email address (e.g. team@example.com)");
    }
    Ok(email.to_owned())
}

/// An HTTPS endpoint SNS accepts: `https://HOST[:PORT][/PATH]` with a host, no spaces (SNS
/// Subscribe, `Endpoint` for the https protocol). Trimmed first.
pub fn https_url(flag: &str, raw: &str, why: &str) -> Result<String> {
    let url = raw.trim();
    let Some(rest) = url.strip_prefix("https://") else {
        bail!("{flag} `{raw}` must be an https:// URL ({why})");
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let host = host.split(':').next().unwrap_or_default();
    let host_ok = !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty() && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    if !host_ok || url.chars().any(char::is_whitespace) {
        bail!("{flag} `{raw}` is not a URL with a host (e.g. https://hooks.example.com/deploy)");
    }
    Ok(url.to_owned())
}

/// The pipeline execution states CodePipeline documents for "CodePipeline Pipeline Execution
/// State Change" events (CodePipeline User Guide, "Monitoring CodePipeline events", pipeline
/// level states), accepted in any case and returned in upper case as the events spell them.
pub fn notify_state(raw: &str) -> Result<String> {
    let state = raw.trim().to_ascii_uppercase();
    if !pipeline_common::PIPELINE_EXECUTION_STATES.contains(&state.as_str()) {
        bail!(
            "--notify-states `{raw}` is not a pipeline state; use some of {} (any case)",
            pipeline_common::PIPELINE_EXECUTION_STATES.join(",")
        );
    }
    Ok(state)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn tag_map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn tags_follow_the_strictest_service() {
        tags(&tag_map(&[("team", "a b"), ("cost:center", "x/y=z+1@-_.")])).unwrap();
        for (pairs, named) in [
            (vec![("k!", "v")], "`!`"),
            (vec![("k", "v#")], "`#`"),
            (vec![("AWS:x", "v")], "aws:"),
            (vec![("k", "Aws:v")], "aws:"),
            (vec![("project", "x")], "reserved"),
            (vec![("MANAGEDBY", "x")], "reserved"),
            (vec![("Team", "a"), ("team", "b")], "differ only in case"),
            (vec![("", "v")], "1-128"),
        ] {
            let err = tags(&tag_map(&pairs)).unwrap_err().to_string();
            assert!(err.contains(named), "{pairs:?}: {err}");
        }
        let long = "k".repeat(129);
        assert!(tags(&tag_map(&[(&long, "v")])).is_err());
        let many: BTreeMap<String, String> =
            (0..48).map(|i| (format!("k{i}"), String::new())).collect();
        let err = tags(&many).unwrap_err().to_string();
        assert!(err.contains("at most 47"), "{err}");
        let fits: BTreeMap<String, String> =
            (0..47).map(|i| (format!("k{i}"), String::new())).collect();
        tags(&fits).unwrap();
    }

    #[test]
    fn repositories_follow_github_and_branches_follow_git() {
        for good in ["octo/app", "octo-org/app.rs", "a/b_c-d.e", "octo_acme/app"] {
            github_repo(good).unwrap();
        }
        for (bad, named) in [
            ("octo/app.git", "without .git"),
            ("octo/..", "not a GitHub repository"),
            ("octo_/app", "not a GitHub owner"),
            ("-octo/app", "not a GitHub owner"),
            ("oc--to/app", "not a GitHub owner"),
            (&format!("{}/app", "o".repeat(40)), "not a GitHub owner"),
            ("octo", "OWNER/REPO"),
            ("octo/a/b", "not a GitHub repository"),
        ] {
            let err = github_repo(bad).unwrap_err().to_string();
            assert!(err.contains(named), "{bad}: {err}");
        }
        for good in ["main", "release/1.2", "feature/x-y_z", "v1.0"] {
            branch(good).unwrap();
        }
        for bad in [
            "main~1",
            "ma..in",
            "main.lock",
            "main*",
            "a/",
            "-x",
            "",
            "a b",
            "@",
            "x@{1}",
            "a/.b",
            "refs/heads/main",
            "a//b",
            "end.",
        ] {
            let err = branch(bad).unwrap_err().to_string();
            assert!(
                err.contains("git check-ref-format") || err.contains("full ref"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn subscribers_are_trimmed_and_checked_as_sns_does() {
        assert_eq!(email("team@example.com ").unwrap(), "team@example.com");
        for bad in [
            "a@@b.com",
            "nobody",
            "a@b",
            "a b@c.com",
            "@b.com",
            "a@b..com",
        ] {
            assert!(email(bad).is_err(), "{bad}");
        }
        let why = "SNS delivers to HTTPS endpoints";
        assert_eq!(
            https_url("--notify-url", " https://x.example.com/h ", why).unwrap(),
            "https://x.example.com/h"
        );
        for bad in [
            "https://",
            "https://exa mple.com",
            "http://x.com",
            "https:///x",
            "https://a..b",
        ] {
            assert!(https_url("--notify-url", bad, why).is_err(), "{bad}");
        }
    }

    #[test]
    fn documented_states_are_accepted_in_any_case() {
        assert_eq!(notify_state("failed").unwrap(), "FAILED");
        assert_eq!(notify_state("Superseded").unwrap(), "SUPERSEDED");
        let err = notify_state("FOO").unwrap_err().to_string();
        assert!(err.contains("STARTED") && err.contains("any case"), "{err}");
    }
}
