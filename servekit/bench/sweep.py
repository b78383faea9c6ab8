"""`--sweep key=v1,v2`: the same endpoint with one tuning value changed, checked by the schema."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from servekit.bench.common import (
    HARD_LIMITS,
    BenchError,
)


def split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside [...] or {...}: "1,[4,8],8" -> ["1", "[4,8]", "8"]."""
    parts, depth, current = [], 0, []
    for char in text:
        if char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
            if depth < 0:
                raise BenchError(f"{text!r}: a closing bracket without an opening one")
        if char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    if depth != 0:
        raise BenchError(f"{text!r}: an opening bracket is never closed")
    parts.append("".join(current).strip())
    if any(not p for p in parts):
        raise BenchError(f"{text!r}: an empty value between commas")
    return parts


def parse_numbers(text: str, what: str, kind: type = int) -> list:
    try:
        values = [kind(v) for v in split_top_level(text)]
    except ValueError:
        raise BenchError(f"{what} {text!r}: expected comma-separated {kind.__name__}s, e.g. 1,4,16") from None
    return values


@dataclass(frozen=True)
class Sweep:
    key: str  # as typed
    path: tuple[str, ...]  # resolved, e.g. ("tuning", "batch_size")
    raw_values: tuple[str, ...]
    values: tuple[Any, ...]

    def label(self, index: int) -> str:
        return f"{self.key}={self.raw_values[index]}"


def _model_class(annotation: Any) -> type | None:
    """The pydantic model class inside an annotation (X, X | None, Annotated[X, ...]), or None."""
    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    found = [c for c in (_model_class(a) for a in getattr(annotation, "__args__", ()) or ()) if c is not None]
    return found[0] if len(found) == 1 else None


def _paths(cls: type, prefix: tuple[str, ...] = (), depth: int = 3) -> Iterable[tuple[str, ...]]:
    for name, info in cls.model_fields.items():
        yield (*prefix, name)
        child = _model_class(info.annotation)
        if child is not None and depth > 1:
            yield from _paths(child, (*prefix, name), depth - 1)


def resolve_key(endpoint: Any, key: str) -> tuple[str, ...]:
    """The field path a sweep key names: a dotted path (`model.instance_group.count`), an alias, or a bare field
    name looked up in `tuning`, then in `model`, then on the endpoint itself."""
    cls = type(endpoint)
    all_paths = set(_paths(cls))
    alias = endpoint.plugin.sweep_aliases.get(key, "")
    if alias is None:
        raise BenchError(f"--sweep {key}: ambiguous on {endpoint.server}; sweep min_workers or max_workers "
                         "(tuning.max_workers), one at a time")
    if alias:
        key = alias
    if "." in key:
        path = tuple(key.split("."))
        if path not in all_paths:
            raise BenchError(f"--sweep {key}: {cls.__name__} has no such field; fields: "
                             + ", ".join(sorted(".".join(p) for p in all_paths if len(p) <= 2)))
        return path
    for root in ("tuning", "model"):
        matches = sorted(p for p in all_paths if p[0] == root and p[-1] == key)
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise BenchError(f"--sweep {key}: ambiguous; name one of " + ", ".join(".".join(p) for p in matches))
    if (key,) in all_paths:
        return (key,)
    tuning = sorted(p[-1] for p in all_paths if p[0] == "tuning" and len(p) == 2)
    raise BenchError(f"--sweep {key}: no such setting on a {endpoint.server} endpoint; tuning fields: "
                     + ", ".join(tuning) + " (or a dotted path such as model.max_batch_size)")


def parse_sweep(endpoint: Any, text: str, *, problems_of: Callable[[Any], list[str]] | None = None) -> Sweep:
    """`key=v1,v2,...` -> a Sweep whose values are YAML scalars or lists (8, true, [4,8]), each checked as
    with_setting checks it."""
    import yaml

    key, sep, values = text.partition("=")
    if not sep or not key.strip() or not values.strip():
        raise BenchError(f"--sweep {text!r}: write key=value1,value2,... (e.g. batch_size=1,8)")
    key = key.strip()
    raw = split_top_level(values)
    if len(raw) > HARD_LIMITS["steps"]:
        raise BenchError(f"--sweep: {len(raw)} values; at most {HARD_LIMITS['steps']}")
    parsed = []
    for value in raw:
        try:
            parsed.append(yaml.safe_load(value))
        except yaml.YAMLError:
            raise BenchError(f"--sweep {key}: value {value!r} is not a YAML scalar or list") from None
    path = resolve_key(endpoint, key)
    for value in parsed:  # fail before any server starts
        with_setting(endpoint, path, value, problems_of=problems_of)
    return Sweep(key=key, path=path, raw_values=tuple(raw), values=tuple(parsed))


def with_setting(endpoint: Any, path: Sequence[str], value: Any, *,
                 problems_of: Callable[[Any], list[str]] | None = None) -> Any:
    """A copy of `endpoint` with the field at `path` set to `value` (model_copy down the path, creating a
    missing sub-block such as dynamic_batching with its defaults), validated again as a whole: a value the
    schema refuses raises BenchError with the schema's message. `problems_of`: the checks `validate` runs after
    the schema (servekit.config.endpoint_problems: image versions, GPU-only settings, GPU compatibility), handed
    in by the caller; without it, the schema's alone."""
    from pydantic import ValidationError

    def put(obj: Any, cls: type, rest: Sequence[str]) -> Any:
        name = rest[0]
        if len(rest) == 1:
            return obj.model_copy(update={name: value})
        child_cls = _model_class(cls.model_fields[name].annotation)
        child = getattr(obj, name)
        if child is None:
            try:
                child = child_cls()
            except ValidationError:
                raise BenchError(f"--sweep {'.'.join(path)}: {name} is not set in the config and has required "
                                 "fields; set it in servekit.yaml first") from None
        return obj.model_copy(update={name: put(child, child_cls, rest[1:])})

    changed = put(endpoint, type(endpoint), list(path))
    try:
        checked = type(endpoint).model_validate(changed.model_dump())
    except ValidationError as err:
        lines = [f"{'.'.join(str(p) for p in e['loc']) or '(endpoint)'}: {e['msg'].removeprefix('Value error, ')}"
                 for e in err.errors()]
        raise BenchError(f"--sweep {'.'.join(path)}={value!r} is not a valid {endpoint.server} setting: "
                         + "; ".join(lines)) from None
    problems = problems_of(checked) if problems_of is not None else []
    if problems:
        raise BenchError(f"--sweep {'.'.join(path)}={value!r} is not a valid {endpoint.server} setting: "
                         + "; ".join(problems))
    return checked
