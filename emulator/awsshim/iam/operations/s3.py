"""S3 operations -> IAM actions and resources. Parameters (Bucket, Key, VersionId, CopySource, prefix,
Delete) are built from the URL and body by the enforcer.
"""

from __future__ import annotations

from typing import Callable
from urllib.parse import parse_qs, unquote

from .common import Check, OperationTable, Request
from ..policy import as_list


def _s3_bucket(r: Request) -> str:
    return f"arn:aws:s3:::{r.param('Bucket') or ''}"


def _s3_object(r: Request) -> str:
    return f"arn:aws:s3:::{r.param('Bucket') or ''}/{r.param('Key') or ''}"


def _s3(action: str, resource: Callable[[Request], str], versioned: str | None = None) -> Callable[[Request], list[Check]]:
    def checks(r: Request) -> list[Check]:
        chosen = versioned if versioned and r.param("VersionId") else action
        extra: tuple[tuple[str, str], ...] = ()
        if chosen == "s3:ListBucket" and r.param("prefix") is not None:
            extra = (("s3:prefix", str(r.param("prefix"))),)
        return [Check(chosen, (resource(r),), extra, ("s3", str(r.param("Bucket") or "")))]

    return checks


def _s3_copy(r: Request) -> list[Check]:
    source = unquote(str(r.param("CopySource") or "")).lstrip("/")
    path, _, query = source.partition("?")
    bucket, _, key = path.partition("/")
    version = parse_qs(query).get("versionId")
    return [
        Check("s3:PutObject", (_s3_object(r),), (), ("s3", str(r.param("Bucket") or ""))),
        Check(
            "s3:GetObjectVersion" if version else "s3:GetObject",
            (f"arn:aws:s3:::{bucket}/{key}",),
            (),
            ("s3", bucket),
        ),
    ]


def s3_delete_entries(body: bytes) -> list[dict[str, str]]:
    """The <Object> entries of a DeleteObjects body: [{"Key", "VersionId"?}]; [] when unreadable
    (S3 then answers MalformedXML)."""
    import xml.etree.ElementTree as ElementTree

    try:
        root = ElementTree.fromstring(body or b"")
    except ElementTree.ParseError:
        return []
    entries: list[dict[str, str]] = []
    for element in root.iter():
        if element.tag.rsplit("}", 1)[-1] != "Object":
            continue
        entry: dict[str, str] = {}
        for child in element:
            name = child.tag.rsplit("}", 1)[-1]
            if name in ("Key", "VersionId") and child.text is not None:
                entry[name] = child.text
        if "Key" in entry:
            entries.append(entry)
    return entries


def _s3_delete_objects(r: Request) -> list[Check]:
    """DeleteObjects is authorized per key, as a DeleteObject would be (S3 API Reference,
    DeleteObjects): s3:DeleteObject, or s3:DeleteObjectVersion for a key with a VersionId."""
    bucket = str(r.param("Bucket") or "")
    plain: list[str] = []
    versioned: list[str] = []
    for entry in as_list(r.params.get("Delete")):
        if isinstance(entry, dict) and entry.get("Key") is not None:
            arn = f"arn:aws:s3:::{bucket}/{entry['Key']}"
            target = versioned if entry.get("VersionId") else plain
            if arn not in target:
                target.append(arn)
    ref = ("s3", bucket)
    checks: list[Check] = []
    if plain:
        checks.append(Check("s3:DeleteObject", tuple(plain), (), ref))
    if versioned:
        checks.append(Check("s3:DeleteObjectVersion", tuple(versioned), (), ref))
    # No readable key (S3 answers MalformedXML): judge every object so nothing slips through.
    return checks or [Check("s3:DeleteObject", (f"arn:aws:s3:::{bucket}/*",), (), ref)]


OPERATIONS: OperationTable = {
    # S3 (operation names as the shim records them). Sources: "Actions, resources, and condition
    # keys for Amazon S3" and the S3 API Reference's permissions paragraph per operation (which
    # maps e.g. DeleteBucketEncryption to s3:PutEncryptionConfiguration).
    ("s3", "GetObject"): _s3("s3:GetObject", _s3_object, "s3:GetObjectVersion"),
    ("s3", "HeadObject"): _s3("s3:GetObject", _s3_object, "s3:GetObjectVersion"),
    ("s3", "PutObject"): _s3("s3:PutObject", _s3_object),
    ("s3", "CopyObject"): _s3_copy,
    ("s3", "CreateMultipartUpload"): _s3("s3:PutObject", _s3_object),
    ("s3", "UploadPart"): _s3("s3:PutObject", _s3_object),
    ("s3", "CompleteMultipartUpload"): _s3("s3:PutObject", _s3_object),
    ("s3", "AbortMultipartUpload"): _s3("s3:AbortMultipartUpload", _s3_object),
    ("s3", "DeleteObject"): _s3("s3:DeleteObject", _s3_object, "s3:DeleteObjectVersion"),
    ("s3", "DeleteObjects"): _s3_delete_objects,
    ("s3", "GetBucketLocation"): _s3("s3:GetBucketLocation", _s3_bucket),
    ("s3", "ListObjects"): _s3("s3:ListBucket", _s3_bucket),
    ("s3", "ListObjectsV2"): _s3("s3:ListBucket", _s3_bucket),
    ("s3", "HeadBucket"): _s3("s3:ListBucket", _s3_bucket),
    ("s3", "ListObjectVersions"): _s3("s3:ListBucketVersions", _s3_bucket),
    **{
        ("s3", operation): _s3(action, _s3_bucket)
        for operation, action in (
            ("CreateBucket", "s3:CreateBucket"),
            ("DeleteBucket", "s3:DeleteBucket"),
            ("GetBucketEncryption", "s3:GetEncryptionConfiguration"),
            ("PutBucketEncryption", "s3:PutEncryptionConfiguration"),
            ("DeleteBucketEncryption", "s3:PutEncryptionConfiguration"),
            ("GetBucketLifecycleConfiguration", "s3:GetLifecycleConfiguration"),
            ("PutBucketLifecycleConfiguration", "s3:PutLifecycleConfiguration"),
            ("DeleteBucketLifecycle", "s3:PutLifecycleConfiguration"),
            ("GetBucketOwnershipControls", "s3:GetBucketOwnershipControls"),
            ("PutBucketOwnershipControls", "s3:PutBucketOwnershipControls"),
            ("DeleteBucketOwnershipControls", "s3:PutBucketOwnershipControls"),
            ("GetBucketPolicy", "s3:GetBucketPolicy"),
            ("PutBucketPolicy", "s3:PutBucketPolicy"),
            ("DeleteBucketPolicy", "s3:DeleteBucketPolicy"),
            ("GetBucketTagging", "s3:GetBucketTagging"),
            ("PutBucketTagging", "s3:PutBucketTagging"),
            ("DeleteBucketTagging", "s3:PutBucketTagging"),
            ("GetBucketVersioning", "s3:GetBucketVersioning"),
            ("PutBucketVersioning", "s3:PutBucketVersioning"),
            ("GetPublicAccessBlock", "s3:GetBucketPublicAccessBlock"),
            ("PutPublicAccessBlock", "s3:PutBucketPublicAccessBlock"),
            ("DeletePublicAccessBlock", "s3:PutBucketPublicAccessBlock"),
        )
    },
}
