//! A gradual shift of a Lambda alias's traffic to the new version (UserParameters
//! `trafficShift`: `canaryP-Mm` or `linearP-Mm`), the stage's alarms (UserParameters `alarms`)
//! read between steps. The alias keeps the previous version as its primary and sends the new one
//! a weight through `RoutingConfig.AdditionalVersionWeights`: "The second version, and the
//! percentage of traffic that's routed to it", a weight of 0.0-1.0 keyed by the version number
//! (Lambda API Reference, AliasRoutingConfiguration,
//! https://docs.aws.amazon.com/lambda/latest/api/API_AliasRoutingConfiguration.html);
//! each continuation of the job advances it once its wait is over, and the last step makes the
//! new version the primary with no weights. An alarm in ALARM between steps sends all traffic
//! back to the previous version and fails the job naming the alarm: the same steps CodeDeploy's
//! `Canary10Percent5Minutes` / `Linear10PercentEvery1Minute` configurations take.

use std::time::SystemTime;

use aws_smithy_types::date_time::{DateTime, Format};
use hyper::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub use pipeline_common::traffic_shift::{MAX_STEP_MINUTES, TrafficShift};

use super::api as shape;
use super::{RolloutApi, Step, call_failed};
use crate::report::FailureKind;

/// DescribeAlarms takes at most 100 `AlarmNames` (CloudWatch API Reference, DescribeAlarms,
/// https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html).
pub const MAX_ALARMS: usize = 100;
/// An alarm name's length (CloudWatch API Reference, PutMetricAlarm `AlarmName`: 1-255).
pub const MAX_ALARM_NAME_LEN: usize = 255;

/// What a job's UserParameters say of the shift: its strategy and the alarms it watches.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShiftPlan {
    pub shift: TrafficShift,
    pub alarms: Vec<String>,
}

/// A shift in progress, carried in the continuation token (the alarms and the strategy come
/// with every job's UserParameters, the same for each continuation of the action).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Shifting {
    /// The new version, receiving `weight` percent of the alias's traffic.
    pub version: String,
    pub weight: u8,
    /// When the next step is due (RFC 3339).
    pub next_at: String,
}

fn alias_path(function: &str, alias: &str) -> String {
    format!("/2015-03-31/functions/{function}/aliases/{alias}")
}

fn rfc3339(at: SystemTime) -> String {
    DateTime::from(at)
        .fmt(Format::DateTime)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

fn due(next_at: &str) -> bool {
    DateTime::from_str(next_at, Format::DateTime)
        .ok()
        .and_then(|at| SystemTime::try_from(at).ok())
        .is_none_or(|at| SystemTime::now() >= at)
}

/// Points the alias at `primary`, sending `version` `weight` percent of the traffic (none: no
/// weights, so the primary takes it all).
async fn route(
    api: &dyn RolloutApi,
    function: &str,
    alias: &str,
    primary: &str,
    weighted: Option<(&str, u8)>,
) -> Result<(), Step> {
    let weights = match weighted {
        Some((version, weight)) => json!({ version: f64::from(weight) / 100.0 }),
        None => json!({}),
    };
    let body = json!({
        "FunctionVersion": primary,
        "RoutingConfig": { "AdditionalVersionWeights": weights },
    });
    let path = alias_path(function, alias);
    match api
        .call(shape::lambda(Method::PUT, &path, Some(body)))
        .await
    {
        Ok(_) => Ok(()),
        Err(err) => Err(call_failed(
            &format!("UpdateAlias {function}:{alias} (primary {primary}, weights {weights})"),
            &err,
        )),
    }
}

/// The first step: `version` gets the first weight, the alias's primary stays `previous`.
pub async fn begin(
    api: &dyn RolloutApi,
    function: &str,
    alias: &str,
    previous: &str,
    version: &str,
    shift: TrafficShift,
) -> Result<Shifting, Step> {
    let weight = shift.first_weight().unwrap_or(100);
    route(api, function, alias, previous, Some((version, weight))).await?;
    Ok(Shifting {
        version: version.to_owned(),
        weight,
        next_at: rfc3339(SystemTime::now() + shift.wait()),
    })
}

/// What the next poll does with a shift in progress: fail on an alarm (traffic back to the
/// previous version), wait, take the next step, or finish.
#[derive(Debug)]
pub enum Advanced {
    Waiting(Shifting),
    Stepped(Shifting),
    Finished,
}

/// One poll of a shift: the alarms first, then the next step once it is due.
pub async fn advance(
    api: &dyn RolloutApi,
    target: (&str, &str, &str),
    shifting: &Shifting,
    plan: &ShiftPlan,
) -> Result<Advanced, Step> {
    let (function, alias, previous) = target;
    // Alarms that cannot be read cannot be watched: the traffic goes back before the job fails.
    let firing = match firing_alarms(api, &plan.alarms).await {
        Ok(firing) => firing,
        Err(Step::Failed { kind, message }) => {
            route(api, function, alias, previous, None).await?;
            return Err(Step::failed(
                kind,
                format!("{message}; all traffic is back on version {previous}"),
            ));
        }
        Err(step) => return Err(step),
    };
    if !firing.is_empty() {
        route(api, function, alias, previous, None).await?;
        return Err(Step::failed(
            FailureKind::JobFailed,
            format!(
                "alarm {} went into ALARM while version {} of {function} took {}% of alias {alias}'s traffic; all \
                 traffic is back on version {previous}",
                firing.join(", "),
                shifting.version,
                shifting.weight
            ),
        ));
    }
    if !due(&shifting.next_at) {
        return Ok(Advanced::Waiting(shifting.clone()));
    }
    let weight = plan.shift.next_weight(shifting.weight);
    if weight >= 100 {
        route(api, function, alias, &shifting.version, None).await?;
        return Ok(Advanced::Finished);
    }
    route(
        api,
        function,
        alias,
        previous,
        Some((&shifting.version, weight)),
    )
    .await?;
    Ok(Advanced::Stepped(Shifting {
        version: shifting.version.clone(),
        weight,
        next_at: rfc3339(SystemTime::now() + plan.shift.wait()),
    }))
}

/// The named alarms now in ALARM, with CloudWatch's reason (DescribeAlarms over AWS JSON 1.0,
/// target `GraniteServiceVersion20100801`; metric and composite alarms alike).
async fn firing_alarms(api: &dyn RolloutApi, alarms: &[String]) -> Result<Vec<String>, Step> {
    if alarms.is_empty() {
        return Ok(Vec::new());
    }
    let body = json!({
        "AlarmNames": alarms,
        "AlarmTypes": ["CompositeAlarm", "MetricAlarm"],
        "MaxRecords": MAX_ALARMS,
    });
    let answer = api
        .call(shape::cloudwatch("DescribeAlarms", body))
        .await
        .map_err(|err| call_failed("cloudwatch:DescribeAlarms", &err))?;
    let described = |key: &str| answer[key].as_array().cloned().unwrap_or_default();
    let mut all: Vec<Value> = described("MetricAlarms");
    all.extend(described("CompositeAlarms"));
    let missing: Vec<&String> = alarms
        .iter()
        .filter(|name| !all.iter().any(|a| a["AlarmName"] == name.as_str()))
        .collect();
    if !missing.is_empty() {
        return Err(Step::failed(
            FailureKind::ConfigurationError,
            format!(
                "the stage's alarms {missing:?} do not exist in CloudWatch: create them or drop them from the \
                 stage's alarms"
            ),
        ));
    }
    Ok(all
        .iter()
        .filter(|a| a["StateValue"] == "ALARM")
        .map(|a| {
            format!(
                "{} ({})",
                a["AlarmName"].as_str().unwrap_or_default(),
                a["StateReason"].as_str().unwrap_or("no reason given")
            )
        })
        .collect())
}

#[cfg(test)]
#[path = "lambda_shift_tests.rs"]
mod tests;
