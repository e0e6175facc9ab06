//! The team's existing service that `--deploy-target` names: read at plan time to check it
//! exists and is the right kind, and to learn what the deploy-handler's role must be granted
//! (the task definition family and the roles it passes to ECS). Never created, changed or
//! deleted here: the Deploy stage changes it, and only through a rollout.

use super::Ctx;
use super::errors::{self, absent_as_none, not_found};
use crate::policies::deployer::{Scope, secret_arn};
use crate::policies::statement;
pub use crate::target_facts::TargetFacts;
use anyhow::{Context, Result, bail};
use aws_sdk_ecs::operation::describe_services::DescribeServicesError;
use pipeline_common::{CpuArchitecture, DeployTarget};
use serde_json::Value;

// DescribeServices answers an unknown cluster with ClusterNotFoundException (ECS API Reference,
// DescribeServices, "Errors"); an unknown service comes back in `failures` instead.
errors::variants! { NotFound: DescribeServicesError => is_cluster_not_found_exception }

fn denied_hint(err: &anyhow::Error) -> &'static str {
    if crate::reports_access_denied(&crate::error_report(err)) {
        "; the credentials running bootstrap may not read it: `bootstrap deployer-policy --deploy-target …` prints what they need"
    } else {
        ""
    }
}

/// The error of reading `what` of the target, saying how to get the permission when it was
/// denied.
fn read_error(err: anyhow::Error, what: &str) -> anyhow::Error {
    let hint = denied_hint(&err);
    err.context(format!("reading {what}{hint}"))
}

/// Reads the target and says what is wrong with it, if anything.
pub async fn inspect(ctx: Ctx<'_>, target: &DeployTarget) -> Result<TargetFacts> {
    match target {
        DeployTarget::Ecs {
            cluster,
            service,
            container,
        } => ecs(ctx, cluster, service, container.as_deref()).await,
        DeployTarget::Lambda { function, alias } => lambda(ctx, function, alias.as_deref()).await,
    }
}

async fn ecs(
    ctx: Ctx<'_>,
    cluster: &str,
    service: &str,
    container: Option<&str>,
) -> Result<TargetFacts> {
    let ecs = &ctx.clients.ecs;
    let describe = ecs.describe_services().cluster(cluster).services(service);
    let what = format!("the ECS service {cluster}/{service}");
    let described = absent_as_none(describe.send().await);
    let Some(described) = described.map_err(|err| read_error(err, &what))? else {
        bail!(
            "--deploy-target: there is no ECS cluster {cluster} in account {} region {}; fix the cluster name",
            ctx.target.account_id,
            ctx.target.region
        )
    };
    let Some(found) = described
        .services()
        .iter()
        .find(|s| s.status() == Some("ACTIVE"))
    else {
        bail!(
            "--deploy-target: there is no active ECS service {service} in cluster {cluster}; create the service \
             first (bootstrap deploys to an existing service, it never creates one) or fix the name"
        );
    };
    let controller = found
        .deployment_controller()
        .map_or("ECS", |c| c.r#type().as_str());
    if let Some(problem) = pipeline_common::unsupported_controller(controller, cluster, service) {
        bail!("--deploy-target: {problem}");
    }
    let task_definition = found
        .task_definition()
        .context("the ECS service has no task definition")?;
    let definition = ecs
        .describe_task_definition()
        .task_definition(task_definition)
        .send()
        .await
        .map_err(|err| {
            let what = format!("the task definition {task_definition}");
            read_error(anyhow::Error::new(err), &what)
        })?;
    let definition = definition
        .task_definition()
        .context("DescribeTaskDefinition returned no task definition")?;
    let names: Vec<&str> = definition
        .container_definitions()
        .iter()
        .map(|c| c.name().unwrap_or_default())
        .collect();
    // The deploy-handler picks the container by the same rule.
    if let Err(problem) = pipeline_common::pick_container(&names, container, cluster, service) {
        bail!("--deploy-target: {task_definition} of {cluster}/{service}: {problem}");
    }
    let family_arn = task_definition
        .rsplit_once(':')
        .map_or(task_definition, |(family, _revision)| family)
        .to_owned();
    let pass_roles = [definition.task_role_arn(), definition.execution_role_arn()]
        .into_iter()
        .flatten()
        .map(str::to_owned)
        .collect();
    let breaker = found
        .deployment_configuration()
        .and_then(|c| c.deployment_circuit_breaker());
    // ECS API Reference, RuntimePlatform: `cpuArchitecture` is X86_64 or ARM64; a task definition
    // without one runs X86_64 (ECS Developer Guide, "Working with 64-bit ARM workloads on Amazon
    // ECS": ARM64 must be set in the task definition's runtimePlatform).
    let architecture = match definition
        .runtime_platform()
        .and_then(|p| p.cpu_architecture())
    {
        None => CpuArchitecture::X86_64,
        Some(named) => CpuArchitecture::parse(named.as_str()).with_context(|| {
            format!(
                "--deploy-target: {task_definition} runs on CPU architecture {}, which the pipeline cannot build \
                 for (X86_64 and ARM64 only)",
                named.as_str()
            )
        })?,
    };
    Ok(TargetFacts::Ecs {
        service_arn: found
            .service_arn()
            .context("the ECS service has no ARN")?
            .to_owned(),
        family: family_arn,
        pass_roles,
        rollback: breaker.is_some_and(|b| b.enable() && b.rollback()),
        architecture,
    })
}

async fn lambda(ctx: Ctx<'_>, function: &str, alias: Option<&str>) -> Result<TargetFacts> {
    let lambda = &ctx.clients.lambda;
    let got = lambda.get_function().function_name(function).send().await;
    let what = format!("the Lambda function {function}");
    let Some(got) = absent_as_none(got).map_err(|err| read_error(err, &what))? else {
        bail!(
            "--deploy-target: there is no Lambda function {function} in account {} region {}; create it first \
             (bootstrap deploys to an existing function, it never creates one) or fix the name",
            ctx.target.account_id,
            ctx.target.region
        )
    };
    let configuration = got
        .configuration()
        .context("GetFunction returned no configuration")?;
    if configuration.package_type() != Some(&aws_sdk_lambda::types::PackageType::Image) {
        bail!(
            "--deploy-target: the Lambda function {function} is packaged as a .zip; the Deploy stage rolls out a \
             container image, so point it at a container-image function"
        );
    }
    if let Some(alias) = alias {
        let found = lambda
            .get_alias()
            .function_name(function)
            .name(alias)
            .send()
            .await;
        match found {
            Ok(_) => {}
            Err(err) if not_found(&err) => {
                bail!(
                    "--deploy-target: the Lambda function {function} has no alias {alias}; create it (aws lambda \
                     create-alias --function-name {function} --name {alias} --function-version 1) or drop the alias"
                )
            }
            Err(err) => {
                return Err(anyhow::Error::new(err)
                    .context(format!("reading the alias {function}:{alias}")));
            }
        }
    }
    // Lambda API Reference, FunctionConfiguration `Architectures`: one of x86_64 and arm64, "The
    // default architecture value is x86_64".
    let architecture = match configuration.architectures().first() {
        None => CpuArchitecture::X86_64,
        Some(named) => CpuArchitecture::parse(named.as_str()).with_context(|| {
            format!(
                "--deploy-target: the Lambda function {function} runs on architecture {}, which the pipeline \
                 cannot build for (x86_64 and arm64 only)",
                named.as_str()
            )
        })?,
    };
    Ok(TargetFacts::Lambda {
        function_arn: configuration
            .function_arn()
            .context("GetFunction returned no ARN")?
            .to_owned(),
        architecture,
    })
}

/// What the deployer needs to read the team's existing target at plan: the ECS service and its
/// task definition (DescribeTaskDefinition has no resource type: `*`), or the function and its
/// alias; and the signing secret a webhook target names (`--deploy-webhook-secret-arn`).
pub fn deployer_grants(scope: &Scope<'_>) -> Vec<Value> {
    let target = scope.target;
    let inspections = scope
        .rollout_targets()
        .into_iter()
        .flat_map(|deploy_target| match deploy_target {
            DeployTarget::Ecs {
                cluster, service, ..
            } => vec![
                statement(
                    "InspectDeployTarget",
                    &["ecs:DescribeServices"],
                    vec![target.arn("ecs", &format!("service/{cluster}/{service}"))],
                ),
                statement(
                    "ReadTargetTaskDefinition",
                    &["ecs:DescribeTaskDefinition"],
                    vec!["*".to_owned()],
                ),
            ],
            DeployTarget::Lambda { function, .. } => vec![statement(
                "InspectDeployTarget",
                &["lambda:GetAlias", "lambda:GetFunction"],
                vec![target.arn("lambda", &format!("function:{function}"))],
            )],
        })
        .collect();
    let mut grants = crate::policies::merge_statements(inspections);
    if let Some(secret) = scope.deploy_webhook_secret_arn {
        grants.push(statement(
            "CheckDeploySigningSecret",
            &["secretsmanager:DescribeSecret"],
            vec![secret_arn(target, secret)],
        ));
    }
    grants
}
