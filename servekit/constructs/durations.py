"""Durations made once per process: a Duration is immutable, and making one is a round trip to Node (jsii), so the
alarms, the scaling and the metrics of 150 endpoints share them (docs/performance.md, "jsii round trips")."""

from __future__ import annotations

from functools import cache

import aws_cdk as cdk


@cache
def seconds(count: int) -> cdk.Duration:
    return cdk.Duration.seconds(count)


@cache
def one_minute() -> cdk.Duration:
    """The period of every per-minute metric (CloudWatch shows cdk.Duration.minutes(1), not 60 seconds, the same)."""
    return cdk.Duration.minutes(1)
