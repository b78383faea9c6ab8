"""The report as text (the terminal) or Markdown (a pull-request comment)."""

from __future__ import annotations

from servekit.diff.impact import (
    Report,
)


def _raw_lines(report: Report) -> list[str]:
    lines: list[str] = []
    for stack in report.stacks:
        if not stack.changed:
            continue
        lines.append(f"{stack.key}")
        if stack.old is None or stack.new is None:
            lines.append(f"  {'+ new stack' if stack.old is None else '- stack removed'}")
            continue
        for change in stack.resources:
            sign = {"add": "+", "remove": "-", "update": "~", "replace": "±"}[change.action]
            what = {"add": "added", "remove": "removed", "update": "updated in place", "replace": "REPLACED"}[change.action]
            if change.replace_unknown:
                what = "updated (replacement unknown: no schema for this type)"
            renamed = f" (was {change.renamed_from})" if change.renamed_from else ""
            lines.append(f"  {sign} {change.logical_id}{renamed} {change.type}: {what}")
            for prop in change.changes:
                lines.append(f"      {prop.describe()}")
        for prop in stack.outputs:
            lines.append(f"  ~ Outputs.{prop.describe()}")
        for prop in stack.other:
            lines.append(f"  ~ {prop.describe()}")
    return lines


def render_text(report: Report) -> str:
    out = [f"servekit diff: {report.old_label} → {report.new_label}", ""]
    width = max([len(e.endpoint) for e in report.endpoints] + [len(s.stack) for s in report.others] + [8])
    out.append(f"{'endpoint'.ljust(width)}  impact")
    for e in report.endpoints:
        out.append(f"{e.endpoint.ljust(width)}  {e.headline}")
        if e.traffic and e.impact in ("fleet replaced", "components rolled"):
            label = "copies" if e.impact == "components rolled" else "traffic"
            out.append(f"{''.ljust(width)}  {label}: {e.traffic}")
        if e.impact in ("fleet replaced", "endpoint replaced") and e.in_place:
            out.append(f"{''.ljust(width)}  also in place: {', '.join(e.in_place)}")
    if report.others:
        out += ["", f"{'stack'.ljust(width)}  impact"]
        out += [f"{s.stack.ljust(width)}  {s.headline}" for s in report.others]
    raw = _raw_lines(report)
    out += ["", "property diff:" if raw else "property diff: none", *raw]
    return "\n".join(out) + "\n"


def render_markdown(report: Report) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    out = [f"### servekit diff: `{report.old_label}` → `{report.new_label}`", "",
           "| endpoint | impact | traffic |", "|---|---|---|"]
    for e in report.endpoints:
        impact = f"**{cell(e.headline)}**" if e.impact != "no change" else "no change"
        if e.impact in ("fleet replaced", "endpoint replaced") and e.in_place:
            impact += f"<br>also in place: {cell(', '.join(e.in_place))}"
        out.append(f"| `{e.endpoint}` | {impact} | {cell(e.traffic or '')} |")
    if report.others:
        out += ["", "| stack | impact |", "|---|---|"]
        out += [f"| `{s.stack}` | {cell(s.headline)} |" for s in report.others]
    raw = _raw_lines(report)
    if raw:
        out += ["", "<details><summary>property diff</summary>", "", "```", *raw, "```", "", "</details>"]
    else:
        out += ["", "No property changes."]
    return "\n".join(out) + "\n"
