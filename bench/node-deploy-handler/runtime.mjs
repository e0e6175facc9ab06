#!/usr/bin/env node
// A minimal Lambda custom runtime for Node.js: the same loop the managed nodejs20.x runtime
// runs (GET /next, call the handler, POST the response or the error), so the comparison with
// the Rust binaries measures the language and SDK, not a different harness.
import { handler } from "./index.mjs";

const api = `http://${process.env.AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime`;

function errorBody(error) {
  return JSON.stringify({
    errorType: error?.name ?? "Error",
    errorMessage: String(error?.message ?? error),
  });
}

for (;;) {
  const next = await fetch(`${api}/invocation/next`);
  const requestId = next.headers.get("lambda-runtime-aws-request-id");
  const event = await next.json();
  let path = "response";
  let body;
  try {
    body = JSON.stringify(await handler(event));
  } catch (error) {
    path = "error";
    body = errorBody(error);
  }
  await fetch(`${api}/invocation/${requestId}/${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  });
}
