//! The pure heart of the reconciler: `plan(desired, observed)` decides, per resource, whether
//! to create, update (and which fields), leave alone, delete, or refuse. No IO happens here.

use crate::model::{Desired, Observed, ResourceId, Spec, Tags};
use pipeline_common::tags;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    Create,
    /// The fields whose desired and observed values differ (drift included), and each one's
    /// value as observed and as desired (Terraform's `old -> new`).
    Update {
        fields: Vec<String>,
        values: Vec<FieldChange>,
    },
    Unchanged,
    /// Ours, but no longer desired (e.g. the webhook after switching to a connection).
    Delete,
    /// Carries our name but not our tags: never touched.
    Conflict {
        reason: String,
    },
}

/// One top-level field of a spec that differs: what AWS has, what the configuration wants.
/// Specs hold no secrets (ARCHITECTURE.md), so both values may be shown.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FieldChange {
    pub field: String,
    pub old: serde_json::Value,
    pub new: serde_json::Value,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Change {
    pub id: ResourceId,
    #[serde(flatten)]
    pub action: Action,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Plan {
    pub changes: Vec<Change>,
}

impl Plan {
    pub fn has_changes(&self) -> bool {
        self.changes
            .iter()
            .any(|c| !matches!(c.action, Action::Unchanged))
    }

    pub fn conflicts(&self) -> Vec<&Change> {
        self.changes
            .iter()
            .filter(|c| matches!(c.action, Action::Conflict { .. }))
            .collect()
    }

    pub fn action(&self, id: &ResourceId) -> Option<&Action> {
        self.changes.iter().find(|c| &c.id == id).map(|c| &c.action)
    }

    /// Counts per action, for the summary line.
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        let mut counts = BTreeMap::new();
        for change in &self.changes {
            let key = match change.action {
                Action::Create => "create",
                Action::Update { .. } => "update",
                Action::Unchanged => "unchanged",
                Action::Delete => "delete",
                Action::Conflict { .. } => "conflict",
            };
            *counts.entry(key).or_default() += 1;
        }
        counts
    }
}

/// Is a resource with these tags ours, for this environment?
pub fn owned(observed_tags: &Tags, env: &str) -> bool {
    observed_tags.get(tags::MANAGED_BY).map(String::as_str) == Some(tags::MANAGED_BY_VALUE)
        && observed_tags.get(tags::ENVIRONMENT).map(String::as_str) == Some(env)
}

/// May we change or delete this resource? Ours by tags. An untaggable child (a Lambda
/// permission) is observed with its parent's tags, so it is ours exactly when its parent is; a
/// crash leftover of a create that could not tag is ours.
pub fn is_ours(observed: &Observed, env: &str) -> bool {
    owned(&observed.tags, env) || observed.crash_leftover
}

/// Why a resource that is not ours is left alone: the plan's conflict, and a create's refusal to
/// adopt what it found under the name.
pub fn not_ours_reason(id: &ResourceId, env: &str) -> String {
    format!(
        "{id} exists but is not managed by this tool for environment `{env}` (it lacks the tags \
         {}={} and {}={env}); rename or delete it yourself, or pick another --env",
        tags::MANAGED_BY,
        tags::MANAGED_BY_VALUE,
        tags::ENVIRONMENT
    )
}

fn ownership_conflict(id: &ResourceId, observed: &Observed, env: &str) -> Option<Action> {
    if is_ours(observed, env) {
        return None;
    }
    Some(Action::Conflict {
        reason: not_ours_reason(id, env),
    })
}

/// Top-level spec fields whose values differ, in the spec's field order, with both values.
pub fn differences(desired: &Spec, observed: &Spec) -> Vec<FieldChange> {
    let (Ok(serde_json::Value::Object(d)), Ok(serde_json::Value::Object(o))) = (
        serde_json::to_value(desired),
        serde_json::to_value(observed),
    ) else {
        return vec![FieldChange {
            field: "type".to_owned(),
            old: serde_json::Value::Null,
            new: serde_json::Value::Null,
        }];
    };
    d.iter()
        .filter(|(key, value)| o.get(key.as_str()) != Some(value))
        .map(|(key, value)| FieldChange {
            field: key.clone(),
            old: o
                .get(key.as_str())
                .cloned()
                .unwrap_or(serde_json::Value::Null),
            new: value.clone(),
        })
        .collect()
}

/// Compares every desired resource with what was observed, and every observed resource that
/// is no longer desired (`stale`) becomes a delete when it is ours.
pub fn plan(
    desired: &[Desired],
    observed: &BTreeMap<ResourceId, Option<Observed>>,
    stale: &[ResourceId],
    env: &str,
) -> Plan {
    let mut changes = Vec::new();
    for want in desired {
        let action = match observed.get(&want.id).and_then(Option::as_ref) {
            None => Action::Create,
            Some(have) => ownership_conflict(&want.id, have, env).unwrap_or_else(|| {
                let values = differences(&want.spec, &have.spec);
                if values.is_empty() {
                    Action::Unchanged
                } else {
                    let fields = values.iter().map(|v| v.field.clone()).collect();
                    Action::Update { fields, values }
                }
            }),
        };
        changes.push(Change {
            id: want.id.clone(),
            action,
        });
    }
    for id in stale {
        if desired.iter().any(|d| &d.id == id) {
            continue;
        }
        if let Some(Some(have)) = observed.get(id) {
            let action =
                ownership_conflict(id, have, env).map_or(Action::Delete, |_| Action::Unchanged);
            if action == Action::Delete {
                changes.push(Change {
                    id: id.clone(),
                    action,
                });
            }
        }
    }
    changes.sort_by(|a, b| a.id.cmp(&b.id));
    Plan { changes }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model::{Kind, LogGroupSpec, PermissionSpec};

    fn our_tags(env: &str) -> Tags {
        Tags::from([
            (
                tags::MANAGED_BY.to_owned(),
                tags::MANAGED_BY_VALUE.to_owned(),
            ),
            (tags::ENVIRONMENT.to_owned(), env.to_owned()),
        ])
    }

    fn log_group(name: &str, retention: i32, tags: Tags) -> Spec {
        Spec::LogGroup(LogGroupSpec {
            name: name.to_owned(),
            retention_days: retention,
            tags,
        })
    }

    fn desired(name: &str, retention: i32) -> Desired {
        Desired {
            id: ResourceId::new(Kind::LogGroup, name),
            spec: log_group(name, retention, our_tags("dev")),
            depends_on: vec![],
        }
    }

    fn seen(spec: Spec, tags: Tags) -> Option<Observed> {
        Some(Observed {
            crash_leftover: false,
            spec,
            tags,
            arn: None,
            status: None,
        })
    }

    #[test]
    fn absent_is_created_equal_is_unchanged_drift_is_an_update_of_that_field() {
        let want = vec![desired("a", 30), desired("b", 30), desired("c", 30)];
        let observed = BTreeMap::from([
            (want[0].id.clone(), None),
            (
                want[1].id.clone(),
                seen(log_group("b", 30, our_tags("dev")), our_tags("dev")),
            ),
            (
                want[2].id.clone(),
                seen(log_group("c", 7, our_tags("dev")), our_tags("dev")),
            ),
        ]);
        let plan = plan(&want, &observed, &[], "dev");
        assert_eq!(plan.action(&want[0].id), Some(&Action::Create));
        assert_eq!(plan.action(&want[1].id), Some(&Action::Unchanged));
        let Some(Action::Update { fields, values }) = plan.action(&want[2].id) else {
            panic!("an update: {plan:?}");
        };
        assert_eq!(fields, &["retention_days"]);
        assert_eq!(
            (&values[0].old, &values[0].new),
            (&serde_json::json!(7), &serde_json::json!(30)),
            "old -> new"
        );
        assert!(plan.has_changes());
    }

    #[test]
    fn a_resource_without_our_tags_is_a_conflict_never_an_update() {
        let want = vec![desired("a", 30)];
        let foreign = Tags::from([("team".to_owned(), "other".to_owned())]);
        let observed = BTreeMap::from([(
            want[0].id.clone(),
            seen(log_group("a", 7, foreign.clone()), foreign),
        )]);
        let plan = plan(&want, &observed, &[], "dev");
        assert!(matches!(
            plan.action(&want[0].id),
            Some(Action::Conflict { .. })
        ));
        assert_eq!(plan.conflicts().len(), 1);
    }

    #[test]
    fn another_environments_resource_is_a_conflict() {
        let want = vec![desired("a", 30)];
        let observed = BTreeMap::from([(
            want[0].id.clone(),
            seen(log_group("a", 30, our_tags("prod")), our_tags("prod")),
        )]);
        assert!(matches!(
            plan(&want, &observed, &[], "dev").action(&want[0].id),
            Some(Action::Conflict { .. })
        ));
    }

    #[test]
    fn stale_resources_are_deleted_only_when_ours() {
        let ours = ResourceId::new(Kind::LogGroup, "old");
        let theirs = ResourceId::new(Kind::LogGroup, "foreign");
        let gone = ResourceId::new(Kind::LogGroup, "gone");
        let observed = BTreeMap::from([
            (
                ours.clone(),
                seen(log_group("old", 30, our_tags("dev")), our_tags("dev")),
            ),
            (
                theirs.clone(),
                seen(log_group("foreign", 30, Tags::new()), Tags::new()),
            ),
            (gone.clone(), None),
        ]);
        let plan = plan(
            &[],
            &observed,
            &[ours.clone(), theirs.clone(), gone.clone()],
            "dev",
        );
        assert_eq!(plan.action(&ours), Some(&Action::Delete));
        assert_eq!(plan.action(&theirs), None);
        assert_eq!(plan.action(&gone), None);
    }

    #[test]
    fn an_untagged_crash_leftover_is_adopted_and_retagged() {
        let want = vec![desired("a", 30)];
        let leftover = Observed {
            spec: log_group("a", 30, Tags::new()),
            tags: Tags::new(),
            arn: None,
            status: None,
            crash_leftover: true,
        };
        let observed = BTreeMap::from([(want[0].id.clone(), Some(leftover))]);
        assert!(matches!(
            plan(&want, &observed, &[], "dev").action(&want[0].id),
            Some(Action::Update { fields, .. }) if fields == &["tags"]
        ));
    }

    #[test]
    fn an_untaggable_child_is_ours_only_when_its_parent_is() {
        let spec = Spec::Permission(PermissionSpec {
            function_name: "f".into(),
            statement_id: "s".into(),
            principal: "events.amazonaws.com".into(),
            source_arn: "arn".into(),
            source_account: "1".into(),
        });
        let id = ResourceId::new(Kind::Permission, "f/s");
        let want = vec![Desired {
            id: id.clone(),
            spec: spec.clone(),
            depends_on: vec![],
        }];
        // Observed with its function's tags: ours.
        let ours = BTreeMap::from([(id.clone(), seen(spec.clone(), our_tags("dev")))]);
        assert_eq!(
            plan(&want, &ours, &[], "dev").action(&id),
            Some(&Action::Unchanged)
        );
        // A same-name function someone else owns: its statement is not ours either.
        let foreign = BTreeMap::from([(id.clone(), seen(spec, Tags::new()))]);
        assert!(matches!(
            plan(&want, &foreign, &[], "dev").action(&id),
            Some(Action::Conflict { .. })
        ));
    }
}
