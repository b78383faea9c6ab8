#!/usr/bin/env python3
"""The CDK app: load servekit.yaml, build the model artifacts, compose the stacks (and the pipeline), run cdk-nag, synth.

Wiring only. The config file is the `config` context value (default servekit.yaml):
`cdk synth -c config=path/to/servekit.yaml`.
"""

import sys

import aws_cdk as cdk

from servekit.constructs.nag import add_nag_packs
from servekit.stacks import add_serving_stacks
from servekit.stacks.pipeline_stack import add_pipeline_stack
from servekit.synth import build_model_data, load_or_exit

app = cdk.App()
config_file = app.node.try_get_context("config") or "servekit.yaml"
config = load_or_exit(config_file)
model_data = build_model_data(config, progress=lambda line: print(line, file=sys.stderr))
add_serving_stacks(app, config, model_data)
add_pipeline_stack(app, config, model_data, config_file)  # only when the config has a `pipeline` block
add_nag_packs(app)
app.synth()
