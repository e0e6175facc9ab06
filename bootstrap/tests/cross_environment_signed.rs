//! Issue 25 on real signed calls: `dev`'s deployer (a role whose only policy is exactly
//! `bootstrap deployer-policy --env dev --source codeconnections`, its session judged by the
//! emulator's IAM evaluator) cannot take over `prod`'s connection nor touch `prod`'s pipeline,
//! roles or topic, while it can tag its own connection.

mod common;

use aws_sdk_codestarconnections::error::ProvideErrorMetadata;
use aws_sdk_codestarconnections::types::{ProviderType, Tag};
use common::{assert_code, setup};
use serde_json::{Value, json};
use std::collections::HashMap;
use testkit::Emulator;

const ENVIRONMENT: &str = pipeline_common::tags::ENVIRONMENT;

/// `bootstrap deployer-policy --env dev --source codeconnections --output json`.
fn dev_deployer_policy(cli: &common::Cli<'_>) -> Value {
    let printed = cli.run_env_only(&[
        "deployer-policy",
        "--env",
        "dev",
        "--source",
        "codeconnections",
        "--output",
        "json",
    ]);
    assert_code(&printed, 0);
    serde_json::from_slice(&printed.stdout).expect("the policy is JSON")
}

/// A session of a role holding exactly `policy`, assumed through the emulator so that every
/// request made with it is judged.
async fn deployer_session(emulator: &Emulator, policy: &Value) -> aws_config::SdkConfig {
    let admin = emulator.sdk_config().await;
    let iam = aws_sdk_iam::Client::new(&admin);
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{}:root", testkit::ACCOUNT_ID)},
        "Action": "sts:AssumeRole"}]});
    let role = iam
        .create_role()
        .role_name("bootstrap-deployer-dev")
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .expect("CreateRole");
    iam.put_role_policy()
        .role_name("bootstrap-deployer-dev")
        .policy_name("deployer")
        .policy_document(policy.to_string())
        .send()
        .await
        .expect("PutRolePolicy");
    let assumed = aws_sdk_sts::Client::new(&admin)
        .assume_role()
        .role_arn(role.role().expect("a role").arn())
        .role_session_name("deployer-dev")
        .send()
        .await
        .expect("AssumeRole");
    let credentials = assumed.credentials().expect("credentials");
    emulator
        .sdk_config_with(&[
            (
                "AWS_ACCESS_KEY_ID".into(),
                credentials.access_key_id().into(),
            ),
            (
                "AWS_SECRET_ACCESS_KEY".into(),
                credentials.secret_access_key().into(),
            ),
            (
                "AWS_SESSION_TOKEN".into(),
                credentials.session_token().into(),
            ),
        ])
        .await
}

fn tag(value: &str) -> Tag {
    Tag::builder()
        .key(ENVIRONMENT)
        .value(value)
        .build()
        .expect("a tag")
}

async fn tags(client: &aws_sdk_codestarconnections::Client, arn: &str) -> HashMap<String, String> {
    let listed = client
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .expect("ListTagsForResource");
    listed
        .tags()
        .iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect()
}

/// `result` is the service's access denial.
#[track_caller]
fn denied<E: ProvideErrorMetadata + std::fmt::Debug, R>(what: &str, result: Result<R, E>) {
    let Err(err) = result else {
        panic!("{what}: dev's deployer was allowed");
    };
    let code = err.code().unwrap_or_default();
    // SNS names a denial AuthorizationError (Amazon SNS API Reference, "Common Errors"
    // of each action: "Indicates that the user has been denied access to the requested resource").
    assert!(
        code.starts_with("AccessDenied") || code == "AuthorizationError",
        "{what}: {err:?}"
    );
}

/// `prod`'s connection: the one whose `Environment` tag is `prod`.
async fn prod_connection(admin: &aws_sdk_codestarconnections::Client) -> String {
    let listed = admin
        .list_connections()
        .send()
        .await
        .expect("ListConnections");
    for connection in listed.connections() {
        let arn = connection.connection_arn().expect("an ARN");
        if tags(admin, arn).await.get(ENVIRONMENT).map(String::as_str) == Some("prod") {
            return arn.to_owned();
        }
    }
    panic!("prod's deploy made no connection tagged {ENVIRONMENT}=prod");
}

/// Hole 1 and its neighbours on signed calls, against `prod` deployed in the same emulator.
#[tokio::test(flavor = "multi_thread")]
async fn devs_deployer_cannot_take_over_prods_connection() {
    let emulator = Emulator::start().expect("the emulator starts");
    let cli = setup("cross-env-signed", &emulator);
    let deployed = cli.run(&[
        "deploy",
        "--env",
        "prod",
        "--github-repo",
        "octo/app",
        "--source",
        "codeconnections",
        "--yes",
    ]);
    assert_code(&deployed, 0);
    let admin = emulator.sdk_config().await;
    let admin_connections = aws_sdk_codestarconnections::Client::new(&admin);
    let prod = prod_connection(&admin_connections).await;
    let before = tags(&admin_connections, &prod).await;

    let session = deployer_session(&emulator, &dev_deployer_policy(&cli)).await;
    let connections = aws_sdk_codestarconnections::Client::new(&session);
    // Its own connection: created with dev's tag, and tagged again afterwards.
    let own = connections
        .create_connection()
        .connection_name("octo-app-dev")
        .provider_type(ProviderType::Github)
        .tags(tag("dev"))
        .send()
        .await
        .expect("dev's deployer creates its own connection");
    let own = own.connection_arn().to_owned();
    connections
        .tag_resource()
        .resource_arn(&own)
        .tags(tag("dev"))
        .send()
        .await
        .expect("dev's deployer tags its own connection");

    let retag = connections
        .tag_resource()
        .resource_arn(&prod)
        .tags(tag("dev"));
    denied(
        "TagResource Environment=dev on prod's connection",
        retag.send().await,
    );
    let untag = connections
        .untag_resource()
        .resource_arn(&prod)
        .tag_keys(ENVIRONMENT);
    denied("UntagResource on prod's connection", untag.send().await);
    let delete = connections.delete_connection().connection_arn(&prod);
    denied("DeleteConnection of prod's connection", delete.send().await);
    assert_eq!(
        tags(&admin_connections, &prod).await,
        before,
        "prod's connection keeps its tags"
    );
    assert_eq!(before.get(ENVIRONMENT).map(String::as_str), Some("prod"));

    prods_other_resources_refused(&emulator, &session).await;
}

/// A few of the deployer's actions on `prod`'s pipeline, roles and topic.
async fn prods_other_resources_refused(emulator: &Emulator, session: &aws_config::SdkConfig) {
    let admin = emulator.sdk_config().await;
    let pipeline = aws_sdk_codepipeline::Client::new(session)
        .delete_pipeline()
        .name("pipeline-prod");
    denied("DeletePipeline pipeline-prod", pipeline.send().await);
    let roles = aws_sdk_iam::Client::new(&admin)
        .list_roles()
        .send()
        .await
        .expect("ListRoles");
    let prod_roles: Vec<&str> = roles
        .roles()
        .iter()
        .map(|r| r.role_name())
        .filter(|name| name.ends_with("-prod"))
        .collect();
    assert!(!prod_roles.is_empty(), "prod's deploy made no roles");
    let iam = aws_sdk_iam::Client::new(session);
    for role in prod_roles {
        let put = iam
            .put_role_policy()
            .role_name(role)
            .policy_name("takeover")
            .policy_document(
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Action": "*", "Resource": "*"}]})
                .to_string(),
            );
        denied(&format!("PutRolePolicy on {role}"), put.send().await);
    }
    let topics = aws_sdk_sns::Client::new(&admin)
        .list_topics()
        .send()
        .await
        .expect("ListTopics");
    let prod_topics: Vec<&str> = topics
        .topics()
        .iter()
        .filter_map(|t| t.topic_arn())
        .filter(|arn| arn.ends_with("-prod"))
        .collect();
    assert!(!prod_topics.is_empty(), "prod's deploy made no topic");
    let sns = aws_sdk_sns::Client::new(session);
    for topic in prod_topics {
        let delete = sns.delete_topic().topic_arn(topic);
        denied(&format!("DeleteTopic {topic}"), delete.send().await);
    }
}
