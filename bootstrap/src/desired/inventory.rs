//! Every resource an environment can own, whatever its configuration.

use super::{EVENTS_PERMISSION_SID, id};
use crate::aws::Target;
use crate::model::{Kind, ResourceId};
use pipeline_common::EnvName;

/// Every resource an environment can own, whatever its configuration (both source modes):
/// what `destroy` removes and what `deploy` deletes when no longer desired.
pub fn inventory(env: &EnvName, target: &Target) -> Vec<ResourceId> {
    let n = env.names();
    let mut ids = vec![
        id(Kind::Role, n.codebuild_role()),
        id(Kind::Role, n.pipeline_role()),
        id(Kind::Role, n.deploy_handler_role()),
        id(Kind::Role, n.event_notifier_role()),
        id(Kind::LogGroup, n.codebuild_log_group()),
        id(Kind::LogGroup, n.deploy_handler_log_group()),
        id(Kind::LogGroup, n.event_notifier_log_group()),
        id(Kind::Secret, n.webhook_secret()),
        id(Kind::Connection, n.connection()),
        id(Kind::Bucket, n.artifact_bucket(&target.account_id)),
        id(Kind::Repository, n.ecr_repository()),
        id(
            Kind::PullThroughCacheRule,
            format!("{}/{}", n.ecr_repository(), n.base_image_cache()),
        ),
        id(Kind::Topic, n.notification_topic()),
        id(Kind::Function, n.deploy_handler()),
        id(Kind::Function, n.event_notifier()),
        id(Kind::ReportGroup, n.codebuild_report_group()),
        id(Kind::Project, n.codebuild_project()),
        id(Kind::Pipeline, n.pipeline()),
        id(Kind::Webhook, n.webhook()),
        id(Kind::Rule, n.events_rule()),
        id(Kind::Rule, n.failed_rule()),
        id(
            Kind::Permission,
            format!("{}/{EVENTS_PERMISSION_SID}", n.event_notifier()),
        ),
    ];
    ids.sort();
    ids
}
