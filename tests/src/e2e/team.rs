//! The team's existing service, made in the emulator before `bootstrap deploy` the way a team
//! would have made it: an ECS service (Fargate, two tasks, a task role, the deployment circuit
//! breaker with rollback; `app` beside a log router and an agent, with secrets, an EFS volume and
//! a runtime platform) or a Lambda container-image function with a `live` alias. The
//! pipeline rolls its image out; the rehearsal reads back which image it runs.

use super::Clients;
use anyhow::{Context, Result, bail};
use serde_json::json;

/// Which kind of service the rehearsal deploys to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rollout {
    Ecs,
    Lambda,
}

const CLUSTER: &str = "team";
const SERVICE: &str = "web";
const TASK_ROLE: &str = "web-task";
const FUNCTION: &str = "api";
const FUNCTION_ROLE: &str = "api-exec";
const ALIAS: &str = "live";
/// The repository the function's first image comes from (the team's own, not the pipeline's).
const FIRST_IMAGE_REPOSITORY: &str = "team-api";

/// The service as the rehearsal made it.
#[derive(Clone, Debug)]
pub struct TeamService {
    pub rollout: Rollout,
    /// `--deploy-target`.
    pub target: String,
    /// What it ran before the pipeline touched it.
    pub first_image: String,
}

fn trust(service: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{ "Effect": "Allow", "Principal": { "Service": service }, "Action": "sts:AssumeRole" }]
    })
    .to_string()
}

impl TeamService {
    pub(super) async fn create(clients: &Clients, rollout: Rollout) -> Result<Self> {
        match rollout {
            Rollout::Ecs => Self::ecs(clients).await,
            Rollout::Lambda => Self::lambda(clients).await,
        }
    }

    async fn ecs(clients: &Clients) -> Result<Self> {
        let role = clients
            .iam
            .create_role()
            .role_name(TASK_ROLE)
            .assume_role_policy_document(trust("ecs-tasks.amazonaws.com"))
            .send()
            .await
            .context("creating the team's task role")?;
        let role_arn = role.role().map(|r| r.arn().to_owned()).unwrap_or_default();
        // The execution role ECS pulls the image and reads the secrets with (ECS Developer
        // Guide, "Amazon ECS task execution IAM role": required for secrets and FireLens).
        clients
            .iam
            .create_role()
            .role_name(format!("{TASK_ROLE}-exec"))
            .assume_role_policy_document(trust("ecs-tasks.amazonaws.com"))
            .send()
            .await
            .context("creating the team's task execution role")?;
        clients
            .ecs
            .create_cluster()
            .cluster_name(CLUSTER)
            .send()
            .await
            .context("creating the team's cluster")?;
        let first_image = "public.ecr.aws/nginx/nginx:1.27".to_owned();
        let registered = task_definition_as_teams_run_it(clients, &role_arn, &first_image)
            .send()
            .await
            .context("registering the team's task definition")?;
        let task_definition = registered
            .task_definition()
            .and_then(|t| t.task_definition_arn())
            .context("RegisterTaskDefinition returned no ARN")?;
        clients
            .ecs
            .create_service()
            .cluster(CLUSTER)
            .service_name(SERVICE)
            .task_definition(task_definition)
            .desired_count(2)
            .launch_type(aws_sdk_ecs::types::LaunchType::Fargate)
            .deployment_configuration(
                aws_sdk_ecs::types::DeploymentConfiguration::builder()
                    .deployment_circuit_breaker(
                        aws_sdk_ecs::types::DeploymentCircuitBreaker::builder()
                            .enable(true)
                            .rollback(true)
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .context("creating the team's ECS service")?;
        Ok(Self {
            rollout: Rollout::Ecs,
            target: format!("ecs:{CLUSTER}/{SERVICE}"),
            first_image,
        })
    }

    async fn lambda(clients: &Clients) -> Result<Self> {
        let role = clients
            .iam
            .create_role()
            .role_name(FUNCTION_ROLE)
            .assume_role_policy_document(trust("lambda.amazonaws.com"))
            .send()
            .await
            .context("creating the team's function role")?;
        let role_arn = role.role().map(|r| r.arn().to_owned()).unwrap_or_default();
        let repository = clients
            .ecr
            .create_repository()
            .repository_name(FIRST_IMAGE_REPOSITORY)
            .send()
            .await
            .context("creating the team's repository")?;
        let uri = repository
            .repository()
            .and_then(|r| r.repository_uri())
            .context("CreateRepository returned no URI")?
            .to_owned();
        let config = r#"{"architecture":"amd64","os":"linux"}"#;
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": config.len(),
                "digest": format!("sha256:{}", sha256_hex(config.as_bytes()))},
            "layers": []
        })
        .to_string();
        clients
            .ecr
            .put_image()
            .repository_name(FIRST_IMAGE_REPOSITORY)
            .image_manifest(manifest)
            .image_tag("v1")
            .send()
            .await
            .context("pushing the team's first image")?;
        let first_image = format!("{uri}:v1");
        clients
            .lambda
            .create_function()
            .function_name(FUNCTION)
            .role(&role_arn)
            .package_type(aws_sdk_lambda::types::PackageType::Image)
            .code(
                aws_sdk_lambda::types::FunctionCode::builder()
                    .image_uri(&first_image)
                    .build(),
            )
            .send()
            .await
            .context("creating the team's function")?;
        // The function is ready once its first image is in place; then version 1 and the alias.
        for _ in 0..20 {
            let state = clients
                .lambda
                .get_function_configuration()
                .function_name(FUNCTION)
                .send()
                .await?;
            if state.last_update_status()
                != Some(&aws_sdk_lambda::types::LastUpdateStatus::InProgress)
            {
                break;
            }
        }
        let version = clients
            .lambda
            .publish_version()
            .function_name(FUNCTION)
            .send()
            .await
            .context("publishing the team's function")?;
        clients
            .lambda
            .create_alias()
            .function_name(FUNCTION)
            .name(ALIAS)
            .function_version(version.version().unwrap_or("1"))
            .send()
            .await
            .context("creating the team's alias")?;
        Ok(Self {
            rollout: Rollout::Lambda,
            target: format!("lambda:{FUNCTION}:{ALIAS}"),
            first_image,
        })
    }

    /// The image the service runs now (through the alias, for the function).
    pub(super) async fn running_image(&self, clients: &Clients) -> Result<String> {
        match self.rollout {
            Rollout::Ecs => {
                let task_definition = current_task_definition(clients).await?;
                let described = clients
                    .ecs
                    .describe_task_definition()
                    .task_definition(&task_definition)
                    .send()
                    .await?;
                described
                    .task_definition()
                    .and_then(|t| {
                        t.container_definitions()
                            .iter()
                            .find(|c| c.name() == Some("app"))
                    })
                    .and_then(|c| c.image())
                    .map(str::to_owned)
                    .context("the task definition has no `app` container image")
            }
            Rollout::Lambda => {
                let alias = clients
                    .lambda
                    .get_alias()
                    .function_name(FUNCTION)
                    .name(ALIAS)
                    .send()
                    .await?;
                let version = alias.function_version().unwrap_or("$LATEST");
                let function = clients
                    .lambda
                    .get_function()
                    .function_name(FUNCTION)
                    .qualifier(version)
                    .send()
                    .await?;
                function
                    .code()
                    .and_then(|c| c.resolved_image_uri().or(c.image_uri()))
                    .map(str::to_owned)
                    .context("the function has no image")
            }
        }
    }

    /// Names the service for people.
    pub fn describe(&self) -> String {
        match self.rollout {
            Rollout::Ecs => format!(
                "ECS service {SERVICE} in cluster {CLUSTER} (2 Fargate tasks, app + log router + agent, circuit breaker with rollback)"
            ),
            Rollout::Lambda => {
                format!("Lambda function {FUNCTION} (container image, alias {ALIAS})")
            }
        }
    }
}

/// The team's task definition as teams run them: `app` beside a FireLens log router and an
/// agent sidecar, secrets, an EFS volume, an execution role and an x86-64 runtime platform.
fn task_definition_as_teams_run_it(
    clients: &Clients,
    task_role_arn: &str,
    image: &str,
) -> aws_sdk_ecs::operation::register_task_definition::builders::RegisterTaskDefinitionFluentBuilder
{
    use aws_sdk_ecs::types::{
        Compatibility, ContainerDefinition, CpuArchitecture, EfsVolumeConfiguration,
        FirelensConfiguration, FirelensConfigurationType, MountPoint, NetworkMode, OsFamily,
        RuntimePlatform, Secret, Volume,
    };
    let secret = |name: &str, from: &str| Secret::builder().name(name).value_from(from).build();
    let firelens = FirelensConfiguration::builder()
        .r#type(FirelensConfigurationType::Fluentbit)
        .build();
    let efs = EfsVolumeConfiguration::builder()
        .file_system_id("fs-0a1b2c3d")
        .build();
    let mut request = clients
        .ecs
        .register_task_definition()
        .family(SERVICE)
        .task_role_arn(task_role_arn)
        .execution_role_arn(format!(
            "arn:aws:iam::{}:role/{TASK_ROLE}-exec",
            testkit::ACCOUNT_ID
        ))
        .network_mode(NetworkMode::Awsvpc)
        .requires_compatibilities(Compatibility::Fargate)
        .cpu("512")
        .memory("1024")
        .runtime_platform(
            RuntimePlatform::builder()
                .cpu_architecture(CpuArchitecture::X8664)
                .operating_system_family(OsFamily::Linux)
                .build(),
        )
        .volumes(
            Volume::builder()
                .name("shared")
                .set_efs_volume_configuration(efs.ok())
                .build(),
        )
        .container_definitions(
            ContainerDefinition::builder()
                .name("log_router")
                .image("public.ecr.aws/aws-observability/aws-for-fluent-bit:stable")
                .essential(true)
                .set_firelens_configuration(firelens.ok())
                .build(),
        );
    let app = ContainerDefinition::builder()
        .name("app")
        .image(image)
        .essential(true)
        .mount_points(
            MountPoint::builder()
                .source_volume("shared")
                .container_path("/data")
                .build(),
        );
    let agent = ContainerDefinition::builder()
        .name("datadog-agent")
        .image("public.ecr.aws/datadog/agent:7")
        .essential(false);
    let db = format!(
        "arn:aws:secretsmanager:{}:{}:secret:db-AbCdEf",
        testkit::REGION,
        testkit::ACCOUNT_ID
    );
    let dd = format!(
        "arn:aws:ssm:{}:{}:parameter/dd-api-key",
        testkit::REGION,
        testkit::ACCOUNT_ID
    );
    if let (Ok(db), Ok(dd)) = (secret("DB_PASSWORD", &db), secret("DD_API_KEY", &dd)) {
        request = request
            .container_definitions(app.secrets(db).build())
            .container_definitions(agent.secrets(dd).build());
    }
    request
}

/// The task definition the team's ECS service runs now.
async fn current_task_definition(clients: &Clients) -> Result<String> {
    let services = clients
        .ecs
        .describe_services()
        .cluster(CLUSTER)
        .services(SERVICE)
        .send()
        .await?;
    services
        .services()
        .first()
        .and_then(|s| s.task_definition())
        .map(str::to_owned)
        .context("the team's service is gone")
}

/// Fails unless the service's task definition now differs from revision `first` only in the
/// `app` container's image: the sidecars, secrets, volume, roles and runtime platform carry over.
pub(super) async fn only_the_image_changed(clients: &Clients, first: &str) -> Result<String> {
    let described = |arn: String| async move {
        clients
            .ecs
            .describe_task_definition()
            .task_definition(&arn)
            .send()
            .await
            .with_context(|| format!("DescribeTaskDefinition {arn}"))?
            .task_definition
            .with_context(|| format!("{arn} has no task definition"))
    };
    let now = current_task_definition(clients).await?;
    let (before, after) = (
        described(first.to_owned()).await?,
        described(now.clone()).await?,
    );
    let image = |t: &aws_sdk_ecs::types::TaskDefinition| {
        t.container_definitions()
            .iter()
            .find(|c| c.name() == Some("app"))
            .and_then(|c| c.image())
            .unwrap_or_default()
            .to_owned()
    };
    let (old, new) = (image(&before), image(&after));
    // Everything a revision carries, as text with the image put back: equal or a field was lost.
    let shape = |t: &aws_sdk_ecs::types::TaskDefinition| {
        format!(
            "{:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?}",
            t.container_definitions(),
            t.volumes(),
            t.runtime_platform(),
            t.cpu(),
            t.memory(),
            t.task_role_arn(),
            t.execution_role_arn(),
            t.network_mode(),
            t.requires_compatibilities(),
            t.family()
        )
    };
    if old == new || shape(&before) != shape(&after).replace(&new, &old) {
        bail!(
            "the rollout's revision {now} must differ from {first} in the app image only:\nbefore {}\nafter  {}",
            shape(&before),
            shape(&after)
        );
    }
    Ok(now)
}

/// The digest part of an image reference, when it has one.
pub fn digest_of(image: &str) -> Option<&str> {
    image.rsplit_once('@').map(|(_, digest)| digest)
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Fails unless the service runs `digest`.
pub(super) async fn expect_running(
    team: &TeamService,
    clients: &Clients,
    digest: &str,
) -> Result<String> {
    let image = team.running_image(clients).await?;
    if digest_of(&image) != Some(digest) {
        bail!(
            "{} runs {image}, not the image with digest {digest}",
            team.describe()
        );
    }
    Ok(image)
}
