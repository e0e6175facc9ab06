//! The ECS rollout: a new task definition revision identical to the service's current one but
//! for the container's image (pinned by digest), the service updated to it, and the service's
//! deployment followed until its `rolloutState` is COMPLETED or FAILED (ECS Developer Guide,
//! "Deployment circuit breaker"; ECS API Reference, `Deployment`), or, for a service that reports
//! no `rolloutState`, until it is stable as botocore's `ServicesStable` waiter judges it. What
//! else watches the deployment (deployment alarms, a blue/green bake) is [`watch`]'s.

use std::collections::BTreeMap;

use pipeline_common::CpuArchitecture;
use serde_json::{Value, json};

use super::api as shape;
use super::{ApiError, JOB_TAG, Request, RolloutApi, RolloutState, Step, call_failed};
use crate::report::FailureKind;

#[path = "ecs_watch.rs"]
mod watch;
use watch::{Cause, Watch};

/// RegisterTaskDefinition's parameters that DescribeTaskDefinition returns: everything else in
/// the description is ECS's own bookkeeping (ARN, revision, status, registeredAt, ...).
const REGISTERABLE: [&str; 17] = [
    "family",
    "taskRoleArn",
    "executionRoleArn",
    "networkMode",
    "containerDefinitions",
    "volumes",
    "placementConstraints",
    "requiresCompatibilities",
    "cpu",
    "memory",
    "pidMode",
    "ipcMode",
    "proxyConfiguration",
    "inferenceAccelerators",
    "ephemeralStorage",
    "runtimePlatform",
    "enableFaultInjection",
];
/// How many of the family's newest revisions a re-delivered job looks through for its own.
const REVISIONS_TO_SEARCH: u32 = 10;

/// `family:revision` of a task definition ARN, for people.
pub fn short(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// The service, or the step that says why it cannot be had.
async fn describe_service(
    api: &dyn RolloutApi,
    cluster: &str,
    service: &str,
) -> Result<Value, Step> {
    let answer = api
        .call(shape::ecs(
            "DescribeServices",
            json!({ "cluster": cluster, "services": [service] }),
        ))
        .await;
    let answer = match answer {
        Ok(answer) => answer,
        Err(err) if err.is("ClusterNotFoundException") => {
            return Err(Step::failed(
                FailureKind::ConfigurationError,
                format!(
                    "the ECS cluster {cluster} does not exist: fix --deploy-target and run `bootstrap deploy`"
                ),
            ));
        }
        Err(err) => {
            return Err(call_failed(
                &format!("DescribeServices {cluster}/{service}"),
                &err,
            ));
        }
    };
    let found = answer["services"]
        .as_array()
        .and_then(|services| services.first())
        .filter(|s| s["status"] == "ACTIVE")
        .cloned();
    found.ok_or_else(|| {
        Step::failed(
            FailureKind::ConfigurationError,
            format!(
                "the ECS service {service} does not exist (any more) in cluster {cluster}: it was deleted \
                 after `bootstrap plan` checked it; recreate it or point --deploy-target elsewhere"
            ),
        )
    })
}

async fn describe_task_definition(api: &dyn RolloutApi, arn: &str) -> Result<Value, ApiError> {
    api.call(shape::ecs(
        "DescribeTaskDefinition",
        json!({ "taskDefinition": arn, "include": ["TAGS"] }),
    ))
    .await
}

fn tag_value<'a>(tags: &'a Value, key: &str) -> Option<&'a str> {
    tags.as_array()?
        .iter()
        .find(|t| t["key"] == key)
        .and_then(|t| t["value"].as_str())
}

/// A revision among the family's newest that the rollout can run instead of registering one:
/// the one this job registered (its tag names the job: a re-delivered job), or one whose
/// registerable parameters are exactly `wanted`'s. The second makes a rollback clean and a
/// retried stage idempotent: a stage rollback "will result in a new execution" that uses "the
/// variables and artifacts from the execution to which it is rolling back" (CodePipeline User
/// Guide, "Configuring stage rollback",
/// https://docs.aws.amazon.com/codepipeline/latest/userguide/stage-rollback.html) and a retry
/// of a failed stage runs a new job, so neither carries the job id of the run that registered
/// the revision holding that image; both find it by content.
async fn find_reusable_revision(
    api: &dyn RolloutApi,
    family: &str,
    job_id: &str,
    wanted: &serde_json::Map<String, Value>,
) -> Result<Option<String>, ApiError> {
    let listed = api
        .call(shape::ecs(
            "ListTaskDefinitions",
            json!({ "familyPrefix": family, "sort": "DESC", "status": "ACTIVE", "maxResults": REVISIONS_TO_SEARCH }),
        ))
        .await?;
    for arn in listed["taskDefinitionArns"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let Some(arn) = arn.as_str() else { continue };
        // The family prefix also matches longer family names.
        if short(arn).rsplit_once(':').map(|(f, _)| f) != Some(family) {
            continue;
        }
        let described = describe_task_definition(api, arn).await?;
        if tag_value(&described["tags"], JOB_TAG) == Some(job_id)
            || registerable(&described["taskDefinition"]) == *wanted
        {
            return Ok(Some(arn.to_owned()));
        }
    }
    Ok(None)
}

/// The index of the container whose image changes ([`pipeline_common::pick_container`], the rule
/// `bootstrap plan` checked the target with).
fn pick_container(
    containers: &[Value],
    named: Option<&str>,
    cluster: &str,
    service: &str,
) -> Result<usize, String> {
    let names: Vec<&str> = containers
        .iter()
        .map(|c| c["name"].as_str().unwrap_or_default())
        .collect();
    pipeline_common::pick_container(&names, named, cluster, service)
}

fn variables(target: String, new: &str, previous: &str) -> BTreeMap<String, String> {
    use pipeline_common::pipeline_variables as names;
    BTreeMap::from([
        (names::TARGET.to_owned(), target),
        (names::NEW_REVISION.to_owned(), new.to_owned()),
        (names::PREVIOUS_REVISION.to_owned(), previous.to_owned()),
    ])
}

/// What the tasks of a described task definition run on (ECS API Reference, RuntimePlatform
/// `cpuArchitecture`: X86_64 or ARM64; tasks without one run X86_64). The new revision keeps it.
fn task_architecture(described: &Value) -> CpuArchitecture {
    described["taskDefinition"]["runtimePlatform"]["cpuArchitecture"]
        .as_str()
        .and_then(CpuArchitecture::parse)
        .unwrap_or(CpuArchitecture::X86_64)
}

/// Why a service cannot be rolled out, found before anything is registered: another controller
/// deploys it (UpdateService would refuse the new revision), or its bake would outlast the
/// rollout's bound ([`watch::bake_fits`]).
fn refused_up_front(
    service: &Value,
    watch: &Watch,
    cluster: &str,
    service_name: &str,
    bound_seconds: u64,
) -> Option<String> {
    let controller = service["deploymentController"]["type"]
        .as_str()
        .unwrap_or("ECS");
    pipeline_common::unsupported_controller(controller, cluster, service_name).or_else(|| {
        watch::bake_fits(
            watch,
            bound_seconds,
            &format!("ECS service {service_name} (cluster {cluster})"),
        )
        .err()
    })
}

/// Starts the rollout; `bound_seconds` is the rollout's bound (`timeoutSeconds`), which a
/// blue/green bake must end inside.
pub async fn start(
    api: &dyn RolloutApi,
    cluster: &str,
    service_name: &str,
    container: Option<&str>,
    request: &Request<'_>,
    bound_seconds: u64,
) -> Step {
    let service = match describe_service(api, cluster, service_name).await {
        Ok(service) => service,
        Err(step) => return step,
    };
    let watch = Watch::of(&service);
    if let Some(problem) = refused_up_front(&service, &watch, cluster, service_name, bound_seconds)
    {
        return Step::failed(FailureKind::ConfigurationError, problem);
    }
    let target = match container {
        Some(c) => format!("ecs:{cluster}/{service_name}/{c}"),
        None => format!("ecs:{cluster}/{service_name}"),
    };
    let current = service["taskDefinition"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let rollback = watch.breaker == Some(true);
    let described = match describe_task_definition(api, &current).await {
        Ok(d) => d,
        Err(err) => {
            return call_failed(&format!("DescribeTaskDefinition {}", short(&current)), &err);
        }
    };
    let containers = described["taskDefinition"]["containerDefinitions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let index = match pick_container(&containers, container, cluster, service_name) {
        Ok(index) => index,
        Err(problem) => return Step::failed(FailureKind::ConfigurationError, problem),
    };
    let what = format!(
        "ECS service {service_name} (cluster {cluster}, {})",
        short(&current)
    );
    if let Some(step) = super::wrong_architecture(request, &what, task_architecture(&described)) {
        return step;
    }

    let revision = Revision {
        service: &service,
        current: &current,
        described: &described,
        container: index,
    };
    let (new, previous) = match choose_revision(api, &revision, request).await {
        Ok(chosen) => chosen,
        Err(Chosen::AlreadyRunning) => {
            return Step::Done {
                summary: format!(
                    "ECS service {service_name} (cluster {cluster}) already runs {} ({}); nothing to roll out",
                    request.image,
                    short(&current)
                ),
                variables: variables(target, &current, &current),
            };
        }
        Err(Chosen::Failed(step)) => return *step,
    };
    if current != new
        && let Err(step) = update_service(api, cluster, service_name, &new).await
    {
        return step;
    }
    Step::InProgress {
        summary: format!(
            "Rolling out {} to ECS service {service_name} (cluster {cluster}): {} replaces {}; {}",
            request.image,
            short(&new),
            short(&previous),
            watch.describe()
        ),
        state: RolloutState::Ecs {
            cluster: cluster.to_owned(),
            service: service_name.to_owned(),
            task_definition: new,
            previous,
            rollback,
            started_at: request.started_at.to_owned(),
            deployment_id: request.job_id.to_owned(),
        },
    }
}

/// What the service runs now, as the revision choice sees it.
struct Revision<'a> {
    service: &'a Value,
    current: &'a str,
    /// DescribeTaskDefinition's answer for `current`, with its tags.
    described: &'a Value,
    /// The index of the container whose image changes.
    container: usize,
}

/// Why no revision was chosen.
enum Chosen {
    /// The service already runs the image, and its deployment completed.
    AlreadyRunning,
    Failed(Box<Step>),
}

/// The revision to roll out and the one it replaces: the one this job registered earlier (a
/// re-delivered job goes on with it), the current one when it already holds the image, or a
/// new one registered now.
async fn choose_revision(
    api: &dyn RolloutApi,
    revision: &Revision<'_>,
    request: &Request<'_>,
) -> Result<(String, String), Chosen> {
    let Revision {
        service,
        current,
        described,
        container,
    } = *revision;
    let current = current.to_owned();
    let definition = &described["taskDefinition"];
    let family = definition["family"].as_str().unwrap_or_default();
    if tag_value(&described["tags"], JOB_TAG) == Some(request.job_id) {
        let previous = service["deployments"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| d["taskDefinition"].as_str())
            .find(|td| *td != current)
            .unwrap_or(&current)
            .to_owned();
        Ok((current.clone(), previous))
    } else if definition["containerDefinitions"][container]["image"] == request.image {
        let primary_done = service["deployments"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|d| {
                d["status"] == "PRIMARY"
                    && d["taskDefinition"] == current.as_str()
                    && (d["rolloutState"] == "COMPLETED"
                        || (d.get("rolloutState").is_none() && services_stable(service)))
            });
        if primary_done {
            return Err(Chosen::AlreadyRunning);
        }
        Ok((current.clone(), current.clone()))
    } else {
        let wanted = with_image(registerable(definition), container, request.image);
        match find_reusable_revision(api, family, request.job_id, &wanted).await {
            Ok(Some(arn)) => Ok((arn, current.clone())),
            Ok(None) => register(api, definition, &described["tags"], container, request)
                .await
                .map(|arn| (arn, current.clone()))
                .map_err(|step| Chosen::Failed(Box::new(step))),
            Err(err) => Err(Chosen::Failed(Box::new(call_failed(
                &format!("ListTaskDefinitions {family}"),
                &err,
            )))),
        }
    }
}

/// Points the service at the new revision.
async fn update_service(
    api: &dyn RolloutApi,
    cluster: &str,
    service_name: &str,
    new: &str,
) -> Result<(), Step> {
    let updated = api
        .call(shape::ecs(
            "UpdateService",
            json!({ "cluster": cluster, "service": service_name, "taskDefinition": new }),
        ))
        .await;
    match updated {
        Ok(_) => Ok(()),
        Err(err) if err.is("ServiceNotFoundException") || err.is("ServiceNotActiveException") => {
            Err(Step::failed(
                FailureKind::ConfigurationError,
                format!(
                    "the ECS service {service_name} in cluster {cluster} was deleted during the deployment ({err}); \
                     recreate it or point --deploy-target elsewhere"
                ),
            ))
        }
        // The service's controller changed since DescribeServices: ECS answers
        // InvalidParameterException "Unable to update task definition on services with a
        // CODE_DEPLOY deployment controller" (fabfuel/ecs-deploy#175), a code it uses for many
        // refusals, so the message says which one this is.
        Err(err)
            if err.is("InvalidParameterException")
                && err.message.contains("deployment controller") =>
        {
            let controller = ["CODE_DEPLOY", "EXTERNAL"]
                .into_iter()
                .find(|c| err.message.contains(c))
                .unwrap_or("CODE_DEPLOY");
            Err(Step::failed(
                FailureKind::ConfigurationError,
                pipeline_common::unsupported_controller(controller, cluster, service_name)
                    .unwrap_or_else(|| {
                        format!("UpdateService {cluster}/{service_name} was refused: {err}")
                    }),
            ))
        }
        Err(err) => Err(call_failed(
            &format!("UpdateService {cluster}/{service_name}"),
            &err,
        )),
    }
}

/// Why a rollout failed (who failed it: [`Cause`]), and whether ECS rolled the service back (or
/// is doing so).
fn failure_message(
    state: &RolloutState,
    image: &str,
    running_now: &str,
    (reason, cause): (&str, &Cause),
    failed: u64,
) -> String {
    let RolloutState::Ecs {
        cluster,
        service: service_name,
        task_definition,
        previous,
        ..
    } = state
    else {
        return format!("the rollout of {image} failed: {reason}");
    };
    let rolled_back = running_now == previous && previous != task_definition;
    let by = if cause.by.is_empty() {
        String::new()
    } else {
        format!("{}: ", cause.by)
    };
    format!(
        "the rollout of {image} to ECS service {service_name} (cluster {cluster}) failed: {by}{reason}{}; {}",
        if failed > 0 {
            format!(" ({failed} tasks failed to start)")
        } else {
            String::new()
        },
        if rolled_back {
            format!("ECS rolled the service back to {}", short(previous))
        } else if cause.rollback {
            format!("ECS is rolling the service back to {}", short(previous))
        } else {
            format!(
                "it was NOT rolled back and stays on {}: turn on {}, or update the service to {} by hand",
                short(running_now),
                cause.turn_on,
                short(previous)
            )
        }
    )
}

/// RegisterTaskDefinition's parameters of a described task definition, ECS's bookkeeping left out.
fn registerable(definition: &Value) -> serde_json::Map<String, Value> {
    REGISTERABLE
        .into_iter()
        .filter_map(|key| {
            definition
                .get(key)
                .filter(|v| !v.is_null())
                .map(|value| (key.to_owned(), value.clone()))
        })
        .collect()
}

/// `parameters` with the container's image replaced.
fn with_image(
    mut parameters: serde_json::Map<String, Value>,
    container: usize,
    image: &str,
) -> serde_json::Map<String, Value> {
    if let Some(slot) = parameters
        .get_mut("containerDefinitions")
        .and_then(Value::as_array_mut)
        .and_then(|containers| containers.get_mut(container))
    {
        slot["image"] = json!(image);
    }
    parameters
}

/// RegisterTaskDefinition's request for the new revision: the current one's parameters and tags,
/// the container's image replaced, the job id added as a tag. Nothing else changes: sidecars,
/// secrets, volumes and the runtime platform are the team's.
pub fn revision_body(
    definition: &Value,
    tags: &Value,
    container: usize,
    image: &str,
    job_id: &str,
) -> Value {
    let mut body = with_image(registerable(definition), container, image);
    let mut new_tags: Vec<Value> = tags
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["key"] != JOB_TAG)
        .cloned()
        .collect();
    new_tags.push(json!({ "key": JOB_TAG, "value": job_id }));
    body.insert("tags".to_owned(), Value::Array(new_tags));
    Value::Object(body)
}

/// Registers the new revision ([`revision_body`]).
async fn register(
    api: &dyn RolloutApi,
    definition: &Value,
    tags: &Value,
    container: usize,
    request: &Request<'_>,
) -> Result<String, Step> {
    let body = revision_body(definition, tags, container, request.image, request.job_id);
    let family = definition["family"].as_str().unwrap_or_default();
    match api.call(shape::ecs("RegisterTaskDefinition", body)).await {
        Ok(answer) => answer["taskDefinition"]["taskDefinitionArn"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| {
                Step::failed(
                    FailureKind::JobFailed,
                    format!("RegisterTaskDefinition {family} answered without an ARN"),
                )
            }),
        Err(err) => Err(call_failed(
            &format!(
                "RegisterTaskDefinition {family} (a new revision with {})",
                request.image
            ),
            &err,
        )),
    }
}

/// botocore's `ServicesStable` waiter (botocore/data/ecs/2014-11-13/waiters-2.json), whose
/// success acceptor is `length(services[?!(length(deployments) == `1` && runningCount ==
/// desiredCount)]) == `0``: one deployment left, and the service runs as many tasks as it wants.
/// The rule for services without `rolloutState`, which ECS returns "only for services that use
/// the rolling update (ECS) deployment type that aren't behind a Classic Load Balancer" (ECS API
/// Reference, `Deployment`).
fn services_stable(service: &Value) -> bool {
    service["deployments"].as_array().map(Vec::len) == Some(1)
        && service["runningCount"] == service["desiredCount"]
}

/// Where the deployment stands: ECS's `rolloutState`, or, without one, `COMPLETED` once the
/// service is stable ([`services_stable`]) with only this deployment left.
fn rollout_state<'a>(service: &Value, deployment: &'a Value) -> Option<&'a str> {
    match deployment.get("rolloutState") {
        Some(state) => state.as_str(),
        None if services_stable(service) && deployment["status"] == "PRIMARY" => Some("COMPLETED"),
        None => Some("IN_PROGRESS"),
    }
}

/// The service event that says why a deployment failed: ECS posts "(service S) (deployment D)
/// deployment failed: tasks failed to start." and, for each task it stops, "(service S) (task T)
/// ..." with the reason; after a rollback the newest event is usually "has reached a steady
/// state." (ECS Developer Guide, "Amazon ECS service event messages"). The newest event is the
/// last resort.
fn failure_event(service: &Value) -> Option<&str> {
    let messages: Vec<&str> = service["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["message"].as_str())
        .collect();
    messages
        .iter()
        .find(|m| m.contains("deployment failed"))
        .or_else(|| messages.iter().find(|m| m.contains("(task ")))
        .or_else(|| messages.first())
        .copied()
}

/// What a deployment in progress runs, as people read it in the summary and in a timeout.
fn progress(service: &Value, deployment: &Value, task_definition: &str) -> String {
    let failed = match deployment["failedTasks"].as_u64() {
        Some(failed) if failed > 0 => format!(", {failed} failed to start"),
        _ => String::new(),
    };
    let newest = service["events"]
        .as_array()
        .and_then(|events| events.first())
        .and_then(|e| e["message"].as_str())
        .map(|m| format!("; newest event: {m}"))
        .unwrap_or_default();
    format!(
        "deployment {} {}/{} tasks of {} running{failed}{newest}",
        deployment["id"].as_str().unwrap_or("?"),
        deployment["runningCount"].as_u64().unwrap_or(0),
        deployment["desiredCount"].as_u64().unwrap_or(0),
        short(task_definition),
    )
}

pub async fn poll(api: &dyn RolloutApi, state: &RolloutState, image: &str) -> Step {
    let RolloutState::Ecs {
        cluster,
        service: service_name,
        task_definition,
        previous,
        ..
    } = state
    else {
        return Step::failed(FailureKind::JobFailed, "not an ECS rollout");
    };
    let service = match describe_service(api, cluster, service_name).await {
        Ok(service) => service,
        Err(step) => return step,
    };
    let target = format!("ecs:{cluster}/{service_name}");
    let running_now = service["taskDefinition"].as_str().unwrap_or_default();
    let ours = service["deployments"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|d| d["taskDefinition"] == task_definition.as_str());
    let watch = Watch::of(&service);
    let rolled_back_message = |reason: &str, failed: u64| {
        let mut cause = watch.cause(reason);
        // The token's breaker setting is what held when the rollout started.
        if cause.by.is_empty()
            && let RolloutState::Ecs { rollback, .. } = state
        {
            cause.rollback = *rollback;
        }
        failure_message(state, image, running_now, (reason, &cause), failed)
    };
    match ours {
        Some(deployment) => match rollout_state(&service, deployment) {
            Some("COMPLETED") => Step::Done {
                summary: format!(
                    "ECS service {service_name} (cluster {cluster}) runs {image} ({}); rollout completed",
                    short(task_definition)
                ),
                variables: variables(target, task_definition, previous),
            },
            Some("FAILED") => Step::failed(
                FailureKind::JobFailed,
                rolled_back_message(
                    deployment["rolloutStateReason"]
                        .as_str()
                        .unwrap_or("ECS gave no reason"),
                    deployment["failedTasks"].as_u64().unwrap_or(0),
                ),
            ),
            _ => Step::InProgress {
                summary: format!(
                    "Rolling out {image} to ECS service {service_name}: {}; {}",
                    progress(&service, deployment, task_definition),
                    watch.describe()
                ),
                state: state.clone(),
            },
        },
        // The deployment is gone: ECS finished with it one way or the other.
        None if running_now == task_definition => Step::Done {
            summary: format!(
                "ECS service {service_name} (cluster {cluster}) runs {image} ({})",
                short(task_definition)
            ),
            variables: variables(target, task_definition, previous),
        },
        None if running_now == previous => {
            let reason =
                failure_event(&service).unwrap_or("the deployment was replaced by a rollback");
            Step::failed(FailureKind::JobFailed, rolled_back_message(reason, 0))
        }
        None => Step::failed(
            FailureKind::JobFailed,
            format!(
                "another deployment replaced this one before it finished: ECS service {service_name} now runs {}, \
                 not {}; re-run the stage to deploy {image} again",
                short(running_now),
                short(task_definition)
            ),
        ),
    }
}

#[cfg(test)]
#[path = "ecs_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "ecs_watch_tests.rs"]
mod watch_tests;
