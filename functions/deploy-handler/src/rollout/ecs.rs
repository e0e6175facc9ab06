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
    let definition = &described["taskDefinition"];
    let family = definition["family"].as_str().unwrap_or_default().to_owned();
    let containers = definition["containerDefinitions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let index = match pick_container(&containers, container, request.default_container) {
        Ok(index) => index,
        Err(problem) => return Step::failed(FailureKind::ConfigurationError, problem),
    };

    // A re-delivered job finds the revision it registered and goes on with it.
    let (new, previous) = if tag_value(&described["tags"], JOB_TAG) == Some(request.job_id) {
        let previous = service["deployments"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| d["taskDefinition"].as_str())
            .find(|td| *td != current)
            .unwrap_or(&current)
            .to_owned();
        (current.clone(), previous)
    } else if containers[index]["image"] == request.image {
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
            return Step::Done {
                summary: format!(
                    "ECS service {service_name} (cluster {cluster}) already runs {} ({}); nothing to roll out",
                    request.image,
                    short(&current)
                ),
                variables: variables(target, &current, &current),
            };
        }
        (current.clone(), current.clone())
    } else {
        match find_job_revision(api, &family, request.job_id).await {
            Ok(Some(arn)) => (arn, current.clone()),
            Ok(None) => match register(api, definition, &described["tags"], index, request).await {
                Ok(arn) => (arn, current.clone()),
                Err(step) => return step,
            },
            Err(err) => return call_failed(&format!("ListTaskDefinitions {family}"), &err),
        }
    };

    if current != new {
        let updated = api
            .call(shape::ecs(
                "UpdateService",
                json!({ "cluster": cluster, "service": service_name, "taskDefinition": new }),
            ))
            .await;
        match updated {
            Ok(_) => {}
            Err(err)
                if err.is("ServiceNotFoundException") || err.is("ServiceNotActiveException") =>
            {
                return Step::failed(
                    FailureKind::ConfigurationError,
                    format!(
                        "the ECS service {service_name} in cluster {cluster} was deleted during the deployment ({err}); \
                         recreate it or point --deploy-target elsewhere"
                    ),
                );
            }
            Err(err) => {
                return call_failed(&format!("UpdateService {cluster}/{service_name}"), &err);
            }
        }
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
        rollback,
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
    let rolled_back_message = |reason: &str, failed: u64| {
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
    };
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
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::fake::{FakeApi, error};
    use super::*;

    const OLD: &str = "arn:aws:ecs:us-east-1:1:task-definition/web:3";
    const NEW: &str = "arn:aws:ecs:us-east-1:1:task-definition/web:4";
    const IMAGE: &str = "1.dkr.ecr.us-east-1.amazonaws.com/app-dev@sha256:aa";

    fn request() -> Request<'static> {
        Request {
            job_id: "job-1",
            image: IMAGE,
            digest: "sha256:aa",
            default_container: "app",
            started_at: "2026-01-01T00:00:00Z",
        }
    }

    fn service(task_definition: &str, deployments: Value, rollback: bool) -> Value {
        json!({"services": [{
            "serviceName": "web", "status": "ACTIVE", "taskDefinition": task_definition,
            "deploymentConfiguration": {"deploymentCircuitBreaker": {"enable": true, "rollback": rollback}},
            "deployments": deployments
        }]})
    }

    fn definition(arn: &str, image: &str, job: Option<&str>) -> Value {
        let mut tags = vec![json!({"key": "team", "value": "web"})];
        if let Some(job) = job {
            tags.push(json!({"key": JOB_TAG, "value": job}));
        }
        json!({"taskDefinition": {
            "taskDefinitionArn": arn, "family": "web", "revision": 3, "status": "ACTIVE",
            "taskRoleArn": "arn:aws:iam::1:role/web-task", "networkMode": "awsvpc", "cpu": "256", "memory": "512",
            "containerDefinitions": [
                {"name": "app", "image": image, "essential": true},
                {"name": "sidecar", "image": "public.ecr.aws/x/envoy:1"}
            ]
        }, "tags": tags})
    }

    fn state(rollback: bool) -> RolloutState {
        RolloutState::Ecs {
            cluster: "prod".into(),
            service: "web".into(),
            task_definition: NEW.into(),
            previous: OLD.into(),
            rollback,
            started_at: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[tokio::test]
    async fn start_registers_a_revision_with_only_the_image_changed_and_updates_the_service() {
        let api = FakeApi::default();
        api.answer("DescribeServices", Ok(service(OLD, json!([]), true)))
            .answer(
                "DescribeTaskDefinition",
                Ok(definition(OLD, "old@sha256:00", None)),
            )
            .answer(
                "ListTaskDefinitions",
                Ok(json!({"taskDefinitionArns": [OLD]})),
            )
            .answer(
                "DescribeTaskDefinition",
                Ok(definition(OLD, "old@sha256:00", None)),
            )
            .answer(
                "RegisterTaskDefinition",
                Ok(json!({"taskDefinition": {"taskDefinitionArn": NEW}})),
            )
            .answer("UpdateService", Ok(json!({})));
        let step = start(&api, "prod", "web", None, &request()).await;
        assert_eq!(
            step,
            Step::InProgress {
                summary: format!(
                    "Rolling out {IMAGE} to ECS service web (cluster prod): web:4 replaces web:3"
                ),
                state: state(true)
            }
        );
        let registered = &api.calls_to("RegisterTaskDefinition")[0];
        assert_eq!(registered["containerDefinitions"][0]["image"], IMAGE);
        assert_eq!(
            registered["containerDefinitions"][1]["image"],
            "public.ecr.aws/x/envoy:1"
        );
        assert_eq!(registered["taskRoleArn"], "arn:aws:iam::1:role/web-task");
        assert!(
            registered.get("taskDefinitionArn").is_none() && registered.get("status").is_none()
        );
        assert_eq!(
            registered["tags"],
            json!([{"key": "team", "value": "web"}, {"key": JOB_TAG, "value": "job-1"}])
        );
        assert_eq!(api.calls_to("UpdateService")[0]["taskDefinition"], NEW);
    }

    #[tokio::test]
    async fn a_redelivered_job_reuses_its_revision_and_registers_nothing() {
        let api = FakeApi::default();
        // Re-delivered after RegisterTaskDefinition but before UpdateService.
        api.answer("DescribeServices", Ok(service(OLD, json!([]), true)))
            .answer(
                "DescribeTaskDefinition",
                Ok(definition(OLD, "old@sha256:00", None)),
            )
            .answer(
                "ListTaskDefinitions",
                Ok(json!({"taskDefinitionArns": [NEW, OLD]})),
            )
            .answer(
                "DescribeTaskDefinition",
                Ok(definition(NEW, IMAGE, Some("job-1"))),
            )
            .answer("UpdateService", Ok(json!({})));
        let step = start(&api, "prod", "web", None, &request()).await;
        assert!(matches!(step, Step::InProgress { .. }), "{step:?}");
        assert!(api.calls_to("RegisterTaskDefinition").is_empty());
        assert_eq!(api.calls_to("UpdateService")[0]["taskDefinition"], NEW);

        // Re-delivered after UpdateService: the service already runs the job's revision.
        let api = FakeApi::default();
        api.answer(
            "DescribeServices",
            Ok(service(NEW, json!([{"status": "PRIMARY", "taskDefinition": NEW, "rolloutState": "IN_PROGRESS"}, {"status": "ACTIVE", "taskDefinition": OLD}]), true)),
        )
        .answer("DescribeTaskDefinition", Ok(definition(NEW, IMAGE, Some("job-1"))));
        let step = start(&api, "prod", "web", None, &request()).await;
        assert!(
            matches!(step, Step::InProgress { state: RolloutState::Ecs { ref previous, .. }, .. } if previous == OLD),
            "{step:?}"
        );
        assert!(api.calls_to("UpdateService").is_empty());
    }

    #[tokio::test]
    async fn a_missing_service_or_container_is_a_configuration_error_that_says_what_to_fix() {
        let api = FakeApi::default();
        api.answer(
            "DescribeServices",
            Ok(json!({"services": [], "failures": [{"reason": "MISSING"}]})),
        );
        let Step::Failed { kind, message } = start(&api, "prod", "web", None, &request()).await
        else {
            panic!()
        };
        assert_eq!(kind, FailureKind::ConfigurationError);
        assert!(
            message.contains("does not exist (any more) in cluster prod"),
            "{message}"
        );

        let api = FakeApi::default();
        api.answer("DescribeServices", Ok(service(OLD, json!([]), true)))
            .answer("DescribeTaskDefinition", Ok(definition(OLD, "old", None)));
        let Step::Failed { kind, message } =
            start(&api, "prod", "web", Some("api"), &request()).await
        else {
            panic!()
        };
        assert_eq!(kind, FailureKind::ConfigurationError);
        assert!(
            message.contains("no container `api` (it has app, sidecar)"),
            "{message}"
        );

        let api = FakeApi::default();
        api.answer("DescribeServices", Ok(service(OLD, json!([]), true)))
            .answer("DescribeTaskDefinition", Ok(definition(OLD, "old", None)))
            .answer("ListTaskDefinitions", Ok(json!({"taskDefinitionArns": []})))
            .answer(
                "RegisterTaskDefinition",
                Ok(json!({"taskDefinition": {"taskDefinitionArn": NEW}})),
            )
            .answer(
                "UpdateService",
                error("ServiceNotActiveException", "Service was deleted."),
            );
        let Step::Failed { kind, message } = start(&api, "prod", "web", None, &request()).await
        else {
            panic!()
        };
        assert_eq!(kind, FailureKind::ConfigurationError);
        assert!(
            message.contains("was deleted during the deployment"),
            "{message}"
        );
    }

    #[tokio::test]
    async fn a_denied_call_is_a_permission_error_naming_the_call() {
        let api = FakeApi::default();
        api.answer(
            "DescribeServices",
            error(
                "AccessDeniedException",
                "User: x is not authorized to perform: ecs:DescribeServices",
            ),
        );
        let Step::Failed { kind, message } = start(&api, "prod", "web", None, &request()).await
        else {
            panic!()
        };
        assert_eq!(kind, FailureKind::PermissionError);
        assert!(
            message.contains("DescribeServices prod/web was refused"),
            "{message}"
        );
    }

    #[tokio::test]
    async fn poll_follows_the_rollout_to_completed() {
        let api = FakeApi::default();
        api.answer("DescribeServices", Ok(service(NEW, json!([{"status": "PRIMARY", "taskDefinition": NEW, "rolloutState": "IN_PROGRESS", "runningCount": 1, "desiredCount": 2}]), true)))
            .answer("DescribeServices", Ok(service(NEW, json!([{"status": "PRIMARY", "taskDefinition": NEW, "rolloutState": "COMPLETED"}]), true)));
        let step = poll(&api, &state(true), IMAGE).await;
        assert!(
            matches!(&step, Step::InProgress { summary, .. } if summary.contains("1/2 tasks of web:4 running")),
            "{step:?}"
        );
        let Step::Done { variables, summary } = poll(&api, &state(true), IMAGE).await else {
            panic!()
        };
        assert!(summary.contains("rollout completed"), "{summary}");
        assert_eq!(variables["NEW_REVISION"], NEW);
        assert_eq!(variables["PREVIOUS_REVISION"], OLD);
        assert_eq!(variables["TARGET"], "ecs:prod/web");
    }

    #[tokio::test]
    async fn a_failed_rollout_says_why_and_whether_it_rolled_back() {
        let failed = json!({"status": "ACTIVE", "taskDefinition": NEW, "rolloutState": "FAILED",
            "rolloutStateReason": "ECS deployment circuit breaker: tasks failed to start.", "failedTasks": 3});
        let api = FakeApi::default();
        api.answer("DescribeServices", Ok(service(OLD, json!([{"status": "PRIMARY", "taskDefinition": OLD, "rolloutState": "IN_PROGRESS"}, failed.clone()]), true)));
        let Step::Failed { kind, message } = poll(&api, &state(true), IMAGE).await else {
            panic!()
        };
        assert_eq!(kind, FailureKind::JobFailed);
        assert!(message.contains("tasks failed to start. (3 tasks failed to start); ECS rolled the service back to web:3"), "{message}");

        let api = FakeApi::default();
        api.answer("DescribeServices", Ok(service(NEW, json!([failed]), false)));
        let Step::Failed { message, .. } = poll(&api, &state(false), IMAGE).await else {
            panic!()
        };
        assert!(
            message.contains("NOT rolled back and stays on web:4"),
            "{message}"
        );
    }

    #[tokio::test]
    async fn a_vanished_deployment_is_judged_by_what_the_service_runs() {
        let api = FakeApi::default();
        api.answer(
            "DescribeServices",
            Ok(service(
                "arn:aws:ecs:us-east-1:1:task-definition/web:9",
                json!([]),
                true,
            )),
        );
        let Step::Failed { message, .. } = poll(&api, &state(true), IMAGE).await else {
            panic!()
        };
        assert!(
            message.contains("another deployment replaced this one"),
            "{message}"
        );

        let api = FakeApi::default();
        api.answer("DescribeServices", Ok(service(NEW, json!([]), true)));
        assert!(matches!(
            poll(&api, &state(true), IMAGE).await,
            Step::Done { .. }
        ));
    }
}
