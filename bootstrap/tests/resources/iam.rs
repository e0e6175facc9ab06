//! IAM role module against the local emulator: create, observe, converge drift, delete.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::{Fixture, our_tags, spec_of};
use bootstrap::model::RoleSpec;
use bootstrap::resources::{Ctx, iam};
use serde_json::json;

fn role_spec(name: &str) -> RoleSpec {
    RoleSpec {
        name: name.into(),
        description: "Runs the deploy handler".into(),
        trust_policy: json!({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]
        }),
        inline_policy_name: "deploy".into(),
        inline_policy: json!({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::artifacts/*"}]
        }),
        permissions_boundary: "arn:aws:iam::123456789012:policy/pipeline-boundary-dev".into(),
        tags: our_tags([("project", "pipeline"), ("env", "dev")]),
    }
}

async fn observed_spec(ctx: Ctx<'_>, name: &str) -> Option<RoleSpec> {
    iam::observe(ctx, name).await.unwrap().map(spec_of)
}

#[tokio::test]
async fn role_lifecycle_converges_drift_and_deletes_everything() {
    let fx = Fixture::start().await;
    let (emu, clients, ctx) = (&fx.emu, &fx.clients, fx.ctx());

    let name = "pipeline-dev-deploy-handler";
    assert_eq!(observed_spec(ctx, name).await, None);
    let spec = role_spec(name);
    iam::create(ctx, &spec).await.unwrap();
    let observed = iam::observe(ctx, name).await.unwrap().unwrap();
    assert_eq!(
        observed.arn.as_deref(),
        Some("arn:aws:iam::123456789012:role/pipeline-dev-deploy-handler")
    );
    assert_eq!(observed.tags, spec.tags);
    assert_eq!(observed_spec(ctx, name).await.unwrap(), spec);

    // Unchanged: no mutating call at all.
    emu.clear_calls().unwrap();
    iam::update(ctx, &spec, &observed_spec(ctx, name).await.unwrap())
        .await
        .unwrap();
    assert_eq!(emu.mutating_calls().unwrap(), vec![]);

    // Crash recovery: creating again adopts the existing role.
    iam::create(ctx, &spec).await.unwrap();
    assert_eq!(observed_spec(ctx, name).await.unwrap(), spec);

    // Drift made behind our back: the inline policy edited, a tag removed, trust changed, the
    // permissions boundary removed.
    clients
        .iam
        .delete_role_permissions_boundary()
        .role_name(name)
        .send()
        .await
        .unwrap();
    clients
        .iam
        .put_role_policy()
        .role_name(name)
        .policy_name("deploy")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    clients
        .iam
        .untag_role()
        .role_name(name)
        .tag_keys("env")
        .send()
        .await
        .unwrap();
    clients
        .iam
        .update_assume_role_policy()
        .role_name(name)
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#)
        .send()
        .await
        .unwrap();
    let drifted = observed_spec(ctx, name).await.unwrap();
    assert_eq!(drifted.inline_policy["Statement"][0]["Action"], json!("*"));
    assert!(!drifted.tags.contains_key("env"));
    assert_eq!(drifted.permissions_boundary, "");
    assert_eq!(
        drifted.trust_policy["Statement"][0]["Principal"]["Service"],
        json!("ec2.amazonaws.com")
    );

    // Desired changes too: new description, a tag value changed, one added.
    let mut changed = spec.clone();
    changed.description = "Runs the deploy handler (v2)".into();
    changed.tags.insert("project".into(), "pipeline-2".into());
    changed.tags.insert("owner".into(), "platform".into());
    emu.clear_calls().unwrap();
    iam::update(ctx, &changed, &drifted).await.unwrap();
    let ops: Vec<String> = emu
        .mutating_calls()
        .unwrap()
        .into_iter()
        .map(|c| c.operation)
        .collect();
    assert_eq!(
        ops,
        [
            "PutRolePermissionsBoundary",
            "UpdateAssumeRolePolicy",
            "PutRolePolicy",
            "UpdateRole",
            "TagRole"
        ]
    );
    assert_eq!(observed_spec(ctx, name).await.unwrap(), changed);

    // Only a removed tag: just UntagRole.
    let mut fewer_tags = changed.clone();
    fewer_tags.tags.remove("owner");
    emu.clear_calls().unwrap();
    iam::update(ctx, &fewer_tags, &changed).await.unwrap();
    let ops: Vec<String> = emu
        .mutating_calls()
        .unwrap()
        .into_iter()
        .map(|c| c.operation)
        .collect();
    assert_eq!(ops, ["UntagRole"]);
    assert_eq!(observed_spec(ctx, name).await.unwrap(), fewer_tags);

    // Delete must also clear what blocks DeleteRole and is the role's own: a foreign inline
    // policy, a managed policy's attachment.
    clients.iam.put_role_policy().role_name(name).policy_name("zz-foreign").policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:ListQueues","Resource":"*"}]}"#).send().await.unwrap();
    assert_eq!(
        observed_spec(ctx, name).await.unwrap(),
        fewer_tags,
        "a foreign inline policy is not taken for ours"
    );
    let managed = clients
        .iam
        .create_policy()
        .policy_name("extra")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    clients
        .iam
        .attach_role_policy()
        .role_name(name)
        .policy_arn(managed.policy().unwrap().arn().unwrap())
        .send()
        .await
        .unwrap();
    clients
        .iam
        .create_instance_profile()
        .instance_profile_name("profile")
        .send()
        .await
        .unwrap();
    clients
        .iam
        .add_role_to_instance_profile()
        .instance_profile_name("profile")
        .role_name(name)
        .send()
        .await
        .unwrap();

    // The instance profile is not ours: delete stops, names it and the fix, and takes nothing
    // out of it.
    let refused = format!("{:#}", iam::delete(ctx, name).await.unwrap_err());
    assert!(
        refused.contains("instance profile(s) profile")
            && refused.contains("remove-role-from-instance-profile"),
        "{refused}"
    );
    let profiles = clients
        .iam
        .list_instance_profiles_for_role()
        .role_name(name)
        .send()
        .await
        .unwrap();
    assert_eq!(
        profiles.instance_profiles().len(),
        1,
        "the role stays in the profile"
    );
    clients
        .iam
        .remove_role_from_instance_profile()
        .instance_profile_name("profile")
        .role_name(name)
        .send()
        .await
        .unwrap();

    iam::delete(ctx, name).await.unwrap();
    assert_eq!(observed_spec(ctx, name).await, None);
    iam::delete(ctx, name).await.unwrap();
}

/// A create that finds its name taken adopts only what carries our ownership tags: a role of
/// that name someone else made is refused with the plan's conflict message and left untouched.
#[tokio::test]
async fn creating_over_a_role_someone_else_made_is_refused() {
    let fx = Fixture::start().await;
    let (emu, ctx) = (&fx.emu, fx.ctx());
    let name = "pipeline-dev-deploy-handler";
    crate::support::create_role(&fx.clients, name, "lambda.amazonaws.com").await;
    let theirs = observed_spec(ctx, name).await.unwrap();

    emu.clear_calls().unwrap();
    let err = iam::create(ctx, &role_spec(name))
        .await
        .expect_err("someone else's role is not adopted");
    assert!(
        format!("{err:#}").contains("is not managed by this tool for environment `dev`"),
        "{err:#}"
    );
    let changed: Vec<String> = crate::support::operations(emu)
        .into_iter()
        .filter(|op| op != "CreateRole")
        .collect();
    assert_eq!(
        changed,
        Vec::<String>::new(),
        "nothing of theirs is changed"
    );
    assert_eq!(observed_spec(ctx, name).await.unwrap(), theirs);
}
