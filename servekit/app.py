"""The CDK app of a servekit project: load servekit.yaml, build the model artifacts, compose the stacks (and the
pipeline), run cdk-nag, synth.

Wiring only. `servekit synth` runs it (`python -O -m servekit.app`, in the project's folder, with the context the
CDK CLI would give it: servekit.project); so does the CDK CLI, as a project's cdk.json says. The config file is the
`config` context value (default servekit.yaml), relative to the current folder: `cdk synth -c config=other.yaml`.
"""

from __future__ import annotations

import sys
from pathlib import Path


def main() -> None:
    import aws_cdk as cdk

    from servekit import project
    from servekit.constructs.nag import add_nag_packs
    from servekit.stacks import add_serving_stacks
    from servekit.stacks.pipeline_stack import add_pipeline_stack
    from servekit.synth import build_model_data, load_or_exit

    app = cdk.App()
    config_file = app.node.try_get_context("config") or project.CONFIG_NAME
    config = load_or_exit(config_file)
    model_data = build_model_data(config, cache_dir=project.of(Path(config_file)).cache_dir,
                                  progress=lambda line: print(line, file=sys.stderr))
    add_serving_stacks(app, config, model_data)
    add_pipeline_stack(app, config, model_data, config_file)  # only when the config has a `pipeline` block
    add_nag_packs(app)
    app.synth()


if __name__ == "__main__":
    main()
