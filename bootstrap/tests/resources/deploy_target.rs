//! The team's `--deploy-target` as plan reads it (its CPU architecture), and the repository
//! policy a Lambda target gets, against the local emulator.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::{Fixture, create_role};
use aws_sdk_ecs::types::{
    ContainerDefinition, CpuArchitecture as EcsArchitecture, OsFamily, RuntimePlatform,
};
use aws_sdk_lambda::types::{Architecture, FunctionCode, PackageType};
use bootstrap::policies;
use bootstrap::resources::deploy_target::{self, TargetFacts};
use pipeline_common::{CpuArchitecture, DeployTarget};
use serde_json::{Value, json};

const REPOSITORY: &str = "pipeline-dev-app";
const IMAGE: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/pipeline-dev-app:v1";
const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:api";

/// The repository with one image (tag v1) and `policy` as its repository policy.
async fn repository_with(fx: &Fixture, policy: &Value) {
    let ecr = &fx.clients.ecr;
    ecr.create_repository()
        .repository_name(REPOSITORY)
        .send()
        .await
        .unwrap();
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 7023,
                   "digest": "sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7"},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 32654,
                    "digest": "sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f"}]
    });
    ecr.put_image()
        .repository_name(REPOSITORY)
        .image_tag("v1")
        .image_manifest(manifest.to_string())
        .send()
        .await
        .unwrap();
    ecr.set_repository_policy()
        .repository_name(REPOSITORY)
        .policy_text(policy.to_string())
        .send()
        .await
        .unwrap();
}

async fn image_function(fx: &Fixture, name: &str, architecture: Architecture) {
    let role = create_role(&fx.clients, &format!("{name}-fn"), "lambda.amazonaws.com").await;
    fx.clients
        .lambda
        .create_function()
        .function_name(name)
        .role(role)
        .package_type(PackageType::Image)
        .architectures(architecture)
        .code(FunctionCode::builder().image_uri(IMAGE).build())
        .send()
        .await
        .unwrap();
}

/// Lambda pulls the image on the function's behalf with `aws:SourceArn` set; the emulator judges
/// that pull with the unqualified and a qualified function ARN. The policy bootstrap writes must
/// admit both by itself: the fixed test keys may set the repository policy, so a policy that did
/// not would be extended by Lambda's own statement, which is what this test looks for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_repository_policy_of_a_lambda_target_lets_lambda_pull_by_itself() {
    let fx = Fixture::start().await;
    let facts = TargetFacts::Lambda {
        function_arn: FUNCTION_ARN.into(),
        architecture: CpuArchitecture::X86_64,
    };
    let policy = policies::repository(&[&facts]);
    repository_with(&fx, &policy).await;
    image_function(&fx, "api", Architecture::X8664).await;
    let after = fx
        .clients
        .ecr
        .get_repository_policy()
        .repository_name(REPOSITORY)
        .send()
        .await
        .unwrap();
    let after: Value = serde_json::from_str(after.policy_text().unwrap()).unwrap();
    assert_eq!(
        after["Statement"], policy["Statement"],
        "Lambda had to add its own statement: the repository policy did not let it pull"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_reads_the_architecture_the_target_runs_on() {
    let fx = Fixture::start().await;
    let ctx = fx.ctx();
    let open = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]}]});
    repository_with(&fx, &open).await;
    image_function(&fx, "graviton", Architecture::Arm64).await;
    image_function(&fx, "intel", Architecture::X8664).await;

    let ecs = &fx.clients.ecs;
    ecs.create_cluster()
        .cluster_name("prod")
        .send()
        .await
        .unwrap();
    for (service, platform) in [("arm", Some(EcsArchitecture::Arm64)), ("plain", None)] {
        let mut register = ecs
            .register_task_definition()
            .family(service)
            .container_definitions(
                ContainerDefinition::builder()
                    .name("app")
                    .image(IMAGE)
                    .memory(256)
                    .build(),
            );
        if let Some(cpu) = platform {
            register = register.runtime_platform(
                RuntimePlatform::builder()
                    .cpu_architecture(cpu)
                    .operating_system_family(OsFamily::Linux)
                    .build(),
            );
        }
        let registered = register.send().await.unwrap();
        let arn = registered
            .task_definition()
            .and_then(|t| t.task_definition_arn())
            .unwrap();
        ecs.create_service()
            .cluster("prod")
            .service_name(service)
            .task_definition(arn)
            .desired_count(1)
            .send()
            .await
            .unwrap();
    }

    for (target, expected) in [
        ("lambda:graviton", CpuArchitecture::Arm64),
        ("lambda:intel", CpuArchitecture::X86_64),
        ("ecs:prod/arm", CpuArchitecture::Arm64),
        // a task definition without runtimePlatform runs X86_64
        ("ecs:prod/plain", CpuArchitecture::X86_64),
    ] {
        let parsed = DeployTarget::parse(target).unwrap();
        let facts = deploy_target::inspect(ctx, &parsed).await.unwrap();
        assert_eq!(facts.architecture(), expected, "{target}");
    }
}
