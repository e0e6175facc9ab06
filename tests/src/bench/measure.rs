//! Cold starts and invocations of a function binary under the Runtime API emulator, with real
//! calls to the local AWS emulator: the same job shapes the functions' runtime tests use.

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};
use testkit::{Emulator, LambdaProcess, RuntimeApi};
use tokio::io::AsyncReadExt;

const WAIT: Duration = Duration::from_secs(30);
const BUCKET: &str = "artifacts-123456789012-bench";
const ARTIFACT_KEY: &str = "bench/BuildOutput.zip";
const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";
const IMAGE_URI: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/app-bench@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// What one function does per invocation, and how a correct answer looks.
#[derive(Debug, Clone)]
pub enum Workload {
    /// A CodePipeline job: read the image artifact from S3, report the result to CodePipeline.
    DeployJob,
    /// A pipeline state-change event published to an SNS topic.
    Notify { topic_arn: String },
}

/// The emulator with the artifact bucket and notification topic in place.
#[derive(Debug)]
pub struct Fixture {
    pub emulator: Emulator,
    pub topic_arn: String,
}

impl Fixture {
    pub async fn start() -> Result<Self> {
        let emulator = Emulator::start().context(
            "starting the local AWS emulator failed: run `cargo xtask setup` and check .venv",
        )?;
        let config = emulator.sdk_config().await;
        let s3 = testkit::s3_client(&config);
        s3.create_bucket()
            .bucket(BUCKET)
            .send()
            .await
            .context("creating the artifact bucket in the emulator")?;
        s3.put_object()
            .bucket(BUCKET)
            .key(ARTIFACT_KEY)
            .body(image_detail_zip()?.into())
            .send()
            .await
            .context("uploading the image artifact to the emulator")?;
        let topic_arn = aws_sdk_sns::Client::new(&config)
            .create_topic()
            .name("notifications-bench")
            .send()
            .await
            .context("creating the notification topic in the emulator")?
            .topic_arn()
            .context("the emulator returned no topic ARN")?
            .to_owned();
        Ok(Self {
            emulator,
            topic_arn,
        })
    }

    /// The function's environment: the emulator's endpoint and credentials plus its own settings.
    pub fn env(&self, workload: &Workload) -> Vec<(String, String)> {
        let mut env = self.emulator.env();
        env.push(("PIPELINE_ENV".into(), "bench".into()));
        if let Workload::Notify { topic_arn } = workload {
            env.push(("NOTIFY_TOPIC_ARN".into(), topic_arn.clone()));
        }
        env
    }

    /// A fresh event (a new job id, a new event id) so no invocation is a duplicate.
    pub fn event(&self, workload: &Workload, sequence: usize) -> Result<Value> {
        Ok(match workload {
            Workload::DeployJob => {
                let job_id = self
                    .emulator
                    .create_job(json!({"pipelineName": "pipeline-bench", "actionName": "Deploy"}))
                    .context("registering a CodePipeline job in the emulator")?;
                deploy_job_event(&job_id)
            }
            Workload::Notify { .. } => pipeline_started_event(sequence),
        })
    }

    /// Fails unless the invocation did the real work (job succeeded, notification published).
    pub fn check(
        &self,
        workload: &Workload,
        event: &Value,
        invocation: &testkit::Invocation,
        process: &LambdaProcess,
    ) -> Result<()> {
        let answer = invocation.result.as_ref().map_err(|error| {
            anyhow::anyhow!(
                "the function answered an error: {error}\nfunction logs:\n{}",
                process.logs()
            )
        })?;
        match workload {
            Workload::DeployJob => {
                let job_id = event["CodePipeline.job"]["id"].as_str().unwrap_or_default();
                let job = self.emulator.job(job_id)?;
                if job["status"] != "Succeeded" {
                    bail!(
                        "job {job_id} ended {} instead of Succeeded: {job}\nfunction logs:\n{}",
                        job["status"],
                        process.logs()
                    );
                }
            }
            Workload::Notify { .. } => {
                if answer["outcome"] != "published" {
                    bail!(
                        "the notifier answered {answer} instead of publishing\nfunction logs:\n{}",
                        process.logs()
                    );
                }
            }
        }
        Ok(())
    }
}

/// Timings of one function build (or the Node.js handler) across cold starts.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    /// Process spawn to its first `/next`: the init phase.
    pub init: Vec<Duration>,
    /// The first invocation after each cold start, real AWS calls included.
    pub first_invocation: Vec<Duration>,
    /// Invocations of an already warm process.
    pub warm_invocation: Vec<Duration>,
    /// The highest VmHWM seen (after the warm invocations), KiB.
    pub peak_rss_kib: Option<u64>,
}

/// Starts `executable` `cold_starts` times, invoking each once; the last process then serves
/// `warm` more invocations. `extra_env` is added to the function's environment.
pub async fn measure(
    fixture: &Fixture,
    workload: &Workload,
    executable: &Path,
    extra_env: &[(String, String)],
    cold_starts: usize,
    warm: usize,
) -> Result<Samples> {
    let mut env = fixture.env(workload);
    env.extend_from_slice(extra_env);
    let mut samples = Samples::default();
    let mut sequence = 0;
    for start in 0..cold_starts {
        let runtime = RuntimeApi::start().await?;
        let process = LambdaProcess::spawn(executable, &runtime, &env)?;
        let first_next = runtime.wait_for_first_next(WAIT).await.with_context(|| {
            format!(
                "{} did not reach its first /next\nfunction logs:\n{}",
                executable.display(),
                process.logs()
            )
        })?;
        samples
            .init
            .push(first_next.duration_since(process.spawned_at()));
        let invocations = if start + 1 == cold_starts {
            1 + warm
        } else {
            1
        };
        for n in 0..invocations {
            sequence += 1;
            let event = fixture.event(workload, sequence)?;
            let invocation = runtime.invoke(event.clone(), WAIT).await.with_context(|| {
                format!(
                    "invoking {}\nfunction logs:\n{}",
                    executable.display(),
                    process.logs()
                )
            })?;
            fixture.check(workload, &event, &invocation, &process)?;
            if n == 0 {
                samples.first_invocation.push(invocation.duration);
            } else {
                samples.warm_invocation.push(invocation.duration);
            }
        }
        samples.peak_rss_kib = samples.peak_rss_kib.max(process.peak_rss_kib());
    }
    Ok(samples)
}

/// From handing a deploy job to the function until its first TLS ClientHello reaches a local
/// listener (the job's webhook points there): covers the TLS client set-up, the first
/// randomness (aws-lc's entropy seeding) and the key share. The handshake is then cut, so the
/// process is discarded.
pub async fn first_client_hello(
    fixture: &Fixture,
    executable: &Path,
    runs: usize,
) -> Result<Vec<Duration>> {
    let mut samples = Vec::with_capacity(runs);
    for sequence in 0..runs {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let mut env = fixture.env(&Workload::DeployJob);
        env.push((
            pipeline_common::env_vars::DEPLOY_WEBHOOK_URL.into(),
            format!("https://{}/hook", listener.local_addr()?),
        ));
        env.push((
            pipeline_common::env_vars::DEPLOY_WEBHOOK_SECRET.into(),
            "bench-webhook-signing-secret".into(),
        ));
        let runtime = RuntimeApi::start().await?;
        let process = LambdaProcess::spawn(executable, &runtime, &env)?;
        runtime.wait_for_first_next(WAIT).await?;
        let event = fixture.event(&Workload::DeployJob, sequence)?;
        let started = Instant::now();
        let hello = async {
            let (mut stream, _) = listener.accept().await?;
            let mut record_header = [0_u8; 5];
            stream.read_exact(&mut record_header).await?;
            anyhow::ensure!(
                record_header[0] == 0x16,
                "the webhook request was not a TLS handshake (first byte {:#x})",
                record_header[0]
            );
            anyhow::Ok(started.elapsed())
        };
        let elapsed = tokio::select! {
            elapsed = hello => elapsed?,
            answered = runtime.invoke(event, WAIT) => bail!(
                "the function answered ({answered:?}) without opening a TLS connection to its webhook\nfunction logs:\n{}",
                process.logs()
            ),
        };
        samples.push(elapsed);
    }
    Ok(samples)
}

fn deploy_job_event(job_id: &str) -> Value {
    json!({"CodePipeline.job": {
        "id": job_id,
        "accountId": "123456789012",
        "data": {
            "actionConfiguration": {"configuration": {"FunctionName": "deploy-handler-bench"}},
            "inputArtifacts": [{
                "name": "BuildOutput",
                "revision": COMMIT,
                "location": {"type": "S3", "s3Location": {"bucketName": BUCKET, "objectKey": ARTIFACT_KEY}}
            }],
            "outputArtifacts": [],
            "artifactCredentials": {
                "accessKeyId": "ASIAARTIFACTCREDENTIALS",
                "secretAccessKey": "artifact-secret-access-key",
                "sessionToken": "artifact-session-token",
                "expirationTime": 1_900_000_000_000_u64
            }
        }
    }})
}

fn pipeline_started_event(sequence: usize) -> Value {
    json!({
        "version": "0",
        "id": format!("bench-event-{sequence}"),
        "detail-type": "CodePipeline Pipeline Execution State Change",
        "source": "aws.codepipeline",
        "account": "123456789012",
        "time": "2024-05-01T10:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:codepipeline:us-east-1:123456789012:pipeline-bench"],
        "detail": {
            "pipeline": "pipeline-bench",
            "execution-id": format!("12345678-1234-5678-abcd-{sequence:012}"),
            "start-time": "2024-05-01T10:00:00.000Z",
            "execution-trigger": {"trigger-type": "StartPipelineExecution", "trigger-detail": "arn:aws:sts::123456789012:assumed-role/Admin/bench"},
            "state": "STARTED",
            "version": 1.0,
            "pipeline-execution-attempt": 1.0
        }
    })
}

fn image_detail_zip() -> Result<Vec<u8>> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    writer.start_file("imageDetail.json", zip::write::SimpleFileOptions::default())?;
    writer.write_all(format!(r#"{{"ImageURI":"{IMAGE_URI}"}}"#).as_bytes())?;
    Ok(writer.finish()?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifier_events_differ_so_deduplication_never_skips_a_publish() {
        let first = pipeline_started_event(1);
        let second = pipeline_started_event(2);
        assert_ne!(first["id"], second["id"]);
        assert_ne!(
            first["detail"]["execution-id"],
            second["detail"]["execution-id"]
        );
        assert_eq!(first["detail"]["state"], "STARTED");
    }

    #[test]
    fn deploy_job_points_at_the_uploaded_artifact() {
        let event = deploy_job_event("job-1");
        let job = &event["CodePipeline.job"];
        assert_eq!(job["id"], "job-1");
        let location = &job["data"]["inputArtifacts"][0]["location"]["s3Location"];
        assert_eq!(location["bucketName"], BUCKET);
        assert_eq!(location["objectKey"], ARTIFACT_KEY);
    }

    #[test]
    fn the_artifact_holds_image_detail_json() {
        let bytes = image_detail_zip().expect("zip builds");
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("valid zip");
        let mut entry = archive.by_name("imageDetail.json").expect("entry present");
        let mut text = String::new();
        std::io::Read::read_to_string(&mut entry, &mut text).expect("utf-8");
        let parsed: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(parsed["ImageURI"], IMAGE_URI);
    }
}
