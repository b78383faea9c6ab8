#!/usr/bin/env python3
"""The embedded default's CDK app (cdk.json runs it): servekit's own app, servekit/app.py, as every servekit project
runs it (`python -O -m servekit.app`). Kept as a file so `cdk synth` in this checkout works as it always did."""

from servekit.app import main

main()
