//! What watches an ECS deployment besides the handler, read from the service's
//! `deploymentConfiguration` (ECS API Reference, DeploymentConfiguration): the deployment circuit
//! breaker, the deployment alarms (ECS Developer Guide, "How CloudWatch alarms detect Amazon ECS
//! deployment failures") and the bake of a blue/green, linear or canary deployment (ECS Developer
//! Guide, "Amazon ECS blue/green deployments"). Each can fail the deployment, and the first two
//! roll it back when their `rollback` is on; the rollout's summaries and failures say which.

use serde_json::Value;

/// The service's watchers, as its `deploymentConfiguration` sets them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Watch {
    /// The circuit breaker's `rollback`, when the breaker is on.
    pub breaker: Option<bool>,
    /// The deployment alarms, when `alarms.enable` is on.
    pub alarms: Vec<String>,
    pub alarms_rollback: bool,
    /// The strategy that bakes (BLUE_GREEN, LINEAR or CANARY) and its `bakeTimeInMinutes`.
    pub bake: Option<(String, u64)>,
}

impl Watch {
    pub fn of(service: &Value) -> Self {
        let config = &service["deploymentConfiguration"];
        let breaker = &config["deploymentCircuitBreaker"];
        let alarms = &config["alarms"];
        let alarm_names = if alarms["enable"] == true {
            alarms["alarmNames"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        } else {
            Vec::new()
        };
        // ECS API Reference, DeploymentConfiguration `strategy`: ROLLING (the default) replaces
        // tasks; the others shift production traffic and keep both revisions for the bake.
        let bake = match config["strategy"].as_str() {
            Some(strategy @ ("BLUE_GREEN" | "LINEAR" | "CANARY")) => Some((
                strategy.to_owned(),
                config["bakeTimeInMinutes"].as_u64().unwrap_or(0),
            )),
            _ => None,
        };
        Self {
            breaker: (breaker["enable"] == true).then(|| breaker["rollback"] == true),
            alarms_rollback: !alarm_names.is_empty() && alarms["rollback"] == true,
            alarms: alarm_names,
            bake,
        }
    }

    /// The bake, in seconds, a deployment of this service stays IN_PROGRESS for once its tasks run.
    pub fn bake_seconds(&self) -> Option<u64> {
        self.bake.as_ref().map(|(_, minutes)| minutes * 60)
    }

    /// Whether anything rolls a failed deployment back.
    pub fn rolls_back(&self) -> bool {
        self.breaker == Some(true) || self.alarms_rollback
    }

    /// "the circuit breaker (rollback on), the deployment alarms a, b (rollback off), a blue/green
    /// bake of 10 minutes", for the summaries.
    pub fn describe(&self) -> String {
        let on = |rollback: bool| {
            if rollback {
                "rollback on"
            } else {
                "rollback off"
            }
        };
        let mut watchers = Vec::new();
        if let Some(rollback) = self.breaker {
            watchers.push(format!("the circuit breaker ({})", on(rollback)));
        }
        if !self.alarms.is_empty() {
            watchers.push(format!(
                "the deployment alarms {} ({})",
                self.alarms.join(", "),
                on(self.alarms_rollback)
            ));
        }
        if let Some((strategy, minutes)) = &self.bake {
            watchers.push(format!(
                "a {} bake of {minutes} minutes",
                strategy_name(strategy)
            ));
        }
        if watchers.is_empty() {
            return "watched by ECS's circuit breaker and deployment alarms: neither is on, so ECS neither fails \
                    nor rolls back this rollout by itself"
                .to_owned();
        }
        let mut described = format!("watched by {}", watchers.join(", "));
        if !self.rolls_back() {
            described.push_str("; a failed rollout is not rolled back");
        }
        described
    }

    /// Why ECS failed a deployment, judged by its `rolloutStateReason` or the service event that
    /// says so: the deployment alarms ("(deployment ID) deployment failed: alarm detected.", as
    /// ECS posts it) or the circuit breaker.
    pub fn cause(&self, reason: &str) -> Cause {
        if reason.to_ascii_lowercase().contains("alarm") {
            Cause {
                by: if self.alarms.is_empty() {
                    "ECS failed the deployment on a deployment alarm".to_owned()
                } else {
                    format!(
                        "ECS failed the deployment on its deployment alarms ({})",
                        self.alarms.join(", ")
                    )
                },
                rollback: self.alarms_rollback,
                turn_on: "the deployment alarms' rollback (deploymentConfiguration.alarms.rollback)",
            }
        } else {
            Cause {
                by: String::new(),
                rollback: self.breaker == Some(true),
                turn_on: "the deployment circuit breaker's rollback",
            }
        }
    }
}

/// Who failed a deployment and whether it rolls it back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cause {
    /// Said before ECS's reason; empty for the circuit breaker, whose reason says so itself.
    pub by: String,
    pub rollback: bool,
    /// What to turn on so that the next failure is rolled back.
    pub turn_on: &'static str,
}

fn strategy_name(strategy: &str) -> &str {
    match strategy {
        "BLUE_GREEN" => "blue/green",
        "LINEAR" => "linear deployment's",
        "CANARY" => "canary deployment's",
        other => other,
    }
}

/// Refuses a rollout whose bake cannot end inside the rollout's bound (`timeoutSeconds`): the job
/// would fail while ECS still bakes, and the deployment would go on without the pipeline.
pub fn bake_fits(watch: &Watch, bound_seconds: u64, what: &str) -> Result<(), String> {
    let (Some(bake), Some((strategy, minutes))) = (watch.bake_seconds(), &watch.bake) else {
        return Ok(());
    };
    if bake < bound_seconds {
        return Ok(());
    }
    Err(format!(
        "{what} bakes each {strategy} deployment for {minutes} minutes ({bake} s, deploymentConfiguration \
         bakeTimeInMinutes), not less than the rollout's bound of {bound_seconds} s (UserParameters \
         timeoutSeconds, bootstrap --rollout-timeout-minutes): the job would fail while ECS still bakes. Raise \
         the bound above the bake, or shorten the bake; nothing was rolled out"
    ))
}
