"""`servekit diff`'s arguments and run."""

from __future__ import annotations

import sys
from typing import Any

from servekit.diff.assembly import (
    DiffError,
)
from servekit.diff.git import (
    WORKING_TREE,
    run,
)
from servekit.diff.render import (
    render_markdown,
    render_text,
)


def add_arguments(parser: Any) -> None:
    parser.add_argument("old", help="cdk.out folder or git ref (e.g. main, HEAD~1)")
    parser.add_argument("new", nargs="?", default=WORKING_TREE,
                        help="cdk.out folder or git ref; default: the working tree, synthesized")
    parser.add_argument("--config", default="servekit.yaml", help="the config both sides synthesize (for git refs), "
                        "relative to the repository's root")
    parser.add_argument("--format", choices=["text", "markdown"], default="text",
                        help="markdown: for a pull-request comment")


def run_command(args: Any, *, console: Any, errors: Any) -> int:
    try:
        report = run(args.old, args.new, config=args.config, progress=lambda m: errors.print(m, markup=False))
    except DiffError as err:
        errors.print(f"servekit: {err}", markup=False)
        return 2
    text = render_markdown(report) if args.format == "markdown" else render_text(report)
    sys.stdout.write(text)
    return 0
