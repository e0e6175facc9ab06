"""Stand-in `docker` for the local pipeline rehearsal.

It builds by interpreting the Dockerfile itself: the stages' COPY, WORKDIR and ENV
instructions are applied to a directory standing for the image's file tree, and RUN commands
run there with bash and the host's Python instead of the base image (so a failing unit test
fails `docker build --target test` as it would in Docker). Absolute paths in RUN commands
(other than system directories) resolve inside that file tree. `push` sends a real image
manifest to ECR with PutImage (layer blobs are not uploaded: the emulator does not check
them). Every call is recorded in $STANDIN_STATE_DIR/calls.jsonl.
"""

import hashlib
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

STATE = pathlib.Path(os.environ["STANDIN_STATE_DIR"])
IMAGES = STATE / "images.json"
CONTAINERS = STATE / "containers.json"
MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
SYSTEM_DIRS = ("usr", "bin", "sbin", "etc", "lib", "lib64", "dev", "proc", "sys", "tmp", "opt", "var")


def record(args):
    with open(STATE / "calls.jsonl", "a", encoding="utf-8") as calls:
        calls.write(json.dumps({"tool": "docker", "args": args}) + "\n")


def load(path):
    return json.loads(path.read_text()) if path.exists() else {}


def save(path, value):
    path.write_text(json.dumps(value, indent=1))


def fail(message, code=1):
    print(message, file=sys.stderr)
    sys.exit(code)


def split_ref(ref):
    """`host/repo:tag` -> (host or None, repo, tag)."""
    host = None
    first, _, rest = ref.partition("/")
    if rest and ("." in first or ":" in first):
        host, ref = first, rest
    name, _, tag = ref.rpartition(":") if ":" in ref.rsplit("/", 1)[-1] else (ref, "", "latest")
    return host, name, tag or "latest"


def parse_dockerfile(path):
    stages, current = [], None
    logical, pending = [], ""
    for raw in path.read_text().splitlines():
        line = raw.rstrip()
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    for line in logical:
        word, _, rest = line.strip().partition(" ")
        word = word.upper()
        if word == "FROM":
            parts = rest.split()
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            current = {"name": name, "base": parts[0], "steps": []}
            stages.append(current)
        elif current is not None:
            current["steps"].append((word, rest.strip()))
    return stages


def stage_chain(stages, target):
    by_name = {s["name"]: s for s in stages if s["name"]}
    stage = by_name.get(target) if target else stages[-1]
    if stage is None:
        fail(f"ERROR: failed to solve: target stage \"{target}\" could not be found")
    chain = [stage]
    while chain[0]["base"] in by_name:
        chain.insert(0, by_name[chain[0]["base"]])
    return chain


def inside(rootfs, workdir, path):
    return rootfs / path.lstrip("/") if path.startswith("/") else rootfs / workdir.lstrip("/") / path


def rewrite_absolute_paths(command, rootfs):
    pattern = r"(^|[\s=:'\"])/(?!(?:%s)\b)(?=[A-Za-z])" % "|".join(SYSTEM_DIRS)
    return re.sub(pattern, lambda m: m.group(1) + str(rootfs) + "/", command)


def build(args):
    target, tags, labels, context, platform = None, [], {}, None, "linux/amd64"
    dockerfile = None
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("--target", "--tag", "-t", "--cache-from", "--build-arg", "--label", "-f", "--file", "--platform"):
            value = args[i + 1]
            i += 2
            if arg == "--target":
                target = value
            elif arg in ("--tag", "-t"):
                tags.append(value)
            elif arg == "--label":
                key, _, val = value.partition("=")
                labels[key] = val
            elif arg in ("-f", "--file"):
                dockerfile = pathlib.Path(value)
            elif arg == "--platform":
                platform = value
            continue
        if arg.startswith("-"):
            fail(f"stand-in docker build: unsupported option {arg}")
        context = pathlib.Path(arg)
        i += 1
    if context is None or not context.is_dir():
        fail(f"ERROR: unable to prepare context: path {context!s} not found")
    dockerfile = dockerfile or context / "Dockerfile"
    if not dockerfile.exists():
        fail(f"ERROR: failed to solve: failed to read dockerfile: open {dockerfile}: no such file or directory")
    chain = stage_chain(parse_dockerfile(dockerfile), target)
    image_id = hashlib.sha256(json.dumps([tags, labels, target, str(context)]).encode()).hexdigest()
    rootfs = STATE / "rootfs" / image_id[:16]
    shutil.rmtree(rootfs, ignore_errors=True)
    rootfs.mkdir(parents=True)
    workdir, env, config = "/", {}, {}
    print(f"[stand-in] building from {chain[0]['base']} with the host's tools instead of the base image")
    for stage in chain:
        for word, rest in stage["steps"]:
            if word == "WORKDIR":
                workdir = rest if rest.startswith("/") else workdir.rstrip("/") + "/" + rest
                inside(rootfs, "/", workdir).mkdir(parents=True, exist_ok=True)
            elif word == "ENV":
                for pair in rest.split():
                    key, _, value = pair.partition("=")
                    env[key] = value
            elif word == "COPY":
                *sources, dest = rest.split()
                target_dir = inside(rootfs, workdir, dest)
                target_dir.mkdir(parents=True, exist_ok=True)
                for source in sources:
                    source_path = context / source
                    if source_path.is_dir():
                        shutil.copytree(source_path, target_dir, dirs_exist_ok=True)
                    elif source_path.exists():
                        shutil.copy2(source_path, target_dir / source_path.name)
                    else:
                        fail(f"ERROR: failed to solve: failed to compute cache key: \"/{source}\": not found")
            elif word == "RUN":
                command = rewrite_absolute_paths(rest, rootfs)
                print(f"#RUN {rest}", flush=True)
                run_env = {
                    "PATH": os.environ.get("STANDIN_IMAGE_PATH", "/usr/bin:/bin"),
                    "HOME": str(rootfs),
                    **env,
                }
                done = subprocess.run(["bash", "-c", command], cwd=inside(rootfs, "/", workdir), env=run_env)
                if done.returncode != 0:
                    fail(
                        f"ERROR: failed to solve: process \"/bin/sh -c {rest}\" did not complete "
                        f"successfully: exit code: {done.returncode}"
                    )
            else:
                config[word] = rest
    images = load(IMAGES)
    for tag in tags:
        images[tag] = {"id": image_id, "rootfs": str(rootfs), "labels": labels, "env": env, "config": config, "platform": platform}
    save(IMAGES, images)
    print(f"Successfully built {image_id[:12]}")
    for tag in tags:
        print(f"Successfully tagged {tag}")


def tree_digest(rootfs):
    digest = hashlib.sha256()
    size = 0
    for path in sorted(p for p in pathlib.Path(rootfs).rglob("*") if p.is_file()):
        content = path.read_bytes()
        digest.update(str(path.relative_to(rootfs)).encode() + b"\0" + content)
        size += len(content)
    return "sha256:" + digest.hexdigest(), size


def manifest_of(image):
    layer_digest, layer_size = tree_digest(image["rootfs"])
    config = json.dumps(
        {
            "architecture": image.get("platform", "linux/amd64").split("/")[-1],
            "os": "linux",
            "config": {"Labels": image["labels"], "Env": [f"{k}={v}" for k, v in image["env"].items()]},
            "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        },
        sort_keys=True,
    ).encode()
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": len(config),
                "digest": "sha256:" + hashlib.sha256(config).hexdigest(),
            },
            "layers": [
                {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": layer_size, "digest": layer_digest}
            ],
        },
        sort_keys=True,
    )


def ecr():
    import boto3

    return boto3.client("ecr")


def push(ref):
    image = load(IMAGES).get(ref)
    if image is None:
        fail(f"An image does not exist locally with the tag: {ref}")
    host, repository, tag = split_ref(ref)
    if host is None or ".dkr.ecr." not in host:
        fail(f"stand-in docker push: {ref} is not an ECR image reference")
    from botocore.exceptions import ClientError

    manifest = manifest_of(image)
    try:
        pushed = ecr().put_image(
            registryId=host.split(".")[0],
            repositoryName=repository,
            imageManifest=manifest,
            imageManifestMediaType=MANIFEST_TYPE,
            imageTag=tag,
        )
    except ClientError as error:
        fail(f"error pushing {ref}: {error}")
    digest = pushed["image"]["imageId"]["imageDigest"]
    print(f"The push refers to repository [{host}/{repository}]")
    print(f"{tag}: digest: {digest} size: {len(manifest)}")


def pull(ref):
    if ref in load(IMAGES):
        print(f"{ref}: image is up to date")
        return
    host, repository, tag = split_ref(ref)
    found = ecr().batch_get_image(repositoryName=repository, imageIds=[{"imageTag": tag}]) if host else {}
    if not found.get("images"):
        fail(f"Error response from daemon: manifest for {ref} not found: manifest unknown")
    rootfs = STATE / "rootfs" / hashlib.sha256(ref.encode()).hexdigest()[:16]
    rootfs.mkdir(parents=True, exist_ok=True)
    images = load(IMAGES)
    images[ref] = {"id": found["images"][0]["imageId"]["imageDigest"], "rootfs": str(rootfs), "labels": {}, "env": {}, "config": {}}
    save(IMAGES, images)
    print(f"Status: Downloaded newer image for {ref}")


def main():
    args = sys.argv[1:]
    record(args)
    if not args:
        fail("usage: docker COMMAND")
    command, rest = args[0], args[1:]
    if command == "login":
        password = sys.stdin.read().strip()
        if "--password-stdin" not in rest or not password:
            fail("Error: Cannot perform an interactive login from a non TTY device")
        print("Login Succeeded")
    elif command == "build":
        build(rest)
    elif command == "push":
        push(rest[0])
    elif command == "pull":
        pull(rest[0])
    elif command == "create":
        image = rest[0]
        if image not in load(IMAGES):
            fail(f"Unable to find image '{image}' locally")
        containers = load(CONTAINERS)
        container = hashlib.sha256(f"{image}-{len(containers)}".encode()).hexdigest()[:12]
        containers[container] = image
        save(CONTAINERS, containers)
        print(container)
    elif command == "cp":
        source, dest = rest
        container, _, path = source.partition(":")
        image = load(CONTAINERS).get(container)
        if image is None:
            fail(f"Error response from daemon: No such container: {container}")
        rootfs = pathlib.Path(load(IMAGES)[image]["rootfs"])
        # `SRC/.` copies the directory's contents (pathlib would drop the trailing `.`).
        contents_only = path.endswith("/.")
        inner = rootfs / (path[:-2] if contents_only else path).lstrip("/")
        if not inner.exists():
            fail(f"Error response from daemon: Could not find the file {path} in container {container}")
        if contents_only:
            shutil.copytree(inner, dest, dirs_exist_ok=True)
        else:
            shutil.copy2(inner, dest)
    elif command == "rm":
        containers = load(CONTAINERS)
        if containers.pop(rest[0], None) is None:
            fail(f"Error response from daemon: No such container: {rest[0]}")
        save(CONTAINERS, containers)
        print(rest[0])
    else:
        fail(f"stand-in docker does not support `docker {command}`; the pipeline's buildspec should not need it")


main()
