//! The ECS rollout: a new task definition revision identical to the service's current one but
//! for the container's image (pinned by digest), the service updated to it, and the service's
//! deployment followed until its `rolloutState` is COMPLETED or FAILED (ECS Developer Guide,
//! "Deployment circuit breaker"; ECS API Reference, `Deployment`).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::api as shape;
use super::{ApiError, JOB_TAG, Request, RolloutApi, RolloutState, Step, call_failed};
use crate::report::FailureKind;

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

/// The revision this job registered earlier (a re-delivered job), among the family's newest.
async fn find_job_revision(
    api: &dyn RolloutApi,
    family: &str,
    job_id: &str,
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
        if tag_value(&described["tags"], JOB_TAG) == Some(job_id) {
            return Ok(Some(arn.to_owned()));
        }
    }
    Ok(None)
}

/// The container whose image changes: the one named, the only one, or the one named like the
/// artifact's service.
fn pick_container(
    containers: &[Value],
    named: Option<&str>,
    default: &str,
) -> Result<usize, String> {
    let names: Vec<&str> = containers
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    let wanted = match (named, containers.len()) {
        (Some(name), _) => name,
        (None, 1) => return Ok(0),
        (None, _) => default,
    };
    names.iter().position(|n| *n == wanted).ok_or_else(|| {
        format!(
            "the task definition has no container `{wanted}` (it has {}); name the container in \
             --deploy-target ecs:CLUSTER/SERVICE/CONTAINER",
            names.join(", ")
        )
    })
}

fn variables(target: String, new: &str, previous: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("TARGET".to_owned(), target),
        ("NEW_REVISION".to_owned(), new.to_owned()),
        ("PREVIOUS_REVISION".to_owned(), previous.to_owned()),
    ])
}

pub async fn start(
    api: &dyn RolloutApi,
    cluster: &str,
    service_name: &str,
    container: Option<&str>,
    request: &Request<'_>,
) -> Step {
    let service = match describe_service(api, cluster, service_name).await {
        Ok(service) => service,
        Err(step) => return step,
    };
    let target = match container {
        Some(c) => format!("ecs:{cluster}/{service_name}/{c}"),
        None => format!("ecs:{cluster}/{service_name}"),
    };
    let current = service["taskDefinition"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let breaker = &service["deploymentConfiguration"]["deploymentCircuitBreaker"];
    let rollback = breaker["enable"] == true && breaker["rollback"] == true;
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
    let index = match pick_container(&containers, container, request.default_container) {
        Ok(index) => index,
        Err(problem) => return Step::failed(FailureKind::ConfigurationError, problem),
    };

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
        Err(Chosen::Failed(step)) => return step,
    };
    if current != new
        && let Err(step) = update_service(api, cluster, service_name, &new).await
    {
        return step;
    }
    Step::InProgress {
        summary: format!(
            "Rolling out {} to ECS service {service_name} (cluster {cluster}): {} replaces {}{}",
            request.image,
            short(&new),
            short(&previous),
            if rollback {
                ""
            } else {
                "; the circuit breaker's rollback is off, so a failed rollout is not rolled back"
            }
        ),
        state: RolloutState::Ecs {
            cluster: cluster.to_owned(),
            service: service_name.to_owned(),
            task_definition: new,
            previous,
            rollback,
            started_at: request.started_at.to_owned(),
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
    Failed(Step),
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
                    && d["rolloutState"] == "COMPLETED"
                    && d["taskDefinition"] == current.as_str()
            });
        if primary_done {
            return Err(Chosen::AlreadyRunning);
        }
        Ok((current.clone(), current.clone()))
    } else {
        match find_job_revision(api, family, request.job_id).await {
            Ok(Some(arn)) => Ok((arn, current.clone())),
            Ok(None) => register(api, definition, &described["tags"], container, request)
                .await
                .map(|arn| (arn, current.clone()))
                .map_err(Chosen::Failed),
            Err(err) => Err(Chosen::Failed(call_failed(
                &format!("ListTaskDefinitions {family}"),
                &err,
            ))),
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
        Err(err) => Err(call_failed(
            &format!("UpdateService {cluster}/{service_name}"),
            &err,
        )),
    }
}

/// Why a rollout failed, and whether ECS rolled the service back (or is doing so).
fn failure_message(
    state: &RolloutState,
    image: &str,
    running_now: &str,
    reason: &str,
    failed: u64,
) -> String {
    let RolloutState::Ecs {
        cluster,
        service: service_name,
        task_definition,
        previous,
        rollback,
        ..
    } = state
    else {
        return format!("the rollout of {image} failed: {reason}");
    };
    let rolled_back = running_now == previous && previous != task_definition;
    format!(
        "the rollout of {image} to ECS service {service_name} (cluster {cluster}) failed: {reason}{}; {}",
        if failed > 0 {
            format!(" ({failed} tasks failed to start)")
        } else {
            String::new()
        },
        if rolled_back {
            format!("ECS rolled the service back to {}", short(previous))
        } else if *rollback {
            format!("ECS is rolling the service back to {}", short(previous))
        } else {
            format!(
                "it was NOT rolled back and stays on {}: turn on the deployment circuit breaker's rollback, \
                 or update the service to {} by hand",
                short(running_now),
                short(previous)
            )
        }
    )
}

/// Registers the new revision: the current one's parameters and tags, the container's image
/// replaced, the job id added as a tag.
async fn register(
    api: &dyn RolloutApi,
    definition: &Value,
    tags: &Value,
    container: usize,
    request: &Request<'_>,
) -> Result<String, Step> {
    let mut body = serde_json::Map::new();
    for key in REGISTERABLE {
        if let Some(value) = definition.get(key).filter(|v| !v.is_null()) {
            body.insert(key.to_owned(), value.clone());
        }
    }
    if let Some(containers) = body
        .get_mut("containerDefinitions")
        .and_then(Value::as_array_mut)
    {
        containers[container]["image"] = json!(request.image);
    }
    let mut new_tags: Vec<Value> = tags
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["key"] != JOB_TAG)
        .cloned()
        .collect();
    new_tags.push(json!({ "key": JOB_TAG, "value": request.job_id }));
    body.insert("tags".to_owned(), Value::Array(new_tags));
    let family = definition["family"].as_str().unwrap_or_default();
    match api
        .call(shape::ecs("RegisterTaskDefinition", Value::Object(body)))
        .await
    {
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
    let rolled_back_message =
        |reason: &str, failed: u64| failure_message(state, image, running_now, reason, failed);
    match ours {
        Some(deployment) => match deployment["rolloutState"].as_str() {
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
                    "Rolling out {image} to ECS service {service_name}: {}/{} tasks of {} running{}",
                    deployment["runningCount"].as_u64().unwrap_or(0),
                    deployment["desiredCount"].as_u64().unwrap_or(0),
                    short(task_definition),
                    match deployment["failedTasks"].as_u64() {
                        Some(failed) if failed > 0 => format!(", {failed} failed to start"),
                        _ => String::new(),
                    }
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
            let reason = service["events"]
                .as_array()
                .and_then(|events| events.first())
                .and_then(|e| e["message"].as_str())
                .unwrap_or("the deployment was replaced by a rollback");
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
