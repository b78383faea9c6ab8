"""pydantic's validation errors as one line each, naming the field as the YAML spells it, the value and the
fix (an unknown key gets the closest allowed one)."""

from __future__ import annotations

import difflib
import functools
import typing
from typing import Any

from pydantic import BaseModel

# Discriminator keys of servekit's tagged unions: the endpoint's `server`, the source's `kind`.
_DISCRIMINATORS = ("server", "kind")


def describe(err: dict[str, Any], root: type[BaseModel]) -> list[str]:
    """One line per problem of an error of `root`'s validation; a cross-field rule may report several, one per
    line of its message."""
    field = _loc(tuple(err["loc"]), root)
    if err["type"] == "value_error":
        return [f"{field}: {line}" for line in err["msg"].removeprefix("Value error, ").split("\n")]
    return [_describe_one(err, field, root)]


def _loc(loc: tuple[Any, ...], root: type[BaseModel]) -> str:
    out = ""
    tags = _tags(root)
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in tags:
            continue  # the discriminator's tag in pydantic's path: noise for a reader of the YAML
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


@functools.cache
def _tags(root: type[BaseModel]) -> dict[str, type[BaseModel]]:
    """tag -> model for every tagged union reachable from `root` (e.g. "triton" -> TritonEndpointSpec)."""
    found: dict[str, type[BaseModel]] = {}
    seen: set[type] = set()

    def walk(model: type[BaseModel]) -> None:
        if model in seen:
            return
        seen.add(model)
        for key in _DISCRIMINATORS:
            field = model.model_fields.get(key)
            if field is not None and typing.get_origin(field.annotation) is typing.Literal:
                for tag in typing.get_args(field.annotation):
                    found.setdefault(tag, model)
        for field in model.model_fields.values():
            for sub in _models_in(field.annotation):
                walk(sub)

    walk(root)
    return found


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models in an annotation (X, X | None, list[X], Annotated[X, ...]), in order."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def _allowed_keys(model: type[BaseModel] | None) -> list[str]:
    return sorted(model.model_fields) if model else []


def _model_at(loc: tuple[Any, ...], root: type[BaseModel]) -> type[BaseModel] | None:
    """The pydantic model that owns the last key of `loc` (to list the allowed keys)."""
    tags = _tags(root)
    current: Any = root
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        if part in tags and not (isinstance(current, type) and issubclass(current, BaseModel)
                                 and part in current.model_fields):
            current = tags[part]
            continue
        if isinstance(current, type) and issubclass(current, BaseModel) and part in current.model_fields:
            current = next(iter(_models_in(current.model_fields[part].annotation)), None)
        else:
            return None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _describe_one(err: dict[str, Any], field: str, root: type[BaseModel]) -> str:
    loc = tuple(err["loc"])
    kind = err["type"]
    value = err.get("input")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(_model_at(loc, root))
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"allowed keys: {', '.join(allowed)}"
        return f"{field}: unknown key (value {value!r}); remove it — {hint}"
    if kind == "missing":
        return f"{field}: required and missing; add it"
    if kind == "union_tag_invalid":
        ctx = err.get("ctx", {})
        plugin = (" (a server of a plug-in package is known once that package is installed: its `servekit.servers` "
                  "entry point registers it)") if ctx.get("discriminator") == "'server'" else ""
        return f"{field}: {ctx.get('tag')!r} is not one of {ctx.get('expected_tags')}; use one of them{plugin}"
    if kind == "union_tag_not_found":
        return f"{field}: needs its `{err.get('ctx', {}).get('discriminator', 'kind')}` key; add it"
    msg = err["msg"]
    shown = value if not isinstance(value, dict | list) else "(block)"
    if kind == "string_pattern_mismatch":
        return f"{field}: {value!r} does not match {err['ctx']['pattern']}; rename it to match"
    return f"{field}: {shown!r}: {msg}; fix the value"
