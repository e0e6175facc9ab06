//! The deployer's identity in the rehearsal: a role whose only policy is the one
//! `bootstrap deployer-policy` prints, and a session of it that every `bootstrap` command of the
//! rehearsal runs under, so a grant the policy lacks is a denial here.
//!
//! A role rather than a user: the policy (about 6,300 characters for one environment) is over a
//! customer managed policy's 6,144 and far over a user's 2,048 of inline policy, but within a
//! role's 10,240 (IAM User Guide, "IAM and AWS STS quotas"); a CI job assumes a role anyway.

use anyhow::{Context, Result};
use aws_sdk_iam::Client as IamClient;
use aws_sdk_sts::Client as StsClient;
use serde_json::{Value, json};

/// The deployer role's name for an environment.
pub fn role_name(env: &str) -> String {
    format!("bootstrap-deployer-{env}")
}

/// Name of the deployer role's one inline policy.
pub const POLICY_NAME: &str = "deployer";

/// The deployer: its role and a session's credentials as environment variables.
#[derive(Clone, Debug)]
pub struct Deployer {
    pub role: String,
    pub policy: Value,
    pub env: Vec<(String, String)>,
}

impl Deployer {
    /// Creates the role (trusting principals of the account that may assume it), gives it
    /// `policy` and assumes it.
    pub async fn create(
        iam: &IamClient,
        sts: &StsClient,
        env: &str,
        account: &str,
        policy: Value,
    ) -> Result<Self> {
        let role = role_name(env);
        let trust = json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": { "AWS": format!("arn:aws:iam::{account}:root") },
                "Action": "sts:AssumeRole"
            }]
        });
        let created = iam
            .create_role()
            .role_name(&role)
            .assume_role_policy_document(trust.to_string())
            .description(
                "runs bootstrap in the rehearsal, with exactly `bootstrap deployer-policy`",
            )
            .send()
            .await
            .with_context(|| format!("creating the deployer role {role}"))?;
        let arn = created
            .role()
            .map(|r| r.arn().to_owned())
            .context("CreateRole returned no role")?;
        iam.put_role_policy()
            .role_name(&role)
            .policy_name(POLICY_NAME)
            .policy_document(policy.to_string())
            .send()
            .await
            .with_context(|| format!("putting the deployer policy on {role}"))?;
        let env = super::role_credentials(sts, &arn, "bootstrap").await?;
        Ok(Self { role, policy, env })
    }
}

/// The roles' permissions boundary, created as the administrator creates it once before the
/// first deploy: the document `bootstrap deployer-policy --boundary` prints, as a customer
/// managed policy of the name `plan` and `deploy` require. Answers its ARN.
pub async fn create_boundary(iam: &IamClient, env: &str, document: &Value) -> Result<String> {
    let name = format!("pipeline-boundary-{env}");
    let created = iam
        .create_policy()
        .policy_name(&name)
        .policy_document(document.to_string())
        .description("the most the pipeline's roles may do; the deployer may not change it")
        .send()
        .await
        .with_context(|| format!("creating the permissions boundary {name}"))?;
    created
        .policy()
        .and_then(|p| p.arn())
        .map(str::to_owned)
        .context("CreatePolicy returned no ARN")
}

/// A call IAM must refuse: Ok(what was refused) on AccessDenied, an error when it went through
/// or failed otherwise.
pub fn refused<T, E>(
    what: &str,
    result: Result<T, aws_sdk_iam::error::SdkError<E>>,
) -> Result<String>
where
    E: aws_sdk_iam::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match result {
        Ok(_) => anyhow::bail!("the deployer could {what}: the permissions boundary does not hold"),
        Err(err) if err.as_service_error().and_then(|e| e.code()) == Some("AccessDenied") => {
            Ok(format!("refused: {what}"))
        }
        Err(err) => Err(anyhow::Error::new(err).context(format!("trying to {what}"))),
    }
}

/// Before the first deploy: the deployer cannot create one of the environment's roles without
/// the boundary, nor with another (the administrator's AdministratorAccess, say).
pub async fn cannot_create_unbounded_roles(
    deployer_iam: &IamClient,
    role: &str,
) -> Result<Vec<String>> {
    let trust = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Service": "codebuild.amazonaws.com" },
            "Action": "sts:AssumeRole"
        }]
    })
    .to_string();
    let bare = deployer_iam
        .create_role()
        .role_name(role)
        .assume_role_policy_document(&trust)
        .send()
        .await;
    let other = deployer_iam
        .create_role()
        .role_name(role)
        .assume_role_policy_document(&trust)
        .permissions_boundary("arn:aws:iam::aws:policy/AdministratorAccess")
        .send()
        .await;
    Ok(vec![
        refused(
            &format!("create {role} without the permissions boundary"),
            bare,
        )?,
        refused(
            &format!("create {role} with another permissions boundary"),
            other,
        )?,
    ])
}

/// After the deploy: the deployer cannot take a role's boundary away nor change the boundary
/// policy, and a policy it writes that grants everything still gives the role only what the
/// boundary allows (a session of the role is refused a call outside it), after which the role's
/// own policy is put back.
pub async fn boundary_holds(
    emu: &testkit::Emulator,
    sts: &StsClient,
    deployer: &Deployer,
    role: &str,
    boundary_arn: &str,
) -> Result<Vec<String>> {
    let iam = IamClient::new(&emu.sdk_config_with(&deployer.env).await);
    let remove = iam
        .delete_role_permissions_boundary()
        .role_name(role)
        .send()
        .await;
    let everything = json!({
        "Version": "2012-10-17",
        "Statement": [{ "Effect": "Allow", "Action": "*", "Resource": "*" }]
    })
    .to_string();
    let edit = iam
        .create_policy_version()
        .policy_arn(boundary_arn)
        .policy_document(&everything)
        .set_as_default(true)
        .send()
        .await;
    let mut refusals = vec![
        refused(
            &format!("remove the permissions boundary of {role}"),
            remove,
        )?,
        refused(
            &format!("change the permissions boundary {boundary_arn}"),
            edit,
        )?,
    ];
    let own = iam
        .get_role_policy()
        .role_name(role)
        .policy_name("permissions")
        .send()
        .await
        .with_context(|| format!("reading {role}'s policy"))?;
    // IAM answers the document URL-encoded (IAM API Reference, GetRolePolicy).
    let own = bootstrap::resources::util::parse_policy(own.policy_document())?.to_string();
    let put = |document: String| {
        iam.put_role_policy()
            .role_name(role)
            .policy_name("permissions")
            .policy_document(document)
            .send()
    };
    put(everything)
        .await
        .with_context(|| format!("writing a grant-everything policy on {role}"))?;
    let role_arn = format!("arn:aws:iam::{}:role/{role}", testkit::ACCOUNT_ID);
    let session = super::role_credentials(sts, &role_arn, "escalation-probe").await?;
    let as_role = IamClient::new(&emu.sdk_config_with(&session).await);
    let outside = as_role.get_role().role_name(&deployer.role).send().await;
    let outcome = refused(
        &format!("use {role} with a grant-everything policy outside its boundary (iam:GetRole)"),
        outside,
    );
    put(own)
        .await
        .with_context(|| format!("putting {role}'s policy back"))?;
    refusals.push(outcome?);
    Ok(refusals)
}

/// Forgets the denials the boundary's probes provoked, after checking they are exactly those:
/// the rehearsal's last check wants no other denial at all.
pub fn forget_probe_denials(emu: &testkit::Emulator, probes: usize) -> Result<()> {
    let (_, denials) = emu.iam_enforcement()?;
    if denials.len() != probes {
        anyhow::bail!(
            "the boundary's {probes} probes should be the only denials so far; IAM denied {}:\n{}",
            denials.len(),
            denials
                .iter()
                .map(Value::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    emu.clear_iam_denials()
}
