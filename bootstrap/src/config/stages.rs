//! The road to production: deploy stages in order, each with its own target, an optional manual
//! approval before it, and a bake (alarms watched for some minutes after it deploys).

use anyhow::{Result, bail};
use pipeline_common::{DeployTarget, EnvName, TrafficShift};
use serde::Deserialize;

/// One `[[stage]]` table of bootstrap.toml.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct StageTable {
    pub name: String,
    pub target: String,
    #[serde(default)]
    pub approve: bool,
    #[serde(default)]
    pub bake_minutes: Option<u32>,
    #[serde(default)]
    pub alarms: Vec<String>,
    /// How a Lambda alias stage moves its traffic (`all-at-once`, `canaryP-Mm`, `linearP-Mm`).
    #[serde(default)]
    pub traffic_shift: Option<String>,
}

/// One validated deploy stage.
#[derive(Clone, Debug, PartialEq)]
pub struct StageConfig {
    pub name: String,
    pub target: DeployTarget,
    /// A manual approval runs before the stage.
    pub approve: bool,
    /// Minutes the stage's alarms are watched after it deployed (0: none).
    pub bake_minutes: u32,
    /// CloudWatch alarms whose ALARM state during the bake rolls the stage back.
    pub alarms: Vec<String>,
    /// The traffic shift of a Lambda alias stage (UserParameters `trafficShift`), as given;
    /// validated with the deploy-handler's own grammar ([`TrafficShift::parse`]).
    pub traffic_shift: Option<String>,
}

impl StageConfig {
    /// The stage's traffic shift, parsed (validated when the stage was).
    pub fn shift(&self) -> Option<TrafficShift> {
        self.traffic_shift
            .as_deref()
            .and_then(|raw| TrafficShift::parse(raw).ok())
    }
}

/// The bake when alarms are named without `--bake-minutes`.
pub const DEFAULT_BAKE_MINUTES: u32 = 10;
/// The longest bake accepted: the CloudWatchAlarm rule's WaitTime has no documented maximum
/// (CodePipeline User Guide, "CloudWatchAlarm" rule reference), so the bound is the project's,
/// a day, as CodePipeline's own action limits are.
pub const MAX_BAKE_MINUTES: u32 = 1440;
/// The stage that holds the manual approval before `stage`.
pub const APPROVAL_STAGE_PREFIX: &str = "Approve-";
/// The one action of an approval stage.
pub const APPROVAL_ACTION: &str = "Approval";

/// The stage holding the manual approval before stage `name`.
pub fn approval_stage(name: &str) -> String {
    format!("{APPROVAL_STAGE_PREFIX}{name}")
}

/// The flags' form: `--stage NAME=TARGET` (in order), `--approve-before NAME`,
/// `--bake-minutes NAME=MIN`, `--alarm NAME=ALARM`, `--traffic-shift NAME=SHIFT`.
#[derive(Clone, Debug, Default)]
pub struct StageFlags {
    pub stages: Vec<String>,
    pub approve_before: Vec<String>,
    pub bake_minutes: Vec<String>,
    pub alarms: Vec<String>,
    pub traffic_shifts: Vec<String>,
}

impl StageFlags {
    pub fn is_empty(&self) -> bool {
        self.stages.is_empty()
            && self.approve_before.is_empty()
            && self.bake_minutes.is_empty()
            && self.alarms.is_empty()
            && self.traffic_shifts.is_empty()
    }
}

/// Stages from the flags (when `--stage` is given) or the file's `[[stage]]` tables; the flags'
/// approvals, bakes and alarms apply to either. Every problem is named with its fix.
pub fn resolve(flags: &StageFlags, file: &[StageTable]) -> Result<Vec<StageConfig>> {
    let mut tables: Vec<StageTable> = if flags.stages.is_empty() {
        file.to_vec()
    } else {
        flags
            .stages
            .iter()
            .map(|raw| {
                let Some((name, target)) = raw.split_once('=') else {
                    bail!("--stage `{raw}`: write NAME=TARGET, e.g. --stage staging=ecs:stg/web");
                };
                Ok(StageTable {
                    name: name.trim().to_owned(),
                    target: target.trim().to_owned(),
                    ..StageTable::default()
                })
            })
            .collect::<Result<_>>()?
    };
    if tables.is_empty() {
        if !flags.is_empty() {
            bail!(
                "--approve-before, --bake-minutes, --alarm and --traffic-shift name a stage, but no stage is given: add --stage NAME=TARGET for each (or [[stage]] in bootstrap.toml)"
            );
        }
        return Ok(Vec::new());
    }
    apply_modifiers(flags, &mut tables)?;
    let stages = tables
        .iter()
        .map(stage)
        .collect::<Result<Vec<StageConfig>>>()?;
    for (i, s) in stages.iter().enumerate() {
        if let Some(other) = stages[..i]
            .iter()
            .find(|o| o.name.eq_ignore_ascii_case(&s.name))
        {
            bail!(
                "stage `{}` is given twice (as `{}` too): stage names must differ, in any case",
                s.name,
                other.name
            );
        }
    }
    Ok(stages)
}

fn find<'a>(tables: &'a mut [StageTable], flag: &str, name: &str) -> Result<&'a mut StageTable> {
    let known: Vec<String> = tables.iter().map(|t| t.name.clone()).collect();
    tables.iter_mut().find(|t| t.name == name).ok_or_else(|| {
        anyhow::anyhow!("{flag} names stage `{name}`, which is not one of {known:?}")
    })
}

fn apply_modifiers(flags: &StageFlags, tables: &mut [StageTable]) -> Result<()> {
    for name in &flags.approve_before {
        find(tables, "--approve-before", name.trim())?.approve = true;
    }
    for raw in &flags.bake_minutes {
        let Some((name, minutes)) = raw.split_once('=') else {
            bail!("--bake-minutes `{raw}`: write NAME=MINUTES, e.g. --bake-minutes prod=15");
        };
        let minutes: u32 = minutes.trim().parse().map_err(|_| {
            anyhow::anyhow!("--bake-minutes `{raw}`: MINUTES must be a whole number, e.g. 15")
        })?;
        find(tables, "--bake-minutes", name.trim())?.bake_minutes = Some(minutes);
    }
    for raw in &flags.alarms {
        let Some((name, alarm)) = raw.split_once('=') else {
            bail!("--alarm `{raw}`: write NAME=ALARM, e.g. --alarm prod=web-5xx");
        };
        find(tables, "--alarm", name.trim())?
            .alarms
            .push(alarm.trim().to_owned());
    }
    for raw in &flags.traffic_shifts {
        let Some((name, shift)) = raw.split_once('=') else {
            bail!(
                "--traffic-shift `{raw}`: write NAME=SHIFT, e.g. --traffic-shift prod=canary10-5m"
            );
        };
        find(tables, "--traffic-shift", name.trim())?.traffic_shift = Some(shift.trim().to_owned());
    }
    Ok(())
}

/// A stage's traffic shift: the handler's grammar, for a Lambda alias target only.
fn traffic_shift(name: &str, target: &DeployTarget, raw: &str) -> Result<()> {
    TrafficShift::parse(raw)
        .map_err(|problem| anyhow::anyhow!("stage `{name}`: --traffic-shift {problem}"))?;
    match target {
        DeployTarget::Ecs { .. } => bail!(
            "stage `{name}`: --traffic-shift moves a Lambda alias's traffic; an ECS service shifts \
             its own through its deployment configuration (rolling update with the deployment \
             circuit breaker, or blue/green): drop --traffic-shift {name}=... and configure the \
             service instead"
        ),
        DeployTarget::Lambda { alias: None, .. } => bail!(
            "stage `{name}`: --traffic-shift moves an alias's traffic between versions, and the \
             target names no alias: give the stage lambda:FUNCTION:ALIAS"
        ),
        DeployTarget::Lambda { .. } => Ok(()),
    }
}

fn stage(table: &StageTable) -> Result<StageConfig> {
    let name = &table.name;
    stage_name(name)?;
    let target = DeployTarget::parse(&table.target)
        .map_err(|problem| anyhow::anyhow!("stage `{name}`: target: {problem}"))?;
    for alarm in &table.alarms {
        alarm_name(name, alarm)?;
    }
    if let Some(shift) = &table.traffic_shift {
        traffic_shift(name, &target, shift)?;
    }
    let bake_minutes = match (table.bake_minutes, table.alarms.is_empty()) {
        (Some(0), false) => bail!(
            "stage `{name}`: alarms are watched during the bake, which is 0 minutes: give --bake-minutes {name}=N with N ≥ 1, or no alarm"
        ),
        (Some(m), true) if m > 0 => bail!(
            "stage `{name}`: a bake of {m} minutes watches the stage's alarms, and it has none: add --alarm {name}=ALARM"
        ),
        (Some(m), _) => m,
        (None, false) => DEFAULT_BAKE_MINUTES,
        (None, true) => 0,
    };
    if bake_minutes > MAX_BAKE_MINUTES {
        bail!("stage `{name}`: bake of {bake_minutes} minutes; the longest is {MAX_BAKE_MINUTES}");
    }
    Ok(StageConfig {
        name: name.clone(),
        target,
        approve: table.approve,
        bake_minutes,
        alarms: table.alarms.clone(),
        traffic_shift: table.traffic_shift.clone(),
    })
}

/// The longest `UserParameters` CodePipeline takes (API Reference, ActionDeclaration:
/// configuration values are 1-1000 characters).
pub const MAX_USER_PARAMETERS: usize = 1000;

/// A stage's deploy action `UserParameters`: its target and, when it shifts traffic, the shift
/// (`trafficShift`) and the alarms the deploy-handler reads between steps (`alarms`), in the
/// handler's keys (functions/deploy-handler/README.md). A stage without a shift has neither.
pub fn user_parameters(env: &EnvName, rollout_timeout_minutes: i32, stage: &StageConfig) -> String {
    let mut parameters = serde_json::json!({
        "environment": env.as_str(),
        "service": env.names().ecr_repository(),
        "timeoutSeconds": i64::from(rollout_timeout_minutes) * 60,
        "stage": stage.name,
        "target": stage.target.spec(),
    });
    if let Some(shift) = &stage.traffic_shift {
        parameters["trafficShift"] = serde_json::json!(shift);
        if !stage.alarms.is_empty() {
            parameters["alarms"] = serde_json::json!(stage.alarms);
        }
    }
    parameters.to_string()
}

/// Every stage's `UserParameters` fits CodePipeline's limit; a shifted stage's alarms are what
/// can make it long.
pub fn check_user_parameters(
    env: &EnvName,
    rollout_timeout_minutes: i32,
    stages: &[StageConfig],
) -> Result<()> {
    for stage in stages {
        let length = user_parameters(env, rollout_timeout_minutes, stage).len();
        if length > MAX_USER_PARAMETERS {
            bail!(
                "stage `{}`: its action's UserParameters (target, traffic shift and the alarms the \
                 shift reads) would be {length} characters; CodePipeline takes at most \
                 {MAX_USER_PARAMETERS}: name fewer or shorter alarms for it",
                stage.name
            );
        }
    }
    Ok(())
}

/// A stage name as CodePipeline takes it (API Reference, StageDeclaration: 1–100 of
/// `[A-Za-z0-9.@\-_]+`), narrowed so that its action namespace `Deploy-NAME` (ActionDeclaration
/// namespace: 1–100 of `[A-Za-z0-9@\-_]+`, no dot) and its approval stage `Approve-NAME` fit too.
pub fn stage_name(name: &str) -> Result<()> {
    let fix = "use 1–92 letters, digits, @, - and _ (e.g. staging, prod)";
    if name.is_empty() || name.len() > 92 {
        bail!("stage name `{name}` is {} characters: {fix}", name.len());
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '@' | '-' | '_')))
    {
        bail!("stage name `{name}` contains `{bad}`: {fix}");
    }
    if ["source", "build"].contains(&name.to_ascii_lowercase().as_str()) {
        bail!("stage name `{name}` is taken by the pipeline's own Source and Build stages: {fix}");
    }
    if name
        .to_ascii_lowercase()
        .starts_with(&APPROVAL_STAGE_PREFIX.to_ascii_lowercase())
    {
        bail!(
            "stage name `{name}` starts with `{APPROVAL_STAGE_PREFIX}`, the prefix of approval stages: use --approve-before {name} for an approval"
        );
    }
    Ok(())
}

/// A CloudWatch alarm name (API Reference, PutMetricAlarm: AlarmName 1–255 characters; ASCII
/// only, as the console's rule says, since CodePipeline's rule configuration carries it).
fn alarm_name(stage: &str, alarm: &str) -> Result<()> {
    if alarm.is_empty()
        || alarm.len() > 255
        || !alarm.chars().all(|c| c.is_ascii_graphic() || c == ' ')
    {
        bail!(
            "stage `{stage}`: alarm name `{alarm}` is not a CloudWatch alarm name: 1–255 printable ASCII characters"
        );
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn flags(stages: &[&str]) -> StageFlags {
        StageFlags {
            stages: stages.iter().map(|s| (*s).to_owned()).collect(),
            ..StageFlags::default()
        }
    }

    #[test]
    fn flags_give_stages_in_order_with_approval_bake_and_alarms() {
        let mut given = flags(&["staging=ecs:stg/web", "prod=ecs:prod/web"]);
        given.approve_before = vec!["prod".into()];
        given.alarms = vec!["prod=web-5xx".into()];
        let stages = resolve(&given, &[]).unwrap();
        assert_eq!(
            stages
                .iter()
                .map(|s| (s.name.as_str(), s.approve, s.bake_minutes, s.alarms.len()))
                .collect::<Vec<_>>(),
            [
                ("staging", false, 0, 0),
                ("prod", true, DEFAULT_BAKE_MINUTES, 1)
            ]
        );
    }

    #[test]
    fn the_file_tables_are_used_when_no_stage_flag_is_given() {
        let file = [StageTable {
            name: "prod".into(),
            target: "lambda:api:live".into(),
            approve: true,
            bake_minutes: Some(5),
            alarms: vec!["api-errors".into()],
            traffic_shift: Some("linear25-2m".into()),
        }];
        let stages = resolve(&StageFlags::default(), &file).unwrap();
        assert_eq!(stages[0].bake_minutes, 5);
        assert!(stages[0].approve);
        assert_eq!(
            stages[0].shift(),
            Some(TrafficShift::Linear {
                percent: 25,
                minutes: 2
            })
        );
    }

    #[test]
    fn a_traffic_shift_is_for_a_lambda_alias_stage_in_the_handlers_grammar() {
        let shifted = |target: &str, shift: &str| {
            resolve(
                &StageFlags {
                    traffic_shifts: vec![format!("prod={shift}")],
                    ..flags(&[&format!("prod={target}")])
                },
                &[],
            )
        };
        let ok = shifted("lambda:api:live", "canary10-5m").unwrap();
        assert_eq!(ok[0].traffic_shift.as_deref(), Some("canary10-5m"));
        assert_eq!(ok[0].alarms, Vec::<String>::new(), "allowed without alarms");
        for (target, shift, expected) in [
            ("ecs:c/s", "canary10-5m", "deployment configuration"),
            ("lambda:api", "canary10-5m", "names no alias"),
            ("lambda:api:live", "canary10-5", "is not a traffic shift"),
            ("lambda:api:live", "linear0-1m", "is not a traffic shift"),
        ] {
            let err = shifted(target, shift).unwrap_err().to_string();
            assert!(err.contains(expected), "{target} {shift}: {err}");
        }
        let err = resolve(
            &StageFlags {
                traffic_shifts: vec!["prod".into()],
                ..flags(&["prod=lambda:api:live"])
            },
            &[],
        )
        .unwrap_err();
        assert!(err.to_string().contains("NAME=SHIFT"), "{err}");
    }

    #[test]
    fn bad_stages_are_refused_with_the_fix() {
        for (given, expected) in [
            (flags(&["staging"]), "write NAME=TARGET"),
            (flags(&["Build=ecs:c/s"]), "taken by the pipeline's own"),
            (flags(&["Approve-x=ecs:c/s"]), "--approve-before"),
            (flags(&["a.b=ecs:c/s"]), "contains `.`"),
            (flags(&["a=ecs:c/s", "A=ecs:c/t"]), "given twice"),
            (flags(&["a=s3:bucket"]), "target"),
            (
                StageFlags {
                    approve_before: vec!["prod".into()],
                    ..StageFlags::default()
                },
                "no stage is given",
            ),
            (
                StageFlags {
                    approve_before: vec!["prod".into()],
                    ..flags(&["staging=ecs:c/s"])
                },
                "not one of",
            ),
            (
                StageFlags {
                    bake_minutes: vec!["staging=15".into()],
                    ..flags(&["staging=ecs:c/s"])
                },
                "has none",
            ),
            (
                StageFlags {
                    bake_minutes: vec!["staging=2000".into()],
                    alarms: vec!["staging=a".into()],
                    ..flags(&["staging=ecs:c/s"])
                },
                "the longest is",
            ),
        ] {
            let err = resolve(&given, &[]).unwrap_err().to_string();
            assert!(err.contains(expected), "{given:?}: {err}");
        }
    }
}
