//! `buildspec.yml` as CodeBuild reads it (variables, phases, artifacts, reports) and what a
//! build left behind: the `docker` and `aws` calls the tools recorded, the failing command, the
//! lines of the log worth showing, the images pushed and the variables exported.

use crate::buildspec_runner::{BuildOutcome, Buildspec, PhaseStatus};
use anyhow::{Context, Result};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// The buildspec as the runner takes it (`env.variables` and each phase's `commands`).
pub(super) fn parse_buildspec(text: &str) -> Result<Buildspec> {
    let yaml: serde_yaml::Value =
        serde_yaml::from_str(text).context("buildspec.yml is not valid YAML")?;
    let mut spec = Buildspec::default();
    if let Some(variables) = yaml["env"]["variables"].as_mapping() {
        for (name, value) in variables {
            let value = match value {
                serde_yaml::Value::String(s) => s.clone(),
                other => serde_yaml::to_string(other)?.trim().to_owned(),
            };
            spec.variables.push((
                name.as_str()
                    .context("a variable name that is not a string")?
                    .to_owned(),
                value,
            ));
        }
    }
    let phases = yaml["phases"]
        .as_mapping()
        .context("buildspec.yml has no `phases`")?;
    for (name, phase) in phases {
        let name = name.as_str().context("a phase name that is not a string")?;
        let commands = phase["commands"]
            .as_sequence()
            .with_context(|| format!("phase {name} has no `commands` list"))?
            .iter()
            .map(|c| {
                c.as_str()
                    .map(str::to_owned)
                    .context("a command that is not a string")
            })
            .collect::<Result<Vec<_>>>()?;
        spec.phases.insert(name.to_owned(), commands);
    }
    Ok(spec)
}

/// The files `buildspec.yml`'s `artifacts:` section lists.
pub(super) fn artifact_files(text: &str) -> Result<Vec<String>> {
    let yaml: serde_yaml::Value = serde_yaml::from_str(text)?;
    Ok(yaml["artifacts"]["files"]
        .as_sequence()
        .into_iter()
        .flatten()
        .filter_map(|f| f.as_str().map(str::to_owned))
        .collect())
}

/// The report groups `buildspec.yml`'s `reports:` section names.
pub(super) fn report_groups(text: &str) -> Result<Vec<String>> {
    let yaml: serde_yaml::Value = serde_yaml::from_str(text)?;
    Ok(yaml["reports"]
        .as_mapping()
        .into_iter()
        .flatten()
        .filter_map(|(name, _)| name.as_str().map(str::to_owned))
        .collect())
}

/// Every `docker` and `aws` call the build's tools recorded in `calls.jsonl`, as words.
pub(super) fn recorded_tool_calls(state: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(state.join("calls.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .map(|call| {
            let mut words = vec![call["tool"].as_str().unwrap_or_default().to_owned()];
            words.extend(
                call["args"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|a| a.as_str().map(str::to_owned)),
            );
            words
        })
        .collect::<Vec<_>>()
}

/// `(reference, digest)` of each push the real engine recorded in `pushes.jsonl`.
pub(super) fn recorded_pushes(state: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(state.join("pushes.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter_map(|push| {
            Some((
                push["ref"].as_str()?.to_owned(),
                push["digest"].as_str()?.to_owned(),
            ))
        })
        .collect()
}

/// `(phase, failing command)` of a failed build: the last tool call names the command better
/// than the multi-line script holding it; without one, the script's first real line.
pub(super) fn failure(
    outcome: &BuildOutcome,
    buildspec_text: &str,
    tool_calls: &[Vec<String>],
) -> Result<Option<(String, String)>> {
    let spec_again = parse_buildspec(buildspec_text)?;
    let last_tool_call = tool_calls.last().map(|call| call.join(" "));
    Ok(outcome.phases.iter().find_map(|phase| match &phase.status {
        PhaseStatus::Failed { command_index, .. } => {
            let script_line = spec_again
                .phases
                .get(&phase.name)
                .and_then(|c| c.get(*command_index))
                .and_then(|c| {
                    c.lines()
                        .map(str::trim)
                        .find(|l| !l.is_empty() && !l.starts_with("set "))
                })
                .unwrap_or_default()
                .to_owned();
            Some((
                phase.name.clone(),
                last_tool_call.clone().unwrap_or(script_line),
            ))
        }
        _ => None,
    }))
}

/// The log lines worth showing: test results, errors, image steps and pushes.
pub(super) fn log_tail(log: &str) -> String {
    let log_tail: Vec<&str> = log
        .lines()
        .filter(|l| {
            // The commands' own text (shown before each runs) is not output.
            let text = l.trim_start();
            !text.starts_with("echo ") && !text.starts_with("--") && !text.starts_with('#')
        })
        .filter(|l| {
            l.contains("FAIL")
                || l.contains("ERROR")
                || l.contains("Error:")
                || l.contains("STEP ")
                || l.contains("Ran ")
                || l.trim() == "OK"
                || l.contains("layer cache")
                || l.contains("JUnit")
                || l.contains("Pushed")
                || l.contains(": digest: ")
                || l.contains("nothing is pushed")
        })
        .collect();
    log_tail.join("\n")
}

/// `IMAGE_TAG` and `IMAGE_DIGEST` as the build's last phase left them.
pub(super) fn exported(outcome: &BuildOutcome) -> BTreeMap<String, String> {
    ["IMAGE_TAG", "IMAGE_DIGEST"]
        .iter()
        .filter_map(|k| {
            outcome
                .final_env
                .get(*k)
                .map(|v| ((*k).to_owned(), v.clone()))
        })
        .collect()
}
