//! Which grants of the pipeline's roles the rehearsal used: every (statement, action) of each
//! role's inline policy, matched against the calls the emulator's IAM enforcement allowed for
//! that role (same action, on a resource the statement covers; a call a resource policy also
//! allowed still needed the grant on a real account once that policy changes). An unused grant
//! is over-privilege unless [`NOT_REHEARSED`] says why the rehearsal cannot exercise it.

use serde_json::Value;
use std::collections::BTreeSet;
use std::fmt::Write as _;

/// Grants no call of the rehearsal can use, by role (name without the environment suffix),
/// statement id and action, with the reason.
pub const NOT_REHEARSED: &[(&str, &str, &str, &str)] = &[
    (
        "codebuild-role",
        "WriteBuildLogs",
        "*",
        "CodeBuild itself streams the build log to CloudWatch Logs; the rehearsal prints it",
    ),
    (
        "codebuild-role",
        "ReadSourceWriteArtifacts",
        "s3:GetObjectVersion",
        "CodeBuild reads the source artifact by version; the rehearsal reads the latest",
    ),
    (
        "codebuild-role",
        "LocateArtifactBucket",
        "*",
        "CodeBuild checks the artifact bucket before a build; the rehearsal does not run CodeBuild's agent",
    ),
    (
        "codebuild-role",
        "PublishTestReports",
        "*",
        "CodeBuild's agent uploads the JUnit report; the rehearsal hands it to the emulator's control API",
    ),
    (
        "codepipeline-role",
        "ArtifactObjects",
        "s3:GetObjectVersion",
        "CodePipeline hands artifacts on by version; the rehearsal reads the latest",
    ),
    (
        "codepipeline-role",
        "ArtifactBucket",
        "s3:GetBucketLocation",
        "CodePipeline locates the bucket's region; the emulator has one region",
    ),
    (
        "deploy-handler-role",
        "ReadImagePlatform",
        "*",
        "the deploy-handler asks ECR what an image is built for only when the artifact does not say, and the buildspec always says (the deploy-handler's runtime test covers the read)",
    ),
    (
        "deploy-handler-role",
        "WriteFunctionLogs",
        "*",
        "Lambda itself ships the function's stdout to CloudWatch Logs",
    ),
    (
        "event-notifier-role",
        "WriteFunctionLogs",
        "*",
        "Lambda itself ships the function's stdout to CloudWatch Logs",
    ),
];

/// Grants only the real build uses: on a machine without podman the rehearsal's stand-in
/// `docker` (tests/src/e2e/engine.rs) leaves them unused.
pub const NOT_REHEARSED_BY_STANDIN_DOCKER: &[(&str, &str, &str, &str)] = &[(
    "codebuild-role",
    "PushAndPullImages",
    "*",
    "layer uploads and pulls: the stand-in docker (no podman on this machine) pushes a manifest only (PutImage), it has no layers to upload or pull",
)];

/// One action of one statement of one role, and the operations that used it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrantUse {
    pub role: String,
    pub sid: String,
    pub action: String,
    pub resources: Vec<String>,
    pub used_by: BTreeSet<String>,
    /// The rehearsal built with the stand-in `docker`, so [`NOT_REHEARSED_BY_STANDIN_DOCKER`]
    /// excuses too.
    pub standin_build: bool,
}

impl GrantUse {
    /// Why it may stay unused, when [`NOT_REHEARSED`] (or, after a stand-in build,
    /// [`NOT_REHEARSED_BY_STANDIN_DOCKER`]) lists it.
    pub fn excused(&self, env: &str) -> Option<&'static str> {
        let role = self
            .role
            .strip_suffix(&format!("-{env}"))
            .unwrap_or(&self.role);
        let standin: &[_] = if self.standin_build {
            NOT_REHEARSED_BY_STANDIN_DOCKER
        } else {
            &[]
        };
        NOT_REHEARSED
            .iter()
            .chain(standin)
            .find(|(r, sid, action, _)| {
                *r == role && *sid == self.sid && (*action == "*" || *action == self.action)
            })
            .map(|(_, _, _, reason)| *reason)
    }
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(one) => vec![one.clone()],
        Value::Array(many) => many
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// IAM's resource matching: `*` any run of characters, `?` any one (case-sensitive).
fn matches_arn(pattern: &str, arn: &str) -> bool {
    fn matches(p: &[u8], s: &[u8]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some(b'*'), _) => matches(&p[1..], s) || (!s.is_empty() && matches(p, &s[1..])),
            (Some(b'?'), Some(_)) => matches(&p[1..], &s[1..]),
            (Some(a), Some(b)) if a == b => matches(&p[1..], &s[1..]),
            _ => false,
        }
    }
    matches(pattern.as_bytes(), arn.as_bytes())
}

/// Every (statement, action) of `policy`, the inline policy of `role`, with the operations that
/// `allowed` (the emulator's `/_shim/iam/grants` records) says it allowed.
pub fn usage(role: &str, policy: &Value, allowed: &[Value]) -> Vec<GrantUse> {
    let mut out = Vec::new();
    for statement in policy["Statement"].as_array().into_iter().flatten() {
        if statement["Effect"] != "Allow" {
            continue;
        }
        let sid = statement["Sid"].as_str().unwrap_or_default().to_owned();
        for action in strings(&statement["Action"]) {
            let used_by = allowed
                .iter()
                .filter(|g| {
                    g["role"]
                        .as_str()
                        .is_some_and(|arn| arn.ends_with(&format!(":role/{role}")))
                        && g["action"]
                            .as_str()
                            .is_some_and(|a| a.eq_ignore_ascii_case(&action))
                        && g["resource"].as_str().is_some_and(|resource| {
                            strings(&statement["Resource"])
                                .iter()
                                .any(|pattern| matches_arn(pattern, resource))
                        })
                })
                .filter_map(|g| g["operation"].as_str().map(str::to_owned))
                .collect();
            out.push(GrantUse {
                role: role.to_owned(),
                sid: sid.clone(),
                action,
                resources: strings(&statement["Resource"]),
                used_by,
                standin_build: false,
            });
        }
    }
    out
}

/// Scope-lint findings that are AWS's doing, by role (without the suffix) and statement.
pub const SCOPE_EXCEPTIONS: &[(&str, &str, &str)] = &[
    (
        "bootstrap-deployer",
        "FindWebhook",
        "ListWebhooks authorises on the account's webhooks as a whole (arn:…:webhook:*)",
    ),
    (
        "bootstrap-deployer",
        "FindConnection",
        "ListConnections authorises on the account's connections as a whole (arn:…:connection/*)",
    ),
];

/// What the emulator's audit of the exercised policies found (`/_shim/iam/mutants` and
/// `/_shim/iam/scope`): mutants no recorded call would notice although their grant was used or
/// is not excused, scope problems, and statements whose broadening to `*` goes unnoticed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Audit {
    pub mutants: usize,
    pub caught: usize,
    /// Survivors that are not unused-and-excused grants: redundant or unexplained grants.
    pub survivors: Vec<String>,
    pub scope_problems: Vec<String>,
    pub broadening_missed: Vec<String>,
}

impl Audit {
    pub fn is_clean(&self) -> bool {
        self.survivors.is_empty()
            && self.scope_problems.is_empty()
            && self.broadening_missed.is_empty()
    }
}

fn role_of(principal: &str, env: &str) -> String {
    let name = principal.rsplit('/').next().unwrap_or(principal);
    name.strip_suffix(&format!("-{env}"))
        .unwrap_or(name)
        .to_owned()
}

/// Judges the emulator's answers: a surviving mutant is fine only when every grant it removes
/// is unused and listed in [`NOT_REHEARSED`] (then nothing could catch it here).
pub fn audit(uses: &[GrantUse], replay: &[Value], scope: &Value, env: &str) -> Audit {
    let mut out = Audit {
        mutants: replay.len(),
        ..Audit::default()
    };
    for mutant in replay {
        if !mutant["caughtBy"].is_null() {
            out.caught += 1;
            continue;
        }
        let role = role_of(mutant["principal"].as_str().unwrap_or_default(), env);
        let sid = mutant["sid"].as_str().unwrap_or_default();
        let action = mutant["action"].as_str();
        let removed: Vec<&GrantUse> = uses
            .iter()
            .filter(|g| {
                g.role == format!("{role}-{env}")
                    && g.sid == sid
                    && action.is_none_or(|a| g.action == a)
            })
            .collect();
        let explained = !removed.is_empty()
            && removed
                .iter()
                .all(|g| g.used_by.is_empty() && g.excused(env).is_some());
        if !explained {
            out.survivors.push(format!(
                "{role} {sid}{}: no rehearsed call needs it{}",
                action.map(|a| format!(" {a}")).unwrap_or_default(),
                if removed.iter().any(|g| !g.used_by.is_empty()) {
                    " although calls used it (another statement also allows them: redundant)"
                } else {
                    ""
                }
            ));
        }
    }
    for problem in scope["problems"].as_array().into_iter().flatten() {
        let role = role_of(problem["policy"].as_str().unwrap_or_default(), env);
        let sid = problem["sid"].as_str().unwrap_or_default();
        if SCOPE_EXCEPTIONS
            .iter()
            .any(|(r, s, _)| *r == role && *s == sid)
        {
            continue;
        }
        out.scope_problems.push(format!(
            "{role} {sid} {} on {}: {}",
            problem["action"].as_str().unwrap_or_default(),
            problem["resource"].as_str().unwrap_or_default(),
            problem["why"].as_str().unwrap_or_default()
        ));
    }
    for statement in scope["broadening"].as_array().into_iter().flatten() {
        if statement["caught"] != true {
            out.broadening_missed.push(format!(
                "{} {}",
                role_of(statement["policy"].as_str().unwrap_or_default(), env),
                statement["sid"].as_str().unwrap_or_default()
            ));
        }
    }
    out
}

/// SECURITY.md around the generated table.
pub fn security_md(tables: &[(&str, String)]) -> String {
    let table: String = tables
        .iter()
        .map(|(title, table)| format!("## {title}\n\n{table}\n"))
        .collect();
    let trust = trust_section();
    let wide = wide_section();
    let cross = cross_environment_section();
    format!(
        "# Security\n\n\
         Generated by `cargo xtask security`; do not edit by hand.\n\n\
         The rehearsal (`cargo xtask demo`) runs each Lambda with its execution role's \
         credentials, the build's commands with the build role's, what CodePipeline does itself \
         (the source artifact, starting and reading the build, invoking the deploy-handler) with \
         the pipeline role's, and every `bootstrap` command (deploy, a changed configuration and \
         back, a repair of hand-made changes, destroy, a re-creation and a second destroy) as a \
         role holding exactly the policy `bootstrap deployer-policy` prints. The local emulator \
         judges every call against the caller's policies and the resource's policy, as IAM does, \
         and the rehearsal fails on any denial.\n\n\
         Below, for each kind of deploy target, every action of every statement of the five policies, with the calls of the runs \
         that used it (same action, on a resource the statement covers). The e2e test fails on a \
         grant no call used unless it is listed as not rehearsable, with the reason \
         (`tests/src/e2e/grants.rs`); on a grant whose removal no recorded call would notice (the \
         emulator replays every call without each statement and without each action: a mutation \
         test; `cargo xtask mutants` runs the real rehearsal for a sample); and on a resource of \
         `*`, or every resource of a type, for an action that has a resource type (two listings \
         AWS authorises only that way excepted, in the same file).\n\n\
         EventBridge's deliveries are judged by the topic's policy and the function's \
         permission, with the rule as `aws:SourceArn`. The codeconnections mode's connection grants \
         (conditioned on the connection's tags) are not in the tables below, whose rehearsals use \
         the webhook mode: the promotion rehearsal (`tests/tests/e2e_promotion.rs`, codeconnections \
         with stages) deploys and destroys with them as the deployer, and \
         `bootstrap/tests/cross_environment_signed.rs` makes those calls, signed, with the \
         deployer's policy.\n\n\
         Artifacts: the pipeline's artifact store names the AWS managed key `aws/s3` \
         (`encryptionKey`, type KMS), the key CodePipeline and CodeBuild use when none is named, \
         so the artifacts are SSE-KMS under it. Its key policy lets the account's principals use \
         it only through S3, so no role above holds a KMS grant (a customer managed key would \
         need `kms:Decrypt` and `kms:GenerateDataKey` for the pipeline, build and deploy-handler \
         roles). Any other object in the bucket gets the bucket's default encryption, SSE-S3. \
         The emulator does not model S3's use of the key: no KMS permission is judged for an \
         object.\n\n\
         Permissions boundary: every role bootstrap creates carries the environment's \
         `pipeline-boundary-ENV`, a customer managed policy made of the four roles' own \
         statements (`bootstrap deployer-policy --boundary` prints it; an administrator creates \
         it once, and `plan` and `deploy` refuse without it). A role's effective permissions are \
         the intersection of its policy and its boundary, so the deployer, which writes the \
         roles' policies and the code they run, cannot give them more: it may create a role, \
         write its policy or put its boundary back only with that boundary \
         (`iam:PermissionsBoundary`), and may read the boundary policy, never change it or take \
         it off a role (IAM User Guide, \"Permissions boundaries for IAM entities\"). The \
         rehearsal creates it as the administrator and checks that the deployer cannot create a \
         role without it or with another, remove it or change it, and that a grant-everything \
         policy the deployer writes on a role leaves a session of the role refused outside the \
         boundary; a boundary removed by hand is put back by the next deploy.\n\n\
         {table}{trust}\n{wide}{STAGES_SECTION}{cross}"
    )
}

/// What commit statuses and traffic shifts add, and what the user names that bootstrap does not
/// own: written by hand, carried into every generated SECURITY.md.
const STAGES_SECTION: &str = include_str!("security_stages.md");

/// SECURITY.md's cross-environment block, carried over from the current file: the
/// cross-environment test (`bootstrap/tests/cross_environment.rs`) generates it from every
/// mode's policies, which one rehearsal does not run, and checks it.
fn cross_environment_section() -> String {
    const START: &str = "<!-- cross-environment:";
    const END: &str = "<!-- /cross-environment -->";
    let current =
        std::fs::read_to_string(testkit::workspace_root().join("SECURITY.md")).unwrap_or_default();
    match (current.find(START), current.find(END)) {
        (Some(start), Some(end)) if start < end => {
            format!("\n{}\n", &current[start..end + END.len()])
        }
        _ => format!(
            "\n{START} missing: run `cargo test --workspace --exclude xtask --test \
             cross_environment`, which prints it -->\n"
        ),
    }
}

/// What each service sends when it assumes its role, and where that was found: the trust
/// policies depend on `aws:SourceAccount` only where it is sent.
fn trust_section() -> String {
    let mut out = String::from(
        "## Trust policies\n\nWhich condition keys each service sends when it assumes its \
         role; a trust policy may require `aws:SourceAccount` only from a service that sends it \
         (`bootstrap/src/policies/mod.rs`, `TRUST_SOURCE_ACCOUNT`).\n\n\
         | service | trust conditions on aws:SourceAccount | source |\n| --- | --- | --- |\n",
    );
    for (service, sends, source) in bootstrap::policies::TRUST_SOURCE_ACCOUNT {
        let _ = writeln!(
            out,
            "| `{service}` | {} | {source} |",
            if sends { "yes" } else { "no" }
        );
    }
    out
}

/// The deployer's resources that are not one of the environment's ARNs, with AWS's reason.
fn wide_section() -> String {
    use bootstrap::policies::deployer::{ACCOUNT_WIDE_LISTS, WILDCARD_ACTIONS};
    let mut out = String::from(
        "## The deployer's wide resources\n\n| action | resource | why |\n| --- | --- | --- |\n",
    );
    for (action, why) in WILDCARD_ACTIONS {
        let _ = writeln!(out, "| `{action}` | `*` (no resource type) | {why} |");
    }
    for (action, why) in ACCOUNT_WIDE_LISTS {
        let _ = writeln!(out, "| `{action}` | every resource of its type | {why} |");
    }
    out
}

/// SECURITY.md's table: role → statement → action → the calls that used it.
pub fn render(uses: &[GrantUse], env: &str) -> String {
    let mut out = String::from(
        "| role | statement | action | resource | used by (rehearsal) |\n| --- | --- | --- | --- | --- |\n",
    );
    for grant in uses {
        let used = if grant.used_by.is_empty() {
            match grant.excused(env) {
                Some(reason) => format!("not rehearsed: {reason}"),
                None => "**UNUSED**".to_owned(),
            }
        } else {
            grant
                .used_by
                .iter()
                .map(|op| format!("`{op}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(
            out,
            "| {} | {} | `{}` | {} | {used} |",
            grant.role,
            grant.sid,
            grant.action,
            grant
                .resources
                .iter()
                .map(|r| format!("`{r}`"))
                .collect::<Vec<_>>()
                .join("<br>")
        );
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn resource_patterns_match_as_iam_does() {
        assert!(matches_arn("arn:aws:s3:::b/*", "arn:aws:s3:::b/x/y"));
        assert!(matches_arn(
            "arn:aws:logs:*:1:log-group:g:?",
            "arn:aws:logs:r:1:log-group:g:*"
        ));
        assert!(!matches_arn("arn:aws:s3:::b/*", "arn:aws:s3:::bb/x"));
        assert!(!matches_arn("arn:aws:s3:::B/*", "arn:aws:s3:::b/x"));
    }

    #[test]
    fn each_action_is_matched_to_the_calls_its_statement_allowed() {
        let policy = json!({"Statement": [
            {"Sid": "Read", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "arn:aws:s3:::b/*"},
            {"Sid": "WriteFunctionLogs", "Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"}
        ]});
        let allowed = vec![
            json!({"role": "arn:aws:iam::1:role/deploy-handler-role-dev", "action": "s3:GetObject", "resource": "arn:aws:s3:::b/k", "operation": "s3:GetObject"}),
            // Allowed through the bucket policy, yet the grant covers it: used.
            json!({"role": "arn:aws:iam::1:role/deploy-handler-role-dev", "sid": "BucketPolicy", "action": "s3:GetObject", "resource": "arn:aws:s3:::b/j", "operation": "s3:GetObject"}),
            json!({"role": "arn:aws:iam::1:role/deploy-handler-role-dev", "action": "s3:PutObject", "resource": "arn:aws:s3:::elsewhere/k", "operation": "s3:PutObject"}),
            json!({"role": "arn:aws:iam::1:role/other-role-dev", "action": "s3:PutObject", "resource": "arn:aws:s3:::b/k", "operation": "s3:PutObject"}),
        ];
        let uses = usage("deploy-handler-role-dev", &policy, &allowed);
        assert_eq!(uses.len(), 3);
        assert_eq!(uses[0].used_by, BTreeSet::from(["s3:GetObject".to_owned()]));
        assert!(
            uses[1].used_by.is_empty(),
            "another role's call, or one outside the statement's resources, does not count"
        );
        assert_eq!(uses[1].excused("dev"), None);
        assert!(uses[2].excused("dev").is_some());
        let table = render(&uses, "dev");
        assert!(table.contains("**UNUSED**"), "{table}");
        assert!(table.contains("not rehearsed: Lambda itself"), "{table}");
    }
}
