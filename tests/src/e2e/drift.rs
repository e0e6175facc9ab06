//! Hand-made changes to a deployed environment, as a colleague with console access makes them:
//! `bootstrap plan` must show them as drift and `bootstrap deploy`, running as the deployer,
//! must put everything back, so the repair paths' grants are proven like the create paths'.

use super::Clients;
use anyhow::{Context, Result};
use pipeline_common::EnvName;
use serde_json::json;
use std::path::Path;

/// Makes the changes and says what each was.
pub(super) async fn by_hand(
    clients: &Clients,
    env: &EnvName,
    artifacts_dir: &Path,
) -> Result<Vec<String>> {
    let n = env.names();
    Ok(vec![
        repository(clients, &n.ecr_repository()).await?,
        role(clients, &n.deploy_handler_role()).await?,
        function_code(clients, &n.deploy_handler(), artifacts_dir).await?,
        secret(clients, &n.webhook_secret()).await?,
        topic(clients, &n.notification_topic()).await?,
    ])
}

/// Scan on push off, tags mutable, a repository policy added.
async fn repository(clients: &Clients, repository: &str) -> Result<String> {
    clients
        .ecr
        .put_image_scanning_configuration()
        .repository_name(repository)
        .image_scanning_configuration(
            aws_sdk_ecr::types::ImageScanningConfiguration::builder()
                .scan_on_push(false)
                .build(),
        )
        .send()
        .await
        .context("turning scan-on-push off by hand")?;
    clients
        .ecr
        .put_image_tag_mutability()
        .repository_name(repository)
        .image_tag_mutability(aws_sdk_ecr::types::ImageTagMutability::Mutable)
        .send()
        .await
        .context("making tags mutable by hand")?;
    let everyone_pulls = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "HandMade",
            "Effect": "Allow",
            "Principal": { "AWS": format!("arn:aws:iam::{}:root", testkit::ACCOUNT_ID) },
            "Action": ["ecr:BatchGetImage"]
        }]
    });
    clients
        .ecr
        .set_repository_policy()
        .repository_name(repository)
        .policy_text(everyone_pulls.to_string())
        .send()
        .await
        .context("adding a repository policy by hand")?;
    Ok(format!(
        "{repository}: scan on push off, tags mutable, a repository policy added"
    ))
}

/// A wider trust policy and an edited description.
async fn role(clients: &Clients, role: &str) -> Result<String> {
    let wider_trust = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Service": ["lambda.amazonaws.com", "ec2.amazonaws.com"] },
            "Action": "sts:AssumeRole"
        }]
    });
    clients
        .iam
        .update_assume_role_policy()
        .role_name(role)
        .policy_document(wider_trust.to_string())
        .send()
        .await
        .context("widening a trust policy by hand")?;
    clients
        .iam
        .update_role()
        .role_name(role)
        .description("edited in the console")
        .send()
        .await
        .context("editing a role's description by hand")?;
    clients
        .iam
        .delete_role_permissions_boundary()
        .role_name(role)
        .send()
        .await
        .context("removing a role's permissions boundary by hand")?;
    Ok(format!(
        "{role}: EC2 may assume it, description edited, permissions boundary removed"
    ))
}

/// Another function's zip uploaded in place of the function's code.
async fn function_code(clients: &Clients, function: &str, artifacts_dir: &Path) -> Result<String> {
    let other_code = std::fs::read(artifacts_dir.join("event-notifier/bootstrap.zip"))
        .context("reading the event-notifier zip")?;
    clients
        .lambda
        .update_function_code()
        .function_name(function)
        .zip_file(aws_sdk_lambda::primitives::Blob::new(other_code))
        .send()
        .await
        .context("uploading other code by hand")?;
    Ok(format!("{function}: another zip uploaded"))
}

/// An edited description, then the secret deleted in the console: scheduled for deletion with
/// the default recovery window.
async fn secret(clients: &Clients, secret: &str) -> Result<String> {
    clients
        .secrets
        .update_secret()
        .secret_id(secret)
        .description("edited in the console")
        .send()
        .await
        .context("editing the secret's description by hand")?;
    clients
        .secrets
        .delete_secret()
        .secret_id(secret)
        .send()
        .await
        .context("deleting the secret by hand")?;
    Ok(format!(
        "{secret}: description edited, then deleted (in its recovery window)"
    ))
}

/// The topic's policy replaced by one that lets anyone in the account publish.
async fn topic(clients: &Clients, name: &str) -> Result<String> {
    let topic = format!(
        "arn:aws:sns:{}:{}:{name}",
        testkit::REGION,
        testkit::ACCOUNT_ID,
    );
    let anyone_in_account = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "HandMade",
            "Effect": "Allow",
            "Principal": { "AWS": format!("arn:aws:iam::{}:root", testkit::ACCOUNT_ID) },
            "Action": "sns:Publish",
            "Resource": topic
        }]
    });
    clients
        .sns
        .set_topic_attributes()
        .topic_arn(&topic)
        .attribute_name("Policy")
        .attribute_value(anyone_in_account.to_string())
        .send()
        .await
        .context("replacing the topic policy by hand")?;
    Ok(format!("{name}: topic policy replaced"))
}

/// Attaches a managed policy to one of the environment's roles, as someone debugging might:
/// destroy must detach it (the attachment is the role's) to delete the role.
pub(super) async fn attach_managed_policy(clients: &Clients, env: &EnvName) -> Result<String> {
    let role = env.names().codebuild_role();
    let policy = clients
        .iam
        .create_policy()
        .policy_name(format!("hand-made-{env}"))
        .policy_document(
            json!({
                "Version": "2012-10-17",
                "Statement": [{ "Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*" }]
            })
            .to_string(),
        )
        .send()
        .await
        .context("creating a managed policy by hand")?;
    let arn = policy
        .policy()
        .and_then(|p| p.arn())
        .context("CreatePolicy returned no ARN")?
        .to_owned();
    clients
        .iam
        .attach_role_policy()
        .role_name(&role)
        .policy_arn(&arn)
        .send()
        .await
        .context("attaching a managed policy by hand")?;
    Ok(format!("{arn} attached to {role}"))
}
