//! The fuzz oracles: each takes untrusted bytes the way a Lambda receives them and panics when
//! a property the functions promise is broken. libFuzzer drives them (`fuzz_targets/`,
//! `cargo xtask fuzz`); `tests/corpus.rs` replays the kept corpus through them on every test run.

use deploy_handler::artifact::read_image_artifact;
use deploy_handler::event::{EventError, parse_job};
use deploy_handler::image::ImageRef;
use deploy_handler::params::{MAX_USER_PARAMETERS_LEN, UserParameters};
use event_notifier::enrich::Enrichment;
use event_notifier::message::{self, MessageOptions};
use event_notifier::text::{MAX_SUBJECT_CHARS, is_valid_subject};

/// SNS refuses a message larger than 256 KiB.
const SNS_MAX_MESSAGE_BYTES: usize = 256 * 1024;

/// A `CodePipeline.job` event: parsed leniently, never panicking; a malformed job keeps its id
/// so the failure can be reported; no credential reaches a log line (`Debug`); UserParameters
/// are accepted only within CodePipeline's limit and name the service to deploy.
pub fn codepipeline_job(data: &[u8]) {
    let Ok(event) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    match parse_job(&event) {
        Ok(job) => {
            // What is logged of a job must not depend on its credentials at all.
            let mut redacted = job.clone();
            if let Some(credentials) = redacted.data.artifact_credentials.as_mut() {
                credentials.access_key_id = "A".to_owned();
                credentials.secret_access_key = "S".to_owned();
                credentials.session_token =
                    credentials.session_token.as_ref().map(|_| "T".to_owned());
            }
            assert_eq!(
                format!("{job:?}"),
                format!("{redacted:?}"),
                "a credential reaches the job's Debug output"
            );
            match UserParameters::parse(job.user_parameters()) {
                Ok(params) => {
                    assert!(
                        job.user_parameters()
                            .is_none_or(|raw| raw.chars().count() <= MAX_USER_PARAMETERS_LEN),
                        "UserParameters over CodePipeline's limit were accepted"
                    );
                    assert!(
                        !params.service().is_empty(),
                        "an empty service was accepted"
                    );
                }
                Err(error) => assert!(!error.to_string().is_empty()),
            }
        }
        Err(EventError::Malformed { job_id, problem }) => {
            assert!(
                event["CodePipeline.job"]["id"].as_str() == Some(job_id.as_str()),
                "a malformed job lost its id, so its failure could not be reported"
            );
            assert!(!problem.is_empty(), "a malformed job gave no reason");
        }
        Err(error @ EventError::NotAJob(_)) => assert!(!error.to_string().is_empty()),
    }
}

/// The build's output artifact: any bytes (a truncated zip, a zip bomb, `../` entries) give an
/// image or a clear error, never a panic; an accepted image is a well-formed ECR reference.
pub fn image_artifact(data: &[u8]) {
    match read_image_artifact(data, "app") {
        Ok(artifact) => check_image(&artifact.image),
        Err(error) => {
            assert!(!error.to_string().is_empty());
            // The failure kind reported to CodePipeline is derived for every error.
            let _ = error.failure_kind();
        }
    }
}

/// The image URI the build writes: parsed or refused with a reason, never a panic.
pub fn image_uri(data: &[u8]) {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    match ImageRef::parse(raw) {
        Ok(image) => {
            check_image(&image);
            assert_eq!(
                ImageRef::parse(&image.uri).as_ref(),
                Ok(&image),
                "an accepted URI parses differently the second time"
            );
        }
        Err(error) => assert!(!error.to_string().is_empty()),
    }
}

fn check_image(image: &ImageRef) {
    assert!(image.uri.starts_with(&image.registry));
    assert!(image.tag.is_some() || image.digest.is_some());
    assert!(image.registry.starts_with(&image.account_id));
    assert!(image.registry.contains(&image.region));
    assert!(!image.repository.is_empty());
}

/// A pipeline, stage or action state-change event: rejected with a reason or turned into a
/// message SNS accepts (subject rules, size limit, non-empty attribute values, JSON structure).
pub fn pipeline_event(data: &[u8]) {
    let Ok(raw) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let event = match event_notifier::event::parse(&raw) {
        Ok(event) => event,
        Err(rejection) => {
            assert!(!rejection.to_string().is_empty());
            return;
        }
    };
    let plain = MessageOptions::default();
    let chatbot = MessageOptions {
        environment: Some("fuzz".to_owned()),
        chatbot: true,
        fallback_region: Some("eu-west-1".to_owned()),
    };
    for options in [plain, chatbot] {
        let notification = message::format(&event, &Enrichment::default(), &options);
        assert!(
            is_valid_subject(&notification.subject),
            "subject {:?} would be refused by SNS",
            notification.subject
        );
        assert!(notification.subject.len() <= MAX_SUBJECT_CHARS);
        assert!(
            notification.message.len() <= SNS_MAX_MESSAGE_BYTES,
            "message of {} bytes is over SNS's limit",
            notification.message.len()
        );
        let structured: serde_json::Value = serde_json::from_str(&notification.message)
            .expect("MessageStructure=json needs a JSON message");
        assert!(
            structured["default"].is_string(),
            "MessageStructure=json needs a `default` key"
        );
        for (name, value) in &notification.attributes {
            assert!(
                !value.is_empty(),
                "message attribute {name} is empty; SNS refuses it"
            );
        }
    }
}
