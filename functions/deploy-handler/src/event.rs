//! The `CodePipeline.job` event: lenient types for what the handler needs, with credentials
//! that never reach a log.

use std::fmt;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(rename = "CodePipeline.job")]
    job: Job,
}

#[derive(Debug, Deserialize)]
struct JobIdOnly {
    #[serde(rename = "CodePipeline.job")]
    job: IdOnly,
}

#[derive(Debug, Deserialize)]
struct IdOnly {
    id: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    pub id: String,
    #[serde(default)]
    pub account_id: Option<String>,
    #[serde(default)]
    pub data: JobData,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobData {
    #[serde(default)]
    pub action_configuration: ActionConfiguration,
    #[serde(default)]
    pub input_artifacts: Vec<Artifact>,
    #[serde(default)]
    pub output_artifacts: Vec<Artifact>,
    #[serde(default)]
    pub artifact_credentials: Option<ArtifactCredentials>,
    #[serde(default)]
    pub continuation_token: Option<String>,
    #[serde(default)]
    pub encryption_key: Option<EncryptionKey>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct ActionConfiguration {
    #[serde(default)]
    pub configuration: Configuration,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Configuration {
    #[serde(rename = "FunctionName", default)]
    pub function_name: Option<String>,
    #[serde(rename = "UserParameters", default)]
    pub user_parameters: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Artifact {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub revision: Option<String>,
    #[serde(default)]
    pub location: Option<ArtifactLocation>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactLocation {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub s3_location: Option<S3Location>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct S3Location {
    pub bucket_name: String,
    pub object_key: String,
}

/// Temporary credentials CodePipeline grants for the artifact bucket.
#[derive(Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    #[serde(default)]
    pub session_token: Option<String>,
    /// Epoch milliseconds or a timestamp string, depending on the producer; informational.
    #[serde(default)]
    pub expiration_time: Option<serde_json::Value>,
}

impl fmt::Debug for ArtifactCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArtifactCredentials")
            .field("access_key_id", &"** redacted **")
            .field("secret_access_key", &"** redacted **")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "** redacted **"),
            )
            .field("expiration_time", &self.expiration_time)
            .finish()
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct EncryptionKey {
    pub id: String,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// Nothing to report to: the event is not a CodePipeline job at all.
    #[error(
        "the event is not a CodePipeline job (no \"CodePipeline.job\".id): this function must be \
         invoked by a CodePipeline Invoke action, not directly ({0})"
    )]
    NotAJob(String),
    /// The job id is known, so the failure can be reported to the job.
    #[error(
        "the CodePipeline job event for job {job_id} is malformed ({problem}); this is not a shape CodePipeline sends"
    )]
    Malformed { job_id: String, problem: String },
}

/// Parses the job, keeping the job id whenever it is present so a failure can still be reported.
pub fn parse_job(event: &serde_json::Value) -> Result<Job, EventError> {
    match Envelope::deserialize(event) {
        Ok(envelope) => Ok(envelope.job),
        Err(full_error) => match JobIdOnly::deserialize(event) {
            Ok(only) => Err(EventError::Malformed {
                job_id: only.job.id,
                problem: full_error.to_string(),
            }),
            Err(_) => Err(EventError::NotAJob(full_error.to_string())),
        },
    }
}

impl Job {
    /// The input artifact to read: the one and only input (the Deploy action takes the build output).
    pub fn input_artifact(&self) -> Option<&Artifact> {
        self.data.input_artifacts.first()
    }

    pub fn user_parameters(&self) -> Option<&str> {
        self.data
            .action_configuration
            .configuration
            .user_parameters
            .as_deref()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;

    /// The shape of AWS's documented sample event, with an encryption key and expiration time.
    pub(crate) fn sample_event(
        user_parameters: Option<&str>,
        continuation: Option<&str>,
    ) -> serde_json::Value {
        let mut event = serde_json::json!({
            "CodePipeline.job": {
                "id": "11111111-abcd-1111-abcd-111111abcdef",
                "accountId": "111111111111",
                "data": {
                    "actionConfiguration": {
                        "configuration": {"FunctionName": "deploy-handler-dev"}
                    },
                    "inputArtifacts": [{
                        "name": "BuildOutput",
                        "revision": "0123456789abcdef0123456789abcdef01234567",
                        "location": {"type": "S3", "s3Location": {"bucketName": "artifacts-111111111111-dev", "objectKey": "pipeline/BuildOutpu/abc.zip"}}
                    }],
                    "outputArtifacts": [],
                    "artifactCredentials": {
                        "accessKeyId": "AKIASECRETACCESSKEYID",
                        "secretAccessKey": "SECRETSECRETSECRET",
                        "sessionToken": "SESSIONTOKENSECRET",
                        "expirationTime": 1_700_000_000_000_u64
                    },
                    "encryptionKey": {"id": "arn:aws:kms:us-east-1:111111111111:alias/aws/s3", "type": "KMS"}
                }
            }
        });
        let data = &mut event["CodePipeline.job"]["data"];
        if let Some(p) = user_parameters {
            data["actionConfiguration"]["configuration"]["UserParameters"] = p.into();
        }
        if let Some(t) = continuation {
            data["continuationToken"] = t.into();
        }
        event
    }

    #[test]
    fn parses_the_documented_shape_including_dropped_fields() {
        let job = parse_job(&sample_event(Some(r#"{"service":"app"}"#), Some("tok"))).unwrap();
        assert_eq!(job.id, "11111111-abcd-1111-abcd-111111abcdef");
        assert_eq!(job.user_parameters(), Some(r#"{"service":"app"}"#));
        assert_eq!(job.data.continuation_token.as_deref(), Some("tok"));
        let key = job.data.encryption_key.as_ref().unwrap();
        assert_eq!(key.kind.as_deref(), Some("KMS"));
        let artifact = job.input_artifact().unwrap();
        assert_eq!(
            artifact
                .location
                .as_ref()
                .unwrap()
                .s3_location
                .as_ref()
                .unwrap()
                .bucket_name,
            "artifacts-111111111111-dev"
        );
        let creds = job.data.artifact_credentials.as_ref().unwrap();
        assert_eq!(
            creds.expiration_time,
            Some(serde_json::json!(1_700_000_000_000_u64))
        );
    }

    #[test]
    fn debug_output_never_contains_credentials() {
        let job = parse_job(&sample_event(None, None)).unwrap();
        let printed = format!("{job:?} {:#?}", job.data);
        for secret in [
            "AKIASECRETACCESSKEYID",
            "SECRETSECRETSECRET",
            "SESSIONTOKENSECRET",
        ] {
            assert!(!printed.contains(secret), "{secret} leaked: {printed}");
        }
        assert!(printed.contains("redacted"));
    }

    #[test]
    fn keeps_the_job_id_when_the_rest_is_malformed() {
        let event = serde_json::json!({"CodePipeline.job": {"id": "job-1", "data": {"inputArtifacts": "nope"}}});
        match parse_job(&event).unwrap_err() {
            EventError::Malformed { job_id, .. } => assert_eq!(job_id, "job-1"),
            other => panic!("expected Malformed, got {other:?}"),
        }
        let not_a_job =
            parse_job(&serde_json::json!({"detail-type": "Scheduled Event"})).unwrap_err();
        assert!(matches!(not_a_job, EventError::NotAJob(_)));
        assert!(not_a_job.to_string().contains("CodePipeline Invoke action"));
    }

    #[test]
    fn minimal_job_parses_with_defaults() {
        let job = parse_job(&serde_json::json!({"CodePipeline.job": {"id": "j"}})).unwrap();
        assert!(job.input_artifact().is_none());
        assert!(job.user_parameters().is_none());
    }

    fn arb_json() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            "[a-zA-Z.]{0,12}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(4, 64, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                proptest::collection::btree_map(
                    prop_oneof![
                        Just("CodePipeline.job".to_owned()),
                        Just("id".to_owned()),
                        Just("data".to_owned()),
                        Just("inputArtifacts".to_owned()),
                        Just("location".to_owned()),
                        Just("s3Location".to_owned()),
                        "[a-z]{1,8}",
                    ],
                    inner,
                    0..5
                )
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #[test]
        fn parsing_arbitrary_json_never_panics(value in arb_json()) {
            let _ = parse_job(&value);
        }

        #[test]
        fn parsing_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            if let Ok(value) = serde_json::from_slice::<serde_json::Value>(&bytes) {
                let _ = parse_job(&value);
            }
        }
    }
}
