//! The rollouts' calls through the SDK's own clients (aws-sdk-ecs, aws-sdk-lambda): typed
//! requests, the SDK's retries, signing and credential handling. Each client is built once, at
//! its first call, from the shared SDK configuration. The rollout steps speak the
//! [`RolloutApi`] shapes (operation + JSON), which are mapped to typed calls here, and the typed
//! answers back to the fields the steps read.

use std::sync::{Mutex, OnceLock};

use aws_config::SdkConfig;
use aws_sdk_ecs::error::{ProvideErrorMetadata, SdkError};
use hyper::Method;
use serde_json::{Value, json};

use super::RolloutApi;
use super::api::{ApiError, AwsRequest, Endpoints};
use crate::BoxFuture;

pub struct SdkApi {
    sdk_config: SdkConfig,
    endpoints: Endpoints,
    ecs: OnceLock<aws_sdk_ecs::Client>,
    lambda: OnceLock<aws_sdk_lambda::Client>,
    /// The typed task definition a RegisterTaskDefinition copies: the first one described after
    /// the latest DescribeServices (the service's current revision).
    source: Mutex<Option<aws_sdk_ecs::types::TaskDefinition>>,
    /// CloudWatch, hand-signed over the shared HTTP client ([`super::signed`]); None: its calls
    /// fail naming what is missing.
    cloudwatch: Option<super::signed::SignedJson>,
}

impl std::fmt::Debug for SdkApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SdkApi")
            .field("endpoints", &self.endpoints)
            .finish_non_exhaustive()
    }
}

impl SdkApi {
    pub fn new(sdk_config: SdkConfig, endpoints: Endpoints) -> Self {
        Self {
            sdk_config,
            endpoints,
            ecs: OnceLock::new(),
            lambda: OnceLock::new(),
            source: Mutex::new(None),
            cloudwatch: None,
        }
    }

    /// Sends CloudWatch's calls over `http`, signed with the SDK configuration's credentials.
    pub fn with_cloudwatch(
        mut self,
        http: std::sync::Arc<dyn crate::transport::HttpTransport>,
        endpoint: Option<String>,
    ) -> Self {
        self.cloudwatch = Some(super::signed::SignedJson {
            http,
            credentials: self.sdk_config.credentials_provider(),
            region: self.endpoints.region.clone(),
            endpoint,
        });
        self
    }

    fn ecs(&self) -> &aws_sdk_ecs::Client {
        self.ecs.get_or_init(|| {
            let mut config = aws_sdk_ecs::config::Builder::from(&self.sdk_config);
            config.set_endpoint_url(self.endpoints.ecs.clone());
            aws_sdk_ecs::Client::from_conf(config.build())
        })
    }

    fn lambda(&self) -> &aws_sdk_lambda::Client {
        self.lambda.get_or_init(|| {
            let mut config = aws_sdk_lambda::config::Builder::from(&self.sdk_config);
            config.set_endpoint_url(self.endpoints.lambda.clone());
            aws_sdk_lambda::Client::from_conf(config.build())
        })
    }

    fn source(&self) -> std::sync::MutexGuard<'_, Option<aws_sdk_ecs::types::TaskDefinition>> {
        self.source
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn ecs_call(&self, operation: &str, body: &Value) -> Result<Value, ApiError> {
        use aws_sdk_ecs::types::{SortOrder, TaskDefinitionStatus};
        let text = |key: &str| body[key].as_str().map(str::to_owned);
        let ecs = self.ecs();
        match operation {
            "DescribeServices" => {
                let services = strings(&body["services"]);
                let out = ecs
                    .describe_services()
                    .set_cluster(text("cluster"))
                    .set_services(Some(services))
                    .send()
                    .await
                    .map_err(|e| api_error("ecs", e))?;
                *self.source() = None;
                Ok(
                    json!({ "services": out.services().iter().map(service_json).collect::<Vec<_>>() }),
                )
            }
            "DescribeTaskDefinition" => self.describe_task_definition(text("taskDefinition")).await,
            "ListTaskDefinitions" => {
                let out = ecs
                    .list_task_definitions()
                    .set_family_prefix(text("familyPrefix"))
                    .sort(SortOrder::Desc)
                    .status(TaskDefinitionStatus::Active)
                    .set_max_results(body["maxResults"].as_i64().map(|n| n as i32))
                    .send()
                    .await
                    .map_err(|e| api_error("ecs", e))?;
                Ok(json!({ "taskDefinitionArns": out.task_definition_arns() }))
            }
            "UpdateService" => {
                ecs.update_service()
                    .set_cluster(text("cluster"))
                    .set_service(text("service"))
                    .set_task_definition(text("taskDefinition"))
                    .send()
                    .await
                    .map_err(|e| api_error("ecs", e))?;
                Ok(json!({}))
            }
            "RegisterTaskDefinition" => self.register_task_definition(body).await,
            other => Err(local(&format!("the ECS operation {other} is not mapped"))),
        }
    }

    /// DescribeTaskDefinition with its tags; the first definition described after a
    /// DescribeServices is kept as the one a RegisterTaskDefinition copies.
    async fn describe_task_definition(&self, arn: Option<String>) -> Result<Value, ApiError> {
        let ecs = self.ecs();
        let out = ecs
            .describe_task_definition()
            .set_task_definition(arn)
            .include(aws_sdk_ecs::types::TaskDefinitionField::Tags)
            .send()
            .await
            .map_err(|e| api_error("ecs", e))?;
        let Some(definition) = out.task_definition().cloned() else {
            return Err(local(
                "DescribeTaskDefinition answered without a task definition",
            ));
        };
        let described = json!({
            "taskDefinition": {
                "taskDefinitionArn": definition.task_definition_arn(),
                "family": definition.family(),
                "runtimePlatform": {
                    "cpuArchitecture": definition.runtime_platform().and_then(|p| p.cpu_architecture()).map(|a| a.as_str()),
                },
                "containerDefinitions": definition.container_definitions().iter().map(|c| json!({
                    "name": c.name(),
                    "image": c.image(),
                })).collect::<Vec<_>>(),
            },
            "tags": ecs_tags_json(out.tags()),
        });
        let mut source = self.source();
        if source.is_none() {
            *source = Some(definition);
        }
        Ok(described)
    }

    /// RegisterTaskDefinition of the kept definition with the requested images and tags.
    // It copies every parameter the current revision has, deprecated or not.
    #[allow(deprecated)]
    async fn register_task_definition(&self, body: &Value) -> Result<Value, ApiError> {
        let ecs = self.ecs();
        let Some(source) = self.source().clone() else {
            return Err(local("no task definition was described to copy"));
        };
        let mut containers = source.container_definitions.clone().unwrap_or_default();
        for (slot, wanted) in containers.iter_mut().zip(
            body["containerDefinitions"]
                .as_array()
                .into_iter()
                .flatten(),
        ) {
            if let Some(image) = wanted["image"].as_str() {
                slot.image = Some(image.to_owned());
            }
        }
        let tags = body["tags"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| {
                aws_sdk_ecs::types::Tag::builder()
                    .set_key(t["key"].as_str().map(str::to_owned))
                    .set_value(t["value"].as_str().map(str::to_owned))
                    .build()
            })
            .collect();
        let out = ecs
            .register_task_definition()
            .set_family(source.family.clone())
            .set_task_role_arn(source.task_role_arn.clone())
            .set_execution_role_arn(source.execution_role_arn.clone())
            .set_network_mode(source.network_mode.clone())
            .set_container_definitions(Some(containers))
            .set_volumes(source.volumes.clone())
            .set_placement_constraints(source.placement_constraints.clone().map(|all| {
                all.into_iter()
                    .map(|c| {
                        aws_sdk_ecs::types::TaskDefinitionPlacementConstraint::builder()
                            .set_type(c.r#type)
                            .set_expression(c.expression)
                            .build()
                    })
                    .collect()
            }))
            .set_requires_compatibilities(source.requires_compatibilities.clone())
            .set_cpu(source.cpu.clone())
            .set_memory(source.memory.clone())
            .set_pid_mode(source.pid_mode.clone())
            .set_ipc_mode(source.ipc_mode.clone())
            .set_proxy_configuration(source.proxy_configuration.clone())
            .set_inference_accelerators(source.inference_accelerators.clone())
            .set_ephemeral_storage(source.ephemeral_storage.clone())
            .set_runtime_platform(source.runtime_platform.clone())
            .set_enable_fault_injection(source.enable_fault_injection)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| api_error("ecs", e))?;
        Ok(json!({ "taskDefinition": {
            "taskDefinitionArn": out.task_definition().and_then(|d| d.task_definition_arn()),
        }}))
    }

    async fn lambda_call(
        &self,
        method: &Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, ApiError> {
        let rest = path
            .strip_prefix("/2015-03-31/functions/")
            .ok_or_else(|| local(&format!("not a Lambda function path: {path}")))?;
        let (function, tail) = rest.split_once('/').unwrap_or((rest, ""));
        let field = |key: &str| body.and_then(|b| b[key].as_str()).map(str::to_owned);
        let lambda = self.lambda();
        match (method.as_str(), tail.split_once('/').unwrap_or((tail, ""))) {
            ("GET", ("", "")) => {
                let out = lambda
                    .get_function()
                    .function_name(function)
                    .send()
                    .await
                    .map_err(|e| api_error("lambda", e))?;
                let configuration = out.configuration();
                let code = out.code();
                Ok(json!({
                    "Configuration": {
                        "PackageType": configuration.and_then(|c| c.package_type()).map(|t| t.as_str()),
                        "LastUpdateStatus": configuration.and_then(|c| c.last_update_status()).map(|s| s.as_str()),
                        "LastUpdateStatusReason": configuration.and_then(|c| c.last_update_status_reason()),
                        "LastUpdateStatusReasonCode": configuration.and_then(|c| c.last_update_status_reason_code()).map(|s| s.as_str()),
                        "CodeSha256": configuration.and_then(|c| c.code_sha256()),
                        "Architectures": configuration.map(|c| c.architectures().iter().map(|a| a.as_str()).collect::<Vec<_>>()),
                        "Settings": configuration.map(frozen_settings),
                    },
                    "Code": {
                        "ImageUri": code.and_then(|c| c.image_uri()),
                        "ResolvedImageUri": code.and_then(|c| c.resolved_image_uri()),
                    },
                }))
            }
            ("GET", ("aliases", alias)) => {
                let out = lambda
                    .get_alias()
                    .function_name(function)
                    .name(alias)
                    .send()
                    .await
                    .map_err(|e| api_error("lambda", e))?;
                let weights = out
                    .routing_config()
                    .and_then(|r| r.additional_version_weights())
                    .cloned()
                    .unwrap_or_default();
                Ok(json!({
                    "FunctionVersion": out.function_version(),
                    "RoutingConfig": { "AdditionalVersionWeights": weights },
                }))
            }
            ("PUT", ("aliases", alias)) => {
                lambda
                    .update_alias()
                    .function_name(function)
                    .name(alias)
                    .set_function_version(field("FunctionVersion"))
                    .set_routing_config(body.and_then(routing_config))
                    .send()
                    .await
                    .map_err(|e| api_error("lambda", e))?;
                Ok(json!({}))
            }
            ("PUT", ("code", "")) => {
                lambda
                    .update_function_code()
                    .function_name(function)
                    .set_image_uri(field("ImageUri"))
                    .send()
                    .await
                    .map_err(|e| api_error("lambda", e))?;
                Ok(json!({}))
            }
            ("POST", ("versions", "")) => {
                let out = lambda
                    .publish_version()
                    .function_name(function)
                    .set_code_sha256(field("CodeSha256"))
                    .set_description(field("Description"))
                    .send()
                    .await
                    .map_err(|e| api_error("lambda", e))?;
                Ok(json!({ "Version": out.version() }))
            }
            ("GET", ("versions", "")) => list_versions(lambda, function, body).await,
            _ => Err(local(&format!(
                "the Lambda call {method} {path} is not mapped"
            ))),
        }
    }
}

impl RolloutApi for SdkApi {
    fn call(&self, request: AwsRequest) -> BoxFuture<'_, Result<Value, ApiError>> {
        Box::pin(async move {
            let body = request.body.clone().unwrap_or(Value::Null);
            match request.service {
                "ecs" => self.ecs_call(&request.name(), &body).await,
                "monitoring" => match &self.cloudwatch {
                    Some(cloudwatch) => cloudwatch.call(&request).await,
                    None => Err(local("CloudWatch calls are not wired in this build")),
                },
                _ => {
                    self.lambda_call(&request.method, &request.path, request.body.as_ref())
                        .await
                }
            }
        })
    }
}

/// ListVersionsByFunction's page: each version's number, code and frozen settings.
async fn list_versions(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    body: Option<&Value>,
) -> Result<Value, ApiError> {
    let field = |key: &str| body.and_then(|b| b[key].as_str()).map(str::to_owned);
    let out = lambda
        .list_versions_by_function()
        .function_name(function)
        .set_marker(field("Marker"))
        .set_max_items(
            body.and_then(|b| b["MaxItems"].as_i64())
                .and_then(|n| i32::try_from(n).ok()),
        )
        .send()
        .await
        .map_err(|e| api_error("lambda", e))?;
    let versions: Vec<Value> = out
        .versions()
        .iter()
        .map(|c| {
            json!({ "Version": c.version(), "CodeSha256": c.code_sha256(), "Settings": frozen_settings(c) })
        })
        .collect();
    Ok(json!({ "Versions": versions, "NextMarker": out.next_marker() }))
}

/// An alias's `RoutingConfig` from the request (`{"AdditionalVersionWeights": {"5": 0.1}}`; an
/// empty map clears the weights).
fn routing_config(body: &Value) -> Option<aws_sdk_lambda::types::AliasRoutingConfiguration> {
    let weights = body["RoutingConfig"]["AdditionalVersionWeights"].as_object()?;
    let weights = weights
        .iter()
        .filter_map(|(version, weight)| Some((version.clone(), weight.as_f64()?)))
        .collect();
    Some(
        aws_sdk_lambda::types::AliasRoutingConfiguration::builder()
            .set_additional_version_weights(Some(weights))
            .build(),
    )
}

/// What a published version freezes besides its code, each absent setting as Lambda's default,
/// so a version equals `$LATEST` when it would run the same way (`rollout::lambda_versions`).
/// The environment's values are compared, never logged.
fn frozen_settings(c: &aws_sdk_lambda::types::FunctionConfiguration) -> Value {
    let environment: std::collections::BTreeMap<&String, &String> = c
        .environment()
        .and_then(|e| e.variables())
        .map(|variables| variables.iter().collect())
        .unwrap_or_default();
    let image = c.image_config_response().and_then(|r| r.image_config());
    let vpc = c.vpc_config();
    json!({
        "Role": c.role(),
        "MemorySize": c.memory_size().unwrap_or(128),
        "Timeout": c.timeout().unwrap_or(3),
        "Environment": environment,
        "EntryPoint": image.map(|i| i.entry_point()).unwrap_or_default(),
        "Command": image.map(|i| i.command()).unwrap_or_default(),
        "WorkingDirectory": image.and_then(|i| i.working_directory()),
        "Architectures": c.architectures().iter().map(|a| a.as_str()).collect::<Vec<_>>(),
        "EphemeralStorage": c.ephemeral_storage().map_or(512, |e| e.size()),
        "KMSKeyArn": c.kms_key_arn(),
        "Tracing": c.tracing_config().and_then(|t| t.mode()).map_or("PassThrough", |m| m.as_str()),
        "Subnets": vpc.map(|v| v.subnet_ids()).unwrap_or_default(),
        "SecurityGroups": vpc.map(|v| v.security_group_ids()).unwrap_or_default(),
        "DeadLetterTarget": c.dead_letter_config().and_then(|d| d.target_arn()),
        "FileSystems": c.file_system_configs().iter().map(|f| json!([f.arn(), f.local_mount_path()])).collect::<Vec<_>>(),
    })
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

fn ecs_tags_json(tags: &[aws_sdk_ecs::types::Tag]) -> Value {
    tags.iter()
        .map(|t| json!({ "key": t.key(), "value": t.value() }))
        .collect()
}

/// What watches a service's deployments (`rollout::ecs`'s watch): the circuit breaker, the
/// deployment alarms, the strategy and its bake.
fn deployment_configuration_json(service: &aws_sdk_ecs::types::Service) -> Value {
    let config = service.deployment_configuration();
    let breaker = config.and_then(|c| c.deployment_circuit_breaker());
    let alarms = config.and_then(|c| c.alarms());
    json!({
        "deploymentCircuitBreaker": {
            "enable": breaker.map(|b| b.enable()),
            "rollback": breaker.map(|b| b.rollback()),
        },
        "alarms": alarms.map(|a| json!({
            "alarmNames": a.alarm_names(),
            "enable": a.enable(),
            "rollback": a.rollback(),
        })),
        "strategy": config.and_then(|c| c.strategy()).map(|s| s.as_str()),
        "bakeTimeInMinutes": config.and_then(|c| c.bake_time_in_minutes()),
    })
}

/// The fields of a service the rollout steps read.
fn service_json(service: &aws_sdk_ecs::types::Service) -> Value {
    let deployments: Vec<Value> = service
        .deployments()
        .iter()
        .map(|d| {
            let mut deployment = json!({
                "id": d.id(),
                "status": d.status(),
                "taskDefinition": d.task_definition(),
                "runningCount": d.running_count(),
                "desiredCount": d.desired_count(),
                "failedTasks": d.failed_tasks(),
                "rolloutStateReason": d.rollout_state_reason(),
            });
            if let Some(state) = d.rollout_state() {
                deployment["rolloutState"] = json!(state.as_str());
            }
            deployment
        })
        .collect();
    json!({
        "status": service.status(),
        "taskDefinition": service.task_definition(),
        "deploymentController": {
            "type": service.deployment_controller().map(|c| c.r#type().as_str()),
        },
        "deploymentConfiguration": deployment_configuration_json(service),
        "deployments": deployments,
        "runningCount": service.running_count(),
        "desiredCount": service.desired_count(),
        "events": service.events().iter().map(|e| json!({ "message": e.message() })).collect::<Vec<_>>(),
    })
}

/// AWS's error code and message, or `Unreachable` when no answer came.
fn api_error<E>(service: &str, err: SdkError<E>) -> ApiError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let status = err.raw_response().map_or(0, |r| r.status().as_u16());
    match err.code() {
        Some(code) => ApiError {
            code: code.to_owned(),
            message: err.message().unwrap_or_default().to_owned(),
            status,
        },
        None => ApiError {
            code: "Unreachable".to_owned(),
            message: format!(
                "{service} did not answer: {}",
                aws_smithy_types::error::display::DisplayErrorContext(&err)
            ),
            status,
        },
    }
}

fn local(message: &str) -> ApiError {
    ApiError {
        code: "Unmapped".to_owned(),
        message: message.to_owned(),
        status: 0,
    }
}
