"""A tiny HTTP service: GET / greets, GET /health answers "ok". Standard library only."""

import http.server
import json
import os

DEFAULT_PORT = 8080


def greeting(name, environment):
    """The greeting for `name` (a visitor) served from `environment` (dev, prod, ...)."""
    visitor = name.strip() or "world"
    return f"Hello, {visitor}, from {environment or 'an unnamed environment'}!"


def respond(path, environment):
    """Status code and JSON body for a GET of `path`."""
    route, _, query = path.partition("?")
    if route == "/health":
        return 200, {"status": "ok"}
    if route == "/":
        params = dict(pair.partition("=")[::2] for pair in query.split("&") if pair)
        return 200, {"message": greeting(params.get("name", ""), environment)}
    return 404, {"error": f"no such path {route}; try / or /health"}


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (the name http.server calls)
        status, body = respond(self.path, os.environ.get("PIPELINE_ENV", ""))
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def main():
    port = int(os.environ.get("PORT", DEFAULT_PORT))
    server = http.server.ThreadingHTTPServer(("0.0.0.0", port), Handler)
    print(f"hello-app listening on port {port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
