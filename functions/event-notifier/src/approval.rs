//! Manual approvals: the action events of category Approval (CodePipeline User Guide,
//! "Monitoring CodePipeline events": `detail.type.category`) become messages people act on —
//! approval needed (with what is being promoted and what the stages before it did), approved,
//! rejected.

use std::fmt::Write;

use crate::enrich::Enrichment;
use crate::event::{Level, PipelineEvent};

/// The category of a manual approval action.
pub const APPROVAL_CATEGORY: &str = "Approval";
/// The stage an approval before stage NAME lives in is `Approve-NAME` (bootstrap's layout).
const APPROVAL_STAGE_PREFIX: &str = "Approve-";

/// Whether the event is a manual approval action's.
pub fn is_approval(event: &PipelineEvent) -> bool {
    event.level == Level::Action
        && event
            .action_type
            .as_ref()
            .and_then(|t| t.category.as_deref())
            == Some(APPROVAL_CATEGORY)
}

/// Whether an approval event notifies: it starts (someone must act), or it ends.
pub fn notifies(event: &PipelineEvent) -> bool {
    is_approval(event) && matches!(event.state.as_str(), "STARTED" | "SUCCEEDED" | "FAILED")
}

/// The stage the approval lets the image into: `prod` for `Approve-prod`, else the
/// approval's own stage.
fn promoted_to(event: &PipelineEvent) -> &str {
    let stage = event.stage.as_deref().unwrap_or("?");
    stage.strip_prefix(APPROVAL_STAGE_PREFIX).unwrap_or(stage)
}

/// The subject's headline, for approval events.
pub fn headline(event: &PipelineEvent) -> Option<String> {
    if !is_approval(event) {
        return None;
    }
    let to = promoted_to(event);
    Some(match event.state.as_str() {
        "STARTED" => format!("approval needed to deploy to {to}"),
        "SUCCEEDED" => format!("deploy to {to} approved"),
        "FAILED" => format!("deploy to {to} rejected"),
        other => format!("approval for {to} {}", other.to_ascii_lowercase()),
    })
}

/// The first sentence, for approval events.
pub fn sentence(event: &PipelineEvent) -> Option<String> {
    if !is_approval(event) {
        return None;
    }
    let (to, pipeline) = (promoted_to(event), &event.pipeline);
    let summary = event
        .execution_result
        .as_ref()
        .and_then(|r| r.summary.as_deref());
    Some(match (event.state.as_str(), summary) {
        ("STARTED", _) => format!(
            "Pipeline {pipeline} waits for someone to approve deploying to {to}: review the commit \
             and what the earlier stages did below, then approve or reject it in the console \
             (or `aws codepipeline put-approval-result`); it expires after 7 days."
        ),
        ("SUCCEEDED", Some(why)) => format!("Deploying to {to} was approved: {why}"),
        ("SUCCEEDED", None) => format!("Deploying to {to} was approved; the pipeline goes on."),
        ("FAILED", Some(why)) => {
            format!("Deploying to {to} was rejected (or expired): {why}. Nothing was deployed.")
        }
        (_, _) => format!("Deploying to {to} was rejected or expired; nothing was deployed."),
    })
}

/// Where to approve: the pipeline's view in the console, where the waiting action has its
/// Review button (CodePipeline User Guide, "Approve or reject an approval action in
/// CodePipeline", <https://docs.aws.amazon.com/codepipeline/latest/userguide/approvals-approve-or-reject.html>).
pub fn approve_url(event: &PipelineEvent) -> String {
    let pipeline_view = PipelineEvent {
        execution_id: None,
        ..event.clone()
    };
    crate::message::console_url(&pipeline_view, None)
}

/// The fields an approval-needed message adds to the machine-readable body.
pub fn body_fields(event: &PipelineEvent, enrichment: &Enrichment) -> Vec<(&'static str, String)> {
    if !is_approval(event) || event.state != "STARTED" {
        return Vec::new();
    }
    let mut fields = vec![("approveUrl", approve_url(event))];
    if let Some(digest) = &enrichment.image_digest {
        fields.push(("imageDigest", digest.clone()));
    }
    fields
}

/// The image being promoted, where to approve, and what the stages before the approval did
/// (their succeeded actions' summaries: the image each deployed), for the approval-needed message.
pub fn earlier_stages(event: &PipelineEvent, enrichment: &Enrichment, out: &mut String) {
    if !is_approval(event) || event.state != "STARTED" {
        return;
    }
    if let Some(digest) = &enrichment.image_digest {
        let _ = writeln!(out, "\nImage:       {digest}");
    }
    let _ = writeln!(out, "\nApprove or reject: {}", approve_url(event));
    if enrichment.succeeded_actions.is_empty() {
        return;
    }
    let _ = writeln!(out, "\nWhat the earlier stages did:");
    for action in &enrichment.succeeded_actions {
        let summary = action.summary.as_deref().unwrap_or("succeeded");
        let _ = writeln!(out, "  - {}/{}: {summary}", action.stage, action.action);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::enrich::FailedAction;
    use crate::event::ExecutionResult;

    fn approval(state: &str) -> PipelineEvent {
        crate::event::parse(&serde_json::json!({
            "id": "e1",
            "source": "aws.codepipeline",
            "detail-type": "CodePipeline Action Execution State Change",
            "region": "eu-west-1",
            "detail": {
                "pipeline": "pipeline-dev", "execution-id": "x", "stage": "Approve-prod",
                "action": "Approval", "state": state,
                "type": {"owner": "AWS", "category": "Approval", "provider": "Manual", "version": "1"}
            }
        }))
        .unwrap()
    }

    #[test]
    fn an_approval_says_what_it_promotes_and_what_came_before() {
        let started = approval("STARTED");
        assert!(notifies(&started));
        assert_eq!(
            headline(&started).unwrap(),
            "approval needed to deploy to prod"
        );
        let enrichment = Enrichment {
            succeeded_actions: vec![FailedAction {
                stage: "staging".into(),
                action: "Deploy".into(),
                summary: Some("Deployed app@sha256:ab12 to ecs:stg/web".into()),
                ..FailedAction::default()
            }],
            ..Enrichment::default()
        };
        let mut out = String::new();
        earlier_stages(&started, &enrichment, &mut out);
        assert!(
            out.contains("staging/Deploy: Deployed app@sha256:ab12"),
            "{out}"
        );
        assert!(
            out.contains("Approve or reject: https://eu-west-1.console.aws.amazon.com/codesuite/codepipeline/pipelines/pipeline-dev/view?region=eu-west-1"),
            "{out}"
        );
        let digest = Enrichment {
            image_digest: Some("sha256:ab12".into()),
            ..enrichment
        };
        let fields = body_fields(&started, &digest);
        assert!(
            fields.contains(&("imageDigest", "sha256:ab12".to_owned())),
            "{fields:?}"
        );

        let mut rejected = approval("FAILED");
        rejected.execution_result = Some(ExecutionResult {
            summary: Some("error rate too high in staging".into()),
            ..ExecutionResult::default()
        });
        assert_eq!(headline(&rejected).unwrap(), "deploy to prod rejected");
        assert!(sentence(&rejected).unwrap().contains("error rate too high"));
        assert!(!notifies(&approval("CANCELED")));
    }
}
