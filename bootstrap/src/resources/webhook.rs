//! The CodePipeline webhook that starts a GitHub (version 1) source on push, registered with
//! GitHub. Its HMAC secret is passed in and never read back, printed or logged.

use super::Ctx;
use super::codepipeline::{retag, tags_of};
use super::errors::{self, gone_is_done};
use super::tags::sdk_tags;
use crate::config::SourceMode;
use crate::model::{Kind, Observed, Tags, WebhookFilter, WebhookSpec};
use crate::policies::deployer::Scope;
use crate::policies::statement;
use crate::secret::Secret;
use anyhow::{Context, Result};
use aws_sdk_codepipeline::operation::deregister_webhook_with_third_party::DeregisterWebhookWithThirdPartyError;
use aws_sdk_codepipeline::types::{
    ListWebhookItem, Tag, WebhookAuthConfiguration, WebhookAuthenticationType, WebhookDefinition,
    WebhookFilterRule,
};
use pipeline_common::EnvName;
use serde_json::Value;

/// The CodePipeline webhook; its create and update read the HMAC secret they register.
#[derive(Debug)]
pub struct WebhookResource;

impl super::Resource for WebhookResource {
    const KIND: Kind = Kind::Webhook;
    const DEPENDS_ON: &'static [Kind] = &[Kind::Pipeline, Kind::Secret];
    type Spec = WebhookSpec;

    async fn observe(ctx: Ctx<'_>, name: &str) -> Result<Option<Observed>> {
        observe(ctx, name).await
    }

    async fn create(ctx: Ctx<'_>, spec: &WebhookSpec) -> Result<()> {
        let secret = super::secrets::read_value(ctx, &spec.secret_name).await?;
        create(ctx, spec, &secret).await
    }

    async fn update(ctx: Ctx<'_>, desired: &WebhookSpec, observed: &WebhookSpec) -> Result<()> {
        let secret = super::secrets::read_value(ctx, &desired.secret_name).await?;
        update(ctx, desired, observed, &secret).await
    }

    async fn delete(ctx: Ctx<'_>, name: &str) -> Result<()> {
        delete(ctx, name).await
    }

    fn deployer_grants(scope: &Scope<'_>) -> Vec<Value> {
        deployer_grants(scope)
    }
}

errors::variants! {
    NotFound:
    DeregisterWebhookWithThirdPartyError => is_webhook_not_found_exception,
}

async fn find(ctx: Ctx<'_>, name: &str) -> Result<Option<ListWebhookItem>> {
    let mut next_token = None;
    loop {
        let page = ctx
            .clients
            .codepipeline
            .list_webhooks()
            .set_next_token(next_token)
            .send()
            .await
            .context("listing webhooks")?;
        if let Some(item) = page
            .webhooks()
            .iter()
            .find(|w| w.definition().is_some_and(|d| d.name() == name))
        {
            return Ok(Some(item.clone()));
        }
        next_token = page.next_token().map(str::to_owned);
        if next_token.is_none() {
            return Ok(None);
        }
    }
}

/// AWS cannot say which secret a webhook's token came from: the secret's name follows from the
/// webhook's through the environment's resource names.
fn secret_name_of(webhook: &str) -> String {
    webhook
        .strip_prefix("webhook-")
        .and_then(|env| EnvName::parse(env).ok())
        .map(|env| env.names().webhook_secret())
        .unwrap_or_default()
}

pub async fn observe(ctx: Ctx<'_>, name: &str) -> Result<Option<Observed>> {
    // The tags are read beside the listing, under the ARN the webhook's name gives: one round.
    let named_arn = ctx.target.arn("codepipeline", &format!("webhook:{name}"));
    let (found, named_tags) = futures::join!(find(ctx, name), tags_of(ctx, &named_arn));
    let Some(item) = found? else {
        return Ok(None);
    };
    let definition = item
        .definition()
        .context("ListWebhooks answered an item without a definition")?;
    let arn = item.arn().map(str::to_owned);
    let tags = match &arn {
        Some(arn) if *arn == named_arn => named_tags,
        Some(arn) => tags_of(ctx, arn).await,
        None => Ok(Tags::new()),
    };
    let tags = tags.context("listing the webhook's tags")?;
    let spec = WebhookSpec {
        name: name.to_owned(),
        target_pipeline: definition.target_pipeline().to_owned(),
        target_action: definition.target_action().to_owned(),
        filters: definition
            .filters()
            .iter()
            .map(|f| WebhookFilter {
                json_path: f.json_path().to_owned(),
                match_equals: f.match_equals().unwrap_or_default().to_owned(),
            })
            .collect(),
        authentication: definition.authentication().as_str().to_owned(),
        secret_name: secret_name_of(name),
        // AWS offers no call that tells whether a webhook is registered with GitHub: an existing
        // webhook is taken as registered (create registers it; a failed registration fails create).
        registered: true,
        tags: tags.clone(),
    };
    Ok(Some(
        Observed::of(spec, arn).with_status(Some(item.url().to_owned())),
    ))
}

fn definition(spec: &WebhookSpec, secret: &Secret) -> Result<WebhookDefinition> {
    let filters = spec
        .filters
        .iter()
        .map(|f| {
            WebhookFilterRule::builder()
                .json_path(&f.json_path)
                .match_equals(&f.match_equals)
                .build()
        })
        .collect::<Result<Vec<_>, _>>()
        .context("building the webhook filters")?;
    WebhookDefinition::builder()
        .name(&spec.name)
        .target_pipeline(&spec.target_pipeline)
        .target_action(&spec.target_action)
        .set_filters(Some(filters))
        .authentication(WebhookAuthenticationType::from(
            spec.authentication.as_str(),
        ))
        .authentication_configuration(
            WebhookAuthConfiguration::builder()
                .secret_token(secret.expose())
                .build(),
        )
        .build()
        // The builder error names only missing fields, never values: the secret cannot leak here.
        .context("building the webhook definition")
}

async fn put(
    ctx: Ctx<'_>,
    spec: &WebhookSpec,
    secret: &Secret,
    tags: Option<Vec<Tag>>,
) -> Result<()> {
    ctx.clients
        .codepipeline
        .put_webhook()
        .webhook(definition(spec, secret)?)
        .set_tags(tags)
        .send()
        .await
        .with_context(|| {
            format!(
                "PutWebhook failed; check that pipeline {} and its action {} exist",
                spec.target_pipeline, spec.target_action
            )
        })?;
    Ok(())
}

async fn register(ctx: Ctx<'_>, name: &str) -> Result<()> {
    ctx.clients
        .codepipeline
        .register_webhook_with_third_party()
        .webhook_name(name)
        .send()
        .await
        .context("registering the webhook with GitHub failed; check that the GitHub token may admin the repository's hooks")?;
    Ok(())
}

/// PutWebhook is an upsert keeping the url and arn, so a crash after it is simply converged.
pub async fn create(ctx: Ctx<'_>, spec: &WebhookSpec, secret: &Secret) -> Result<()> {
    put(ctx, spec, secret, Some(sdk_tags(&spec.tags)?)).await?;
    if spec.registered {
        register(ctx, &spec.name).await?;
    }
    Ok(())
}

pub async fn update(
    ctx: Ctx<'_>,
    desired: &WebhookSpec,
    observed: &WebhookSpec,
    secret: &Secret,
) -> Result<()> {
    let definition_differs = desired.target_pipeline != observed.target_pipeline
        || desired.target_action != observed.target_action
        || desired.filters != observed.filters
        || desired.authentication != observed.authentication
        || desired.secret_name != observed.secret_name;
    if definition_differs {
        put(ctx, desired, secret, None).await?;
    }
    if desired.registered && (!observed.registered || definition_differs) {
        register(ctx, &desired.name).await?;
    }
    let resource = format!("webhook:{}", desired.name);
    retag(ctx, &resource, &desired.tags, &observed.tags).await
}

pub async fn delete(ctx: Ctx<'_>, name: &str) -> Result<()> {
    let codepipeline = &ctx.clients.codepipeline;
    let deregistered = codepipeline
        .deregister_webhook_with_third_party()
        .webhook_name(name)
        .send()
        .await;
    gone_is_done(deregistered).context("deregistering the webhook from GitHub")?;
    // DeleteWebhook succeeds for an unknown name.
    codepipeline
        .delete_webhook()
        .name(name)
        .send()
        .await
        .context("DeleteWebhook failed")?;
    Ok(())
}

/// The webhook's URL (for the outputs), `None` when it does not exist.
pub async fn url_of(ctx: Ctx<'_>, name: &str) -> Result<Option<String>> {
    Ok(find(ctx, name).await?.map(|item| item.url().to_owned()))
}

/// What the deployer needs for the webhook (GitHub webhook mode only).
pub fn deployer_grants(scope: &Scope<'_>) -> Vec<Value> {
    let (target, n) = (scope.target, scope.env.names());
    // ListWebhooks authorises on the account's webhooks as a whole
    let find = statement(
        "FindWebhook",
        &["codepipeline:ListWebhooks"],
        vec![target.arn("codepipeline", "webhook:*")],
    );
    if scope.source != SourceMode::GithubWebhook {
        // In codeconnections mode every deploy still looks for the environment's webhook, so that
        // one an earlier webhook-mode deploy left is deleted when the source mode changes: read
        // and delete, never create.
        return vec![
            statement(
                "WebhookLeftover",
                &[
                    "codepipeline:DeleteWebhook",
                    "codepipeline:DeregisterWebhookWithThirdParty",
                    "codepipeline:ListTagsForResource",
                ],
                vec![target.arn("codepipeline", &format!("webhook:{}", n.webhook()))],
            ),
            find,
        ];
    }
    vec![
        statement(
            "PipelineWebhook",
            &[
                "codepipeline:DeleteWebhook",
                "codepipeline:DeregisterWebhookWithThirdParty",
                "codepipeline:ListTagsForResource",
                "codepipeline:PutWebhook",
                "codepipeline:RegisterWebhookWithThirdParty",
                "codepipeline:TagResource",
                "codepipeline:UntagResource",
            ],
            vec![target.arn("codepipeline", &format!("webhook:{}", n.webhook()))],
        ),
        // PutWebhook is authorised on the webhook and on the pipeline it targets (Service
        // Authorization Reference, AWS CodePipeline: PutWebhook lists both resource types)
        statement(
            "WebhookTargetsPipeline",
            &["codepipeline:PutWebhook"],
            vec![target.arn("codepipeline", &n.pipeline())],
        ),
        find,
    ]
}
