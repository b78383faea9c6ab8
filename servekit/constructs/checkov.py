"""checkov skips, written where checkov reads them: the resource's CloudFormation Metadata
(`Metadata: {checkov: {skip: [{id, comment}]}}`). Like the cdk-nag acknowledgements in nag.py, each one is
exact (one check on one resource) and carries its reason; checkov then reports the check as SKIPPED with
that reason instead of FAILED, so a reviewer or a pipeline running checkov sees why, and nothing else is muted."""

from __future__ import annotations

import aws_cdk as cdk


def skip_check(resource: cdk.CfnResource, check_id: str, reason: str) -> None:
    """Skip checkov's `check_id` (e.g. CKV_AWS_370) on `resource` only, for `reason`."""
    current = resource.get_metadata("checkov") or {}
    skips = [s for s in current.get("skip", []) if s.get("id") != check_id]
    resource.add_metadata("checkov", {**current, "skip": [*skips, {"id": check_id, "comment": reason}]})


def skip_access_log_bucket(bucket: object) -> None:
    """A bucket that receives S3 server access logs is not itself logged (CKV_AWS_18)."""
    skip_check(bucket.node.default_child, "CKV_AWS_18",  # type: ignore[attr-defined]
               "This bucket receives the S3 server access logs: logging its own accesses would need another "
               "bucket, and that one another.")
