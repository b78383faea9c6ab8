"""`servekit diff OLD NEW`: what a change does to each endpoint, read from two synthesized cloud assemblies.

A reviewer of a pull request needs, per endpoint, one of:

- **no change**;
- **in place** (tags, scaling, alarms, dashboard, permissions, deployment policy): no new instances;
- **fleet replaced**: a new EndpointConfig, so SageMaker starts a new fleet and shifts traffic to it as the
  endpoint's deployment policy says (canary, linear, all at once, rolling), with the root causes
  ("because SAGEMAKER_TS_BATCH_SIZE 1→4", "model artifact changed", "instance type ml.m5.xlarge→ml.g5.xlarge");
- **endpoint replaced**: a new endpoint name (callers of the old one break);
- **new endpoint** / **endpoint removed**;

then the raw property diff. No AWS account is used: everything is read from the templates.

How it decides. CloudFormation replaces a resource when a create-only property changes (the resource
schemas' `createOnlyProperties`; servekit's table below is checked against cfn-lint's copy of them by a
unit test). A replaced resource gets a new physical id, so every property that refers to it (`Ref`,
`Fn::GetAtt`, `Fn::Sub`, or `Fn::ImportValue` of an export from another stack) changes too, even though
its text does not: a new SAGEMAKER_* variable replaces the Model, whose new name replaces the immutable
EndpointConfig, whose new name makes the Endpoint update, which is a new fleet. That propagation is run to
a fixed point across all stacks of the assembly.

OLD and NEW are cloud assembly folders (`cdk.out`), or git refs: a ref is checked out in a temporary
`git worktree` and synthesized there with its own `servekit synth`; NEW left out is the working tree.

The package, one job per module: assembly.py (reading cdk.out), changes.py (resource changes and their
propagation), impact.py (per endpoint), render.py (text, Markdown), git.py (refs and worktrees), command.py.
This module re-exports their public names.
"""

from servekit.diff.assembly import (
    ASSET_HASH,
    IGNORED_TYPES,
    DiffError,
    StackTemplate,
    load_assembly,
)
from servekit.diff.changes import (
    CREATE_ONLY,
    PropertyChange,
    ResourceChange,
    StackDiff,
    create_only_properties,
    diff_assemblies,
)
from servekit.diff.command import (
    add_arguments,
    run_command,
)
from servekit.diff.git import (
    WORKING_TREE,
    is_ref,
    repo_root,
    resolve,
    run,
    synthesize,
)
from servekit.diff.impact import (
    SEVERITY,
    EndpointImpact,
    Report,
    StackImpact,
    compare,
    impacts,
)
from servekit.diff.render import (
    render_markdown,
    render_text,
)

__all__ = [
    "CREATE_ONLY",
    "ASSET_HASH",
    "DiffError",
    "EndpointImpact",
    "IGNORED_TYPES",
    "PropertyChange",
    "Report",
    "ResourceChange",
    "SEVERITY",
    "StackDiff",
    "StackImpact",
    "StackTemplate",
    "WORKING_TREE",
    "add_arguments",
    "compare",
    "create_only_properties",
    "diff_assemblies",
    "impacts",
    "is_ref",
    "load_assembly",
    "render_markdown",
    "render_text",
    "repo_root",
    "resolve",
    "run",
    "run_command",
    "synthesize",
]
