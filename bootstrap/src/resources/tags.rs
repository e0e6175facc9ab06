//! Tags between the model's map and each SDK's own `Tag` type, and the one retagging step every
//! service with tag/untag calls shares (each module supplies only its two calls).

use crate::model::Tags;
use anyhow::{Context, Result};
use std::collections::HashMap;
use std::future::Future;

/// One SDK's `Tag` type: built from a key and a value, read back as a pair.
pub trait SdkTag: Sized {
    fn from_pair(key: &str, value: &str) -> Result<Self>;
    /// `None` for a tag without a key (only types whose key is optional can hold one).
    fn pair(&self) -> Option<(&str, &str)>;
}

/// Implements [`SdkTag`] for the SDKs whose `Tag` requires key and value (its builder checks
/// them) and for those where both are optional (its builder cannot fail).
macro_rules! sdk_tags {
    (required: $($required:ty),*; optional: $($optional:ty),* $(,)?) => {
        $(impl SdkTag for $required {
            fn from_pair(key: &str, value: &str) -> Result<Self> {
                Ok(<$required>::builder().key(key).value(value).build()?)
            }

            fn pair(&self) -> Option<(&str, &str)> {
                Some((self.key(), self.value()))
            }
        })*
        $(impl SdkTag for $optional {
            fn from_pair(key: &str, value: &str) -> Result<Self> {
                Ok(<$optional>::builder().key(key).value(value).build())
            }

            fn pair(&self) -> Option<(&str, &str)> {
                Some((self.key()?, self.value().unwrap_or_default()))
            }
        })*
    };
}

sdk_tags! {
    required:
        aws_sdk_codepipeline::types::Tag,
        aws_sdk_codestarconnections::types::Tag,
        aws_sdk_ecr::types::Tag,
        aws_sdk_eventbridge::types::Tag,
        aws_sdk_iam::types::Tag,
        aws_sdk_s3::types::Tag,
        aws_sdk_sns::types::Tag;
    optional:
        aws_sdk_codebuild::types::Tag,
        aws_sdk_secretsmanager::types::Tag,
}

/// The tags as one SDK's `Tag` list.
pub fn sdk_tags<T: SdkTag>(tags: &Tags) -> Result<Vec<T>> {
    tags.iter()
        .map(|(key, value)| T::from_pair(key, value))
        .collect::<Result<Vec<_>>>()
        .context("building the tags")
}

/// An SDK's tag list read back into the model's map.
pub fn model_tags<T: SdkTag>(tags: &[T]) -> Tags {
    tags.iter()
        .filter_map(SdkTag::pair)
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}

/// A service's tag map (Lambda, Logs) read back into the model's; none is no tags.
pub fn map_tags(tags: Option<&HashMap<String, String>>) -> Tags {
    tags.into_iter()
        .flatten()
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
}

/// What a service's tag call takes: a list of its `Tag` type, or a plain map (Lambda, Logs).
pub trait TagSet: Sized {
    fn from_tags(tags: &Tags) -> Result<Self>;
}

impl<T: SdkTag> TagSet for Vec<T> {
    fn from_tags(tags: &Tags) -> Result<Self> {
        sdk_tags(tags)
    }
}

impl TagSet for HashMap<String, String> {
    fn from_tags(tags: &Tags) -> Result<Self> {
        Ok(tags.clone().into_iter().collect())
    }
}

/// What a tag update must do: keys to remove, and the tags to (re)set.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TagChanges {
    pub remove: Vec<String>,
    pub set: Tags,
}

impl TagChanges {
    pub fn between(desired: &Tags, observed: &Tags) -> Self {
        let remove = observed
            .keys()
            .filter(|k| !desired.contains_key(*k))
            .cloned()
            .collect();
        let set = desired
            .iter()
            .filter(|(k, v)| observed.get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Self { remove, set }
    }

    pub fn is_empty(&self) -> bool {
        self.remove.is_empty() && self.set.is_empty()
    }
}

/// Converges a resource's tags from `observed` to `desired` with only the calls needed: `untag`
/// the keys no longer wanted, then `tag` the ones new or changed (each call is the service's own,
/// e.g. `|keys| client.untag_resource().resource_arn(&arn).set_tag_keys(Some(keys)).send()`).
pub async fn retag<S, Untag, Tag, UntagOut, TagOut, UntagErr, TagErr>(
    desired: &Tags,
    observed: &Tags,
    untag: impl FnOnce(Vec<String>) -> Untag,
    tag: impl FnOnce(S) -> Tag,
) -> Result<()>
where
    S: TagSet,
    Untag: Future<Output = Result<UntagOut, UntagErr>>,
    Tag: Future<Output = Result<TagOut, TagErr>>,
    UntagErr: std::error::Error + Send + Sync + 'static,
    TagErr: std::error::Error + Send + Sync + 'static,
{
    let changes = TagChanges::between(desired, observed);
    if !changes.remove.is_empty() {
        untag(changes.remove).await.context("removing tags")?;
    }
    if !changes.set.is_empty() {
        tag(S::from_tags(&changes.set)?)
            .await
            .context("setting tags")?;
    }
    Ok(())
}

/// [`retag`] with a service's own untag and tag calls on one resource, named by the request
/// field that identifies it: `retag_with!(ecr, resource_arn(&arn), &desired, &observed)` calls
/// `untag_resource` and `tag_resource`; a service with other names gives them first
/// (`retag_with!(iam => untag_role, tag_role, role_name(name), ..)`).
macro_rules! retag_with {
    ($client:expr, $field:ident($id:expr), $desired:expr, $observed:expr) => {
        $crate::resources::tags::retag_with!(
            $client => untag_resource, tag_resource, $field($id), $desired, $observed
        )
    };
    ($client:expr => $untag:ident, $tag:ident, $field:ident($id:expr), $desired:expr, $observed:expr) => {
        $crate::resources::tags::retag(
            $desired,
            $observed,
            |keys| $client.$untag().$field($id).set_tag_keys(Some(keys)).send(),
            |tags| $client.$tag().$field($id).set_tags(Some(tags)).send(),
        )
    };
}
pub(crate) use retag_with;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_changes_only_list_differences() {
        let desired: Tags = [("a".into(), "1".into()), ("b".into(), "2".into())].into();
        let observed: Tags = [
            ("a".into(), "1".into()),
            ("b".into(), "9".into()),
            ("c".into(), "3".into()),
        ]
        .into();
        let changes = TagChanges::between(&desired, &observed);
        assert_eq!(changes.remove, vec!["c".to_owned()]);
        assert_eq!(changes.set, Tags::from([("b".into(), "2".into())]));
        assert!(TagChanges::between(&desired, &desired).is_empty());
    }

    #[test]
    fn tags_round_trip_through_both_kinds_of_sdk_tag() {
        let tags: Tags = [
            ("ManagedBy".into(), "x".into()),
            ("empty".into(), "".into()),
        ]
        .into();
        let required: Vec<aws_sdk_ecr::types::Tag> = sdk_tags(&tags).expect("builds");
        assert_eq!(model_tags(&required), tags);
        let optional: Vec<aws_sdk_codebuild::types::Tag> = sdk_tags(&tags).expect("builds");
        assert_eq!(model_tags(&optional), tags);
        let keyless = aws_sdk_codebuild::types::Tag::builder().value("v").build();
        assert!(
            model_tags(&[keyless]).is_empty(),
            "a tag without a key is skipped"
        );
    }

    #[tokio::test]
    async fn retag_calls_only_what_differs() {
        let desired: Tags = [("a".into(), "1".into())].into();
        let observed: Tags = [("a".into(), "1".into()), ("b".into(), "2".into())].into();
        let calls = std::sync::Mutex::new(Vec::new());
        let record = |call: String| {
            calls.lock().expect("lock").push(call);
            std::future::ready(Ok::<(), std::io::Error>(()))
        };
        retag(
            &desired,
            &observed,
            |keys| record(format!("untag {keys:?}")),
            |tags: HashMap<String, String>| record(format!("tag {}", tags.len())),
        )
        .await
        .expect("retags");
        assert_eq!(*calls.lock().expect("lock"), ["untag [\"b\"]"]);
    }
}
