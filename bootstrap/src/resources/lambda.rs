//! Lambda functions (zip packages with their asynchronous-invocation settings) and the
//! resource-policy statements that let other services invoke them.

use super::adopt::created_or_adopted_in;
use super::errors::{self, absent_as_none, gone_is_done};
use super::tags::{map_tags, retag_with};
use super::{Ctx, util};
use crate::model::{FunctionSpec, Kind, Observed, PermissionSpec, ResourceId};
use crate::policies::deployer::Scope;
use crate::policies::statement;
use anyhow::{Context, Result, bail};
use aws_sdk_lambda::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_lambda::operation::{
    add_permission::AddPermissionError, create_function::CreateFunctionError,
    delete_function::DeleteFunctionError,
    delete_function_event_invoke_config::DeleteFunctionEventInvokeConfigError,
    get_alias::GetAliasError, get_function::GetFunctionError,
    get_function_event_invoke_config::GetFunctionEventInvokeConfigError,
    get_policy::GetPolicyError, remove_permission::RemovePermissionError,
};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{
    Architecture, DestinationConfig, Environment, FunctionCode, LastUpdateStatus, LogFormat,
    LoggingConfig, OnFailure, PackageType, Runtime, State,
};
use serde_json::Value;
use std::time::{Duration, Instant};

super::resource!(
    /// Lambda functions (role, log group, failure destination).
    FunctionResource: Function(FunctionSpec), depends on [Role, LogGroup, Topic]
);

errors::variants! {
    NotFound:
    GetFunctionError => is_resource_not_found_exception,
    GetAliasError => is_resource_not_found_exception,
    GetFunctionEventInvokeConfigError => is_resource_not_found_exception,
    DeleteFunctionEventInvokeConfigError => is_resource_not_found_exception,
    DeleteFunctionError => is_resource_not_found_exception,
    GetPolicyError => is_resource_not_found_exception,
    RemovePermissionError => is_resource_not_found_exception,
}
// Lambda answers a taken name or statement id with ResourceConflictException (Lambda API
// Reference, CreateFunction and AddPermission, "Errors").
errors::variants! {
    AlreadyExists:
    CreateFunctionError => is_resource_conflict_exception,
    AddPermissionError => is_resource_conflict_exception,
}

/// How long to wait for a function to leave `Pending` / an update `InProgress` before giving up.
const READY_BUDGET: Duration = Duration::from_secs(300);

pub async fn observe(ctx: Ctx<'_>, name: &str) -> Result<Option<Observed>> {
    let lambda = &ctx.clients.lambda;
    // Both reads name the function only: one round (an absent function fails both).
    let (answer, invoke) = futures::join!(
        lambda.get_function().function_name(name).send(),
        lambda
            .get_function_event_invoke_config()
            .function_name(name)
            .send(),
    );
    let Some(function) = absent_as_none(answer)? else {
        return Ok(None);
    };
    let config = function
        .configuration()
        .context("GetFunction answered without a configuration")?;
    let tags = map_tags(function.tags());
    let invoke = absent_as_none(invoke).context("reading the asynchronous invocation settings")?;
    let on_failure_destination = invoke
        .as_ref()
        .and_then(|i| i.destination_config())
        .and_then(|d| d.on_failure())
        .and_then(|f| f.destination())
        .map(str::to_owned);
    let max_retry_attempts = invoke.as_ref().and_then(|i| i.maximum_retry_attempts());
    let logging = config.logging_config();
    let spec = FunctionSpec {
        name: name.to_owned(),
        role_arn: config.role().unwrap_or_default().to_owned(),
        runtime: config
            .runtime()
            .map(|r| r.as_str().to_owned())
            .unwrap_or_default(),
        handler: config.handler().unwrap_or_default().to_owned(),
        architecture: config
            .architectures()
            .first()
            .map_or("x86_64", |a| a.as_str())
            .to_owned(),
        memory_mb: config.memory_size().unwrap_or(128),
        timeout_seconds: config.timeout().unwrap_or(3),
        environment: config
            .environment()
            .and_then(|e| e.variables())
            .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        log_group: logging
            .and_then(|l| l.log_group())
            .map_or_else(|| format!("/aws/lambda/{name}"), str::to_owned),
        log_format: logging
            .and_then(|l| l.log_format())
            .map_or("Text", |f| f.as_str())
            .to_owned(),
        code_sha256: config.code_sha256().unwrap_or_default().to_owned(),
        package: Default::default(),
        on_failure_destination,
        max_retry_attempts,
        tags: tags.clone(),
    };
    let status = config.state().map(|s| s.as_str().to_owned());
    Ok(Some(
        Observed::of(spec, config.function_arn().map(str::to_owned)).with_status(status),
    ))
}

fn read_zip(spec: &FunctionSpec) -> Result<Blob> {
    let bytes = spec.package.bytes().with_context(|| {
        format!(
            "the package of function {}: build it first (cargo xtask dist)",
            spec.name
        )
    })?;
    Ok(Blob::new(bytes.into_owned()))
}

fn environment(spec: &FunctionSpec) -> Environment {
    Environment::builder()
        .set_variables(Some(spec.environment.clone().into_iter().collect()))
        .build()
}

fn logging_config(spec: &FunctionSpec) -> LoggingConfig {
    LoggingConfig::builder()
        .log_format(LogFormat::from(spec.log_format.as_str()))
        .log_group(&spec.log_group)
        .build()
}

/// A role Lambda cannot use yet. AWS models no narrower type than InvalidParameterValueException,
/// so the message tells propagation apart from a real misconfiguration.
fn is_propagation<E: ProvideErrorMetadata>(err: &E) -> bool {
    [
        "cannot be assumed by Lambda",
        "execution role does not have permissions",
    ]
    .iter()
    .any(|needle| util::has_code_and_message(err, "InvalidParameterValueException", needle))
}

pub async fn create(ctx: Ctx<'_>, spec: &FunctionSpec) -> Result<()> {
    let id = ResourceId::new(Kind::Function, &spec.name);
    let zip = read_zip(spec)?;
    let lambda = &ctx.clients.lambda;
    let created = util::until_role_usable(ctx, &id, &spec.role_arn, is_propagation, || {
        lambda
            .create_function()
            .function_name(&spec.name)
            .package_type(PackageType::Zip)
            .code(FunctionCode::builder().zip_file(zip.clone()).build())
            .runtime(Runtime::from(spec.runtime.as_str()))
            .handler(&spec.handler)
            .role(&spec.role_arn)
            .architectures(Architecture::from(spec.architecture.as_str()))
            .memory_size(spec.memory_mb)
            .timeout(spec.timeout_seconds)
            .environment(environment(spec))
            .logging_config(logging_config(spec))
            .set_tags(Some(spec.tags.clone().into_iter().collect()))
            .send()
    })
    .await;
    if !created_or_adopted_in::<FunctionResource, CreateFunctionError>(ctx, spec, created).await? {
        return Ok(());
    }
    if spec.on_failure_destination.is_some() || spec.max_retry_attempts.is_some() {
        wait_until_ready(ctx, &id).await?;
        put_invoke_config(ctx, spec).await?;
    }
    Ok(())
}

async fn put_invoke_config(ctx: Ctx<'_>, spec: &FunctionSpec) -> Result<()> {
    let destination = spec.on_failure_destination.as_ref().map(|d| {
        DestinationConfig::builder()
            .on_failure(OnFailure::builder().destination(d).build())
            .build()
    });
    ctx.clients
        .lambda
        .put_function_event_invoke_config()
        .function_name(&spec.name)
        .set_destination_config(destination)
        .set_maximum_retry_attempts(spec.max_retry_attempts)
        .send()
        .await
        .context(
            "setting the asynchronous invocation settings (on-failure destination, retries)",
        )?;
    Ok(())
}

/// Waits until the function accepts another change: not `Pending`, no update `InProgress`.
async fn wait_until_ready(ctx: Ctx<'_>, id: &ResourceId) -> Result<()> {
    let started = Instant::now();
    let mut announced = false;
    loop {
        let config = ctx
            .clients
            .lambda
            .get_function_configuration()
            .function_name(&id.name)
            .send()
            .await?;
        let busy = config.state() == Some(&State::Pending)
            || config.last_update_status() == Some(&LastUpdateStatus::InProgress);
        if !busy {
            return Ok(());
        }
        if started.elapsed() > READY_BUDGET {
            bail!(
                "{id} is still busy with a previous change after {READY_BUDGET:?}; wait until it settles, then run again"
            );
        }
        if !announced {
            ctx.progress
                .resource_detail(id, "waiting", "for the previous change to finish");
            announced = true;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

fn config_differs(desired: &FunctionSpec, observed: &FunctionSpec) -> bool {
    desired.role_arn != observed.role_arn
        || desired.runtime != observed.runtime
        || desired.handler != observed.handler
        || desired.memory_mb != observed.memory_mb
        || desired.timeout_seconds != observed.timeout_seconds
        || desired.environment != observed.environment
        || desired.log_group != observed.log_group
        || desired.log_format != observed.log_format
}

pub async fn update(ctx: Ctx<'_>, desired: &FunctionSpec, observed: &FunctionSpec) -> Result<()> {
    let id = ResourceId::new(Kind::Function, &desired.name);
    let lambda = &ctx.clients.lambda;
    if desired.code_sha256 != observed.code_sha256 || desired.architecture != observed.architecture
    {
        let zip = read_zip(desired)?;
        wait_until_ready(ctx, &id).await?;
        lambda
            .update_function_code()
            .function_name(&desired.name)
            .zip_file(zip)
            .architectures(Architecture::from(desired.architecture.as_str()))
            .send()
            .await
            .context("uploading the new code")?;
    }
    if config_differs(desired, observed) {
        wait_until_ready(ctx, &id).await?;
        util::until_role_usable(ctx, &id, &desired.role_arn, is_propagation, || {
            lambda
                .update_function_configuration()
                .function_name(&desired.name)
                .role(&desired.role_arn)
                .runtime(Runtime::from(desired.runtime.as_str()))
                .handler(&desired.handler)
                .memory_size(desired.memory_mb)
                .timeout(desired.timeout_seconds)
                .environment(environment(desired))
                .logging_config(logging_config(desired))
                .send()
        })
        .await?;
    }
    if desired.on_failure_destination != observed.on_failure_destination
        || desired.max_retry_attempts != observed.max_retry_attempts
    {
        wait_until_ready(ctx, &id).await?;
        if desired.on_failure_destination.is_none() && desired.max_retry_attempts.is_none() {
            let removed = lambda
                .delete_function_event_invoke_config()
                .function_name(&desired.name)
                .send()
                .await;
            gone_is_done(removed).context("removing the asynchronous invocation settings")?;
        } else {
            put_invoke_config(ctx, desired).await?;
        }
    }
    let arn = ctx
        .target
        .arn("lambda", &format!("function:{}", desired.name));
    retag_with!(lambda, resource(&arn), &desired.tags, &observed.tags).await
}

pub async fn delete(ctx: Ctx<'_>, name: &str) -> Result<()> {
    let deleted = ctx
        .clients
        .lambda
        .delete_function()
        .function_name(name)
        .send()
        .await;
    gone_is_done(deleted)
}

fn split_permission_name(name: &str) -> Result<(&str, &str)> {
    name.split_once('/')
        .filter(|(f, s)| !f.is_empty() && !s.is_empty())
        .with_context(|| format!("a permission is named FUNCTION/STATEMENT_ID, got {name:?}"))
}

/// Looks a key up ignoring case: policies spell condition keys `AWS:SourceArn` or `aws:SourceArn`.
fn get_ignoring_case<'v>(object: &'v Value, key: &str) -> Option<&'v Value> {
    object
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

fn condition_value(statement: &Value, operator: &str, key: &str) -> String {
    get_ignoring_case(statement, "Condition")
        .and_then(|c| get_ignoring_case(c, operator))
        .and_then(|o| get_ignoring_case(o, key))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The statement `statement_id` of a function's resource policy, read back as a spec.
pub fn permission_from_policy(
    policy: &Value,
    function_name: &str,
    statement_id: &str,
) -> Option<PermissionSpec> {
    let statements = policy.get("Statement")?;
    let statements: Vec<&Value> = match statements {
        Value::Array(items) => items.iter().collect(),
        single => vec![single],
    };
    let statement = statements
        .into_iter()
        .find(|s| s.get("Sid").and_then(Value::as_str) == Some(statement_id))?;
    let principal = match statement.get("Principal") {
        Some(Value::String(p)) => p.clone(),
        Some(p) => p
            .get("Service")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        None => String::new(),
    };
    Some(PermissionSpec {
        function_name: function_name.to_owned(),
        statement_id: statement_id.to_owned(),
        principal,
        source_arn: condition_value(statement, "ArnLike", "AWS:SourceArn"),
        source_account: condition_value(statement, "StringEquals", "AWS:SourceAccount"),
    })
}

/// The statement steps under the names [`super::resource!`] implements the contract with.
mod permission {
    pub use super::{
        create_permission as create, delete_permission as delete, observe_permission as observe,
        permission_grants as deployer_grants, update_permission as update,
    };
    use crate::model::PermissionSpec;

    super::super::resource!(
        untaggable
        /// A statement in a function's resource policy: untaggable, so it is ours only while its
        /// function is (the engine decides that from the function's tags).
        PermissionResource: Permission(PermissionSpec), depends on [Function]
    );
}
pub use permission::PermissionResource;

/// `name` is `FUNCTION/STATEMENT_ID`.
pub async fn observe_permission(ctx: Ctx<'_>, name: &str) -> Result<Option<Observed>> {
    let (function, statement_id) = split_permission_name(name)?;
    let lambda = &ctx.clients.lambda;
    // A statement cannot be tagged: it carries its function's tags, so it is ours exactly when
    // the function is (a same-name function someone else owns keeps its statements). Both reads
    // name the function only: one round.
    let function_arn = ctx.target.arn("lambda", &format!("function:{function}"));
    let (answer, listed) = futures::join!(
        lambda.get_policy().function_name(function).send(),
        lambda.list_tags().resource(&function_arn).send(),
    );
    let Some(policy) = absent_as_none(answer)? else {
        return Ok(None);
    };
    let Some(text) = policy.policy() else {
        return Ok(None);
    };
    let document: Value =
        serde_json::from_str(text).context("the function's resource policy is not valid JSON")?;
    let Some(spec) = permission_from_policy(&document, function, statement_id) else {
        return Ok(None);
    };
    let listed = listed
        .context("reading the function's tags (a permission is ours only if its function is)")?;
    let tags = map_tags(listed.tags());
    Ok(Some(Observed {
        tags,
        ..Observed::of(spec, None)
    }))
}

pub async fn create_permission(ctx: Ctx<'_>, spec: &PermissionSpec) -> Result<()> {
    match add_permission(ctx, spec).await {
        Ok(()) => Ok(()),
        Err(err) if errors::already_exists(&err) => {
            // The statement id is taken (a crash after AddPermission, or an edited statement): replace it.
            remove_permission(ctx, &spec.function_name, &spec.statement_id).await?;
            add_permission(ctx, spec)
                .await
                .context("adding the permission after removing the old statement")
        }
        Err(err) => Err(anyhow::Error::new(err).context("AddPermission failed")),
    }
}

async fn add_permission(
    ctx: Ctx<'_>,
    spec: &PermissionSpec,
) -> Result<(), SdkError<AddPermissionError>> {
    let mut request = ctx
        .clients
        .lambda
        .add_permission()
        .function_name(&spec.function_name)
        .statement_id(&spec.statement_id)
        .action("lambda:InvokeFunction")
        .principal(&spec.principal);
    if !spec.source_arn.is_empty() {
        request = request.source_arn(&spec.source_arn);
    }
    if !spec.source_account.is_empty() {
        request = request.source_account(&spec.source_account);
    }
    request.send().await.map(drop)
}

async fn remove_permission(ctx: Ctx<'_>, function: &str, statement_id: &str) -> Result<()> {
    let removed = ctx
        .clients
        .lambda
        .remove_permission()
        .function_name(function)
        .statement_id(statement_id)
        .send()
        .await;
    gone_is_done(removed)
        .with_context(|| format!("removing statement {statement_id} from {function}"))
}

pub async fn update_permission(
    ctx: Ctx<'_>,
    desired: &PermissionSpec,
    observed: &PermissionSpec,
) -> Result<()> {
    if desired == observed {
        return Ok(());
    }
    // A statement cannot be edited in place: replace it.
    remove_permission(ctx, &observed.function_name, &observed.statement_id).await?;
    add_permission(ctx, desired)
        .await
        .context("adding the changed permission")
}

pub async fn delete_permission(ctx: Ctx<'_>, name: &str) -> Result<()> {
    let (function, statement_id) = split_permission_name(name)?;
    remove_permission(ctx, function, statement_id).await
}

/// The environment's function ARNs, which both the functions and their permissions are granted on.
fn function_arns(scope: &Scope<'_>) -> Vec<String> {
    let n = scope.env.names();
    [n.deploy_handler(), n.event_notifier()]
        .iter()
        .map(|f| scope.target.arn("lambda", &format!("function:{f}")))
        .collect()
}

/// What the deployer needs for the environment's functions.
pub fn deployer_grants(scope: &Scope<'_>) -> Vec<Value> {
    vec![statement(
        "Functions",
        &[
            "lambda:CreateFunction",
            "lambda:DeleteFunction",
            "lambda:GetFunction",
            "lambda:GetFunctionConfiguration",
            "lambda:GetFunctionEventInvokeConfig",
            "lambda:PutFunctionEventInvokeConfig",
            "lambda:TagResource",
            "lambda:UntagResource",
            "lambda:UpdateFunctionCode",
            "lambda:UpdateFunctionConfiguration",
        ],
        function_arns(scope),
    )]
}

/// What the deployer needs for the statements in those functions' resource policies (one
/// statement with the functions' own grants: the same resources).
pub fn permission_grants(scope: &Scope<'_>) -> Vec<Value> {
    vec![statement(
        "Functions",
        &[
            "lambda:AddPermission",
            "lambda:GetPolicy",
            "lambda:ListTags",
            "lambda:RemovePermission",
        ],
        function_arns(scope),
    )]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn permission_is_read_from_the_statement_with_its_sid() {
        let policy = json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "other", "Principal": {"Service": "sns.amazonaws.com"}},
            {"Sid": "events", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
             "Action": "lambda:InvokeFunction",
             "Condition": {"ArnLike": {"AWS:SourceArn": "arn:aws:events:us-east-1:1:rule/r"},
                           "StringEquals": {"aws:SourceAccount": "1"}}}
        ]});
        let spec = permission_from_policy(&policy, "fn", "events").expect("found");
        assert_eq!(spec.principal, "events.amazonaws.com");
        assert_eq!(spec.source_arn, "arn:aws:events:us-east-1:1:rule/r");
        assert_eq!(spec.source_account, "1");
        assert_eq!(permission_from_policy(&policy, "fn", "missing"), None);
    }

    #[test]
    fn permission_name_needs_both_parts() {
        assert_eq!(
            split_permission_name("fn/sid").expect("valid"),
            ("fn", "sid")
        );
        assert!(split_permission_name("fn").is_err());
        assert!(split_permission_name("/sid").is_err());
    }
}
