// The deploy-handler's job as a Node.js 20 handler (AWS SDK v3), for the cold-start comparison
// in BENCHMARKS.md: read the build's image artifact from S3 with the job's artifact credentials,
// take the image URI out of imageDetail.json or imagedefinitions.json, and report the job result
// to CodePipeline with the same output variables the Rust function sets.
import { S3Client, GetObjectCommand } from "@aws-sdk/client-s3";
import {
  CodePipelineClient,
  PutJobSuccessResultCommand,
  PutJobFailureResultCommand,
} from "@aws-sdk/client-codepipeline";
import AdmZip from "adm-zip";

// Built once per process, as a Lambda would, so warm invocations reuse connections.
const codepipeline = new CodePipelineClient({});
const endpointOverridden = Boolean(process.env.AWS_ENDPOINT_URL || process.env.AWS_ENDPOINT_URL_S3);

function imageFromArtifact(zipBytes, service) {
  const zip = new AdmZip(Buffer.from(zipBytes));
  const detail = zip.getEntry("imageDetail.json");
  if (detail) {
    const uri = JSON.parse(detail.getData().toString("utf8")).ImageURI;
    if (!uri) throw new Error("imageDetail.json has no ImageURI: fix the build's post_build phase");
    return uri;
  }
  const definitions = zip.getEntry("imagedefinitions.json");
  if (definitions) {
    const list = JSON.parse(definitions.getData().toString("utf8"));
    const entry = service ? list.find((d) => d.name === service) : list.length === 1 ? list[0] : undefined;
    if (!entry) throw new Error(`imagedefinitions.json names no image for service ${service ?? "(none)"}: set UserParameters {"service": ...}`);
    return entry.imageUri;
  }
  throw new Error("the artifact holds neither imageDetail.json nor imagedefinitions.json: check the build's artifacts section");
}

function outputVariables(uri, commit, jobId) {
  const variables = { IMAGE_URI: uri, DEPLOYMENT_ID: jobId };
  const at = uri.indexOf("@");
  if (at >= 0) variables.IMAGE_DIGEST = uri.slice(at + 1);
  else {
    const colon = uri.lastIndexOf(":");
    if (colon > uri.lastIndexOf("/")) variables.IMAGE_TAG = uri.slice(colon + 1);
  }
  if (commit) variables.COMMIT_ID = commit;
  return variables;
}

export async function handler(event) {
  const job = event["CodePipeline.job"];
  const jobId = job.id;
  try {
    const input = job.data.inputArtifacts[0];
    const credentials = job.data.artifactCredentials;
    const s3 = new S3Client({
      forcePathStyle: endpointOverridden,
      credentials: {
        accessKeyId: credentials.accessKeyId,
        secretAccessKey: credentials.secretAccessKey,
        sessionToken: credentials.sessionToken,
      },
    });
    const object = await s3.send(
      new GetObjectCommand({
        Bucket: input.location.s3Location.bucketName,
        Key: input.location.s3Location.objectKey,
      }),
    );
    const bytes = await object.Body.transformToByteArray();
    s3.destroy();
    const userParameters = job.data.actionConfiguration?.configuration?.UserParameters;
    const service = userParameters ? JSON.parse(userParameters).service : undefined;
    const uri = imageFromArtifact(bytes, service);
    const environment = process.env.PIPELINE_ENV ?? "unknown";
    await codepipeline.send(
      new PutJobSuccessResultCommand({
        jobId,
        executionDetails: {
          summary: `Deployment of ${uri} to ${environment} recorded only: no DEPLOY_WEBHOOK_URL or DEPLOY_EVENT_BUS is set`,
          externalExecutionId: jobId,
          percentComplete: 100,
        },
        outputVariables: outputVariables(uri, input.revision, jobId),
      }),
    );
    return { jobId, outcome: "succeeded", imageUri: uri };
  } catch (error) {
    await codepipeline.send(
      new PutJobFailureResultCommand({
        jobId,
        failureDetails: { type: "JobFailed", message: String(error.message ?? error).slice(0, 5000) },
      }),
    );
    return { jobId, outcome: "failed", message: String(error.message ?? error) };
  }
}
