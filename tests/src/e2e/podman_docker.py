"""`docker` for the local pipeline rehearsal, backed by a real engine: podman builds, tests and
pushes; the emulator's ECR registry (on loopback, fronting a real registry) receives the push.

What it changes on the way, and why:
- the account's ECR host (`ACCOUNT.dkr.ecr.REGION.amazonaws.com`) stands for the emulator's
  registry at $ECR_REGISTRY_ENDPOINT: `login`, `push` and `pull` talk to that address (plain
  HTTP on loopback, hence --tls-verify=false) while images keep their ECR names locally;
- `build` runs with --isolation=chroot (this machine cannot run containers, but RUN steps work
  in a chroot) and --format docker (the image format Docker builds and pushes, which also keeps
  HEALTHCHECK); `--cache-from IMAGE` is dropped with a note: podman reads it as a repository
  of cache layers, not as an image, and the local layer cache serves the same purpose here;
  the pipeline's first build ($LAYER_CACHE_MARKER not there yet) runs with --no-cache, as a
  fresh CodeBuild host has no layer cache;
- `run`, `exec` and `start` are refused: nothing in the build may need a running container.
Every call is recorded in $STANDIN_STATE_DIR/calls.jsonl, each push's digest in pushes.jsonl,
and each image name it gives in $PODMAN_TAGS_FILE, which the rehearsal removes at its end.
"""

import json
import os
import pathlib
import re
import subprocess
import sys

STATE = pathlib.Path(os.environ["STANDIN_STATE_DIR"])
REGISTRY = os.environ["ECR_REGISTRY_ENDPOINT"]
ECR_HOST = re.compile(r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")


def record(args):
    with open(STATE / "calls.jsonl", "a", encoding="utf-8") as calls:
        calls.write(json.dumps({"tool": "docker", "args": args}) + "\n")


def fail(message, code=1):
    print(message, file=sys.stderr)
    sys.exit(code)


def podman(*args, check=True, **kwargs):
    done = subprocess.run(["podman", *args], **kwargs)
    if check and done.returncode != 0:
        sys.exit(done.returncode)
    return done


def remember(*refs):
    """Names this rehearsal gave images, for its clean-up ($PODMAN_TAGS_FILE)."""
    listing = os.environ.get("PODMAN_TAGS_FILE")
    if listing:
        with open(listing, "a", encoding="utf-8") as tags:
            tags.writelines(f"{ref}\n" for ref in refs)


def on_registry(ref):
    """The address the emulator's registry serves an ECR image reference at."""
    host, slash, path = ref.partition("/")
    if not slash or not ECR_HOST.match(host):
        fail(
            f"{ref} is not an image in the account's ECR registry; the rehearsal serves only "
            "ACCOUNT.dkr.ecr.REGION.amazonaws.com (the buildspec pushes to $REPOSITORY_URI)"
        )
    return f"{REGISTRY}/{path}"


def login(args):
    host = args[-1]
    if not ECR_HOST.match(host):
        fail(f"docker login {host}: the rehearsal serves only the account's ECR registry")
    podman("login", "--tls-verify=false", *args[:-1], REGISTRY)


def build(args):
    kept, i = [], 0
    while i < len(args):
        if args[i] == "--cache-from":
            print(
                f"[podman] --cache-from {args[i + 1]} dropped: podman reads it as a cache "
                "repository, not an image; the local layer cache serves instead",
                file=sys.stderr,
            )
            i += 2
            continue
        kept.append(args[i])
        i += 1
    # The pipeline's first build finds no layer cache, as on a fresh CodeBuild host (the local
    # Docker layer cache lives on one host, for builds close together); later builds of the same
    # rehearsal may use what earlier ones left.
    marker = os.environ.get("LAYER_CACHE_MARKER")
    if marker and not os.path.exists(marker):
        print("[podman] the pipeline's first build: no layer cache yet (--no-cache)", file=sys.stderr)
        kept.insert(0, "--no-cache")
        pathlib.Path(marker).touch()
    remember(*(kept[i + 1] for i, arg in enumerate(kept[:-1]) if arg in ("--tag", "-t")))
    podman("build", "--isolation=chroot", "--format", "docker", *kept)


def push(args):
    (ref,) = args
    digest_file = STATE / "push.digest"
    digest_file.unlink(missing_ok=True)
    podman(
        "push", "--tls-verify=false", "--format", "v2s2", "--digestfile", str(digest_file), ref, on_registry(ref)
    )
    digest = digest_file.read_text().strip()
    with open(STATE / "pushes.jsonl", "a", encoding="utf-8") as pushes:
        pushes.write(json.dumps({"ref": ref, "digest": digest}) + "\n")
    tag = ref.rsplit(":", 1)[-1]
    print(f"{tag}: digest: {digest}")


def pull(args):
    (ref,) = args
    remember(on_registry(ref), ref)
    podman("pull", "--tls-verify=false", "--quiet", on_registry(ref))
    podman("tag", on_registry(ref), ref)


def main():
    args = sys.argv[1:]
    record(args)
    if not args:
        fail("usage: docker COMMAND")
    command, rest = args[0], args[1:]
    if command in ("run", "exec", "start"):
        fail(f"docker {command}: containers cannot run on this machine; a build step must not need one")
    handlers = {"login": login, "build": build, "push": push, "pull": pull}
    if command in handlers:
        handlers[command](rest)
    else:
        # create, cp, rm, tag, images, inspect: the same in podman.
        sys.exit(podman(command, *rest, check=False).returncode)


main()
