"""The step reference, generated from the registry: the table in docs/pipelines.md and the
JSON Schema served by `GET /pipeline-steps`.

    python -m toucan.data.pipeline.reference           # rewrites docs/pipelines.md's table
    python -m toucan.data.pipeline.reference --check   # exits 1 when the docs differ

Both also keep frontend/src/pipelineCatalog.test.json (the catalog the studio's form tests read).

The JSON Schema of a step accepts every spelling of its fields: the canonical one (snake_case)
is a property as pydantic describes it; each other spelling is a property too, marked
`"x-spelling-of": "<canonical>"` (forms show the canonical ones), and a step gives at most one
spelling of a field. Legacy forms a model rewrites (the `legacy` note) are not in the schema.
"""

from __future__ import annotations

import copy
import functools
import itertools
import json
import re
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from toucan.data.pipeline.conditions import (
    OPERATORS,
    And,
    Comparison,
    DateBound,
    Inclusion,
    Match,
    NullCheck,
    Or,
    RelativeDate,
)
from toucan.data.pipeline.registry import FAMILIES, REGISTRY
from toucan.data.pipeline.step import NAME_PATTERN, Spec, Step, StepKind
from toucan.data.pipeline.steps.aggregate import Aggregation, Quantile, TotalDimension
from toucan.data.pipeline.steps.columns import IfThenElse
from toucan.data.pipeline.steps.rows import SortColumn

DOC_PATH = Path(__file__).resolve().parents[4] / "docs" / "pipelines.md"
CATALOG_PATH = Path(__file__).resolve().parents[4] / "frontend" / "src" / "pipelineCatalog.test.json"
START, END = "<!-- steps:start -->", "<!-- steps:end -->"


def title(model: type[Step]) -> str:
    """`DateGranularityStep` → `Date granularity` (a model may set `title`)."""
    own = model.model_config.get("title")
    if own:
        return own
    words = re.findall(r"[A-Z][a-z]*", model.__name__.removesuffix("Step"))
    return " ".join([words[0], *(w.lower() for w in words[1:])])


def _spec_models() -> dict[str, type[Spec]]:
    out: dict[str, type[Spec]] = {}
    todo: list[type[Spec]] = [Spec]
    while todo:
        model = todo.pop()
        out[model.__name__] = model
        todo.extend(model.__subclasses__())
    return out


def _with_spellings(schema: dict[str, Any], model: type[Spec]) -> None:
    """Other spellings of the model's fields as properties of their own (see the module doc)."""
    properties: dict[str, Any] = schema.get("properties", {})
    required: list[str] = schema.get("required", [])
    out: dict[str, Any] = {}
    rules: list[dict[str, Any]] = []
    for names in model.field_spellings().values():
        canonical, others = names[0], names[1:]
        if canonical not in properties:
            continue
        out[canonical] = properties[canonical]
        for other in others:
            alias = {k: v for k, v in copy.deepcopy(properties[canonical]).items() if k not in ("title", "default")}
            alias["description"] = f"Another spelling of `{canonical}`."
            alias["x-spelling-of"] = canonical
            out[other] = alias
        if others:
            if canonical in required:
                required.remove(canonical)
                rules.append({"anyOf": [{"required": [n]} for n in names]})
            rules.extend({"not": {"required": [a, b]}} for a, b in itertools.combinations(names, 2))
    schema["properties"] = out
    if rules:
        schema["allOf"] = rules
    if "required" in schema and not required:
        del schema["required"]


def step_schema(kind: StepKind[Any]) -> dict[str, Any]:
    """The JSON Schema of one step, every spelling of its fields included."""
    schema = kind.model.model_json_schema(by_alias=True)
    specs = _spec_models()
    for name, definition in schema.get("$defs", {}).items():
        if name in specs:
            _with_spellings(definition, specs[name])
    _with_spellings(schema, kind.model)
    schema["title"] = title(kind.model)
    schema["description"] = kind.description
    schema["examples"] = [kind.model.example]
    return schema


@functools.cache
def catalog() -> dict[str, Any]:
    """What `GET /pipeline-steps` answers: the families and, per step, its JSON Schema."""
    return {
        "families": [{"name": name, "title": family_title} for name, (family_title, _) in FAMILIES.items()],
        "operators": list(OPERATORS),
        "steps": [
            {
                "name": kind.name,
                "family": kind.family,
                "title": title(kind.model),
                "description": kind.description,
                "example": kind.model.example,
                "legacy": kind.model.legacy or None,
                "schema": step_schema(kind),
            }
            for kind in REGISTRY.values()
        ],
    }


# --- docs/pipelines.md ----------------------------------------------------------------------


def _type_text(schema: dict[str, Any], defs: dict[str, Any]) -> str:
    """A field's JSON Schema in words: `column`, `list of columns`, `'asc' \\| 'desc'`…"""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return _PARTS.get(name, name.lower())
    if "const" in schema:
        return f"`{json.dumps(schema['const'])}`"
    if "enum" in schema:
        return " \\| ".join(f"`{json.dumps(v, ensure_ascii=False)}`" for v in schema["enum"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            members = [m for m in schema[key] if m.get("type") != "null"]
            if any("$ref" in m and m["$ref"].rsplit("/", 1)[-1] in _CONDITIONS for m in members):
                return "condition"
            if any(m.get("description", "").startswith("A pipeline") for m in members):
                return "pipeline or domain name"
            texts = list(dict.fromkeys(_type_text(m, defs) for m in members))
            if "number" in texts and "integer" in texts:
                texts.remove("integer")
            return _alternatives(texts + (["null"] if len(members) < len(schema[key]) else []))
    kind = schema.get("type")
    if kind == "string":
        if schema.get("pattern") == NAME_PATTERN:
            return "column"
        return {"date-time": "date", "date": "date"}.get(schema.get("format", ""), "text")
    if kind == "array":
        if "prefixItems" in schema:
            return "[" + ", ".join(_type_text(m, defs) for m in schema["prefixItems"]) + "]"
        item = _type_text(schema.get("items", {}), defs)
        return f"list of {item}s" if re.fullmatch(r"[a-z]+", item) else f"list of ({item})"
    if kind in ("integer", "number", "boolean"):
        return {"integer": "integer", "number": "number", "boolean": "true/false"}[kind]
    if kind == "object":
        return "object"
    return "any value"


_CONDITIONS = {"And", "Or", "Comparison", "Inclusion", "NullCheck", "Match", "DateBound"}
_CONDITION_PARTS: dict[str, type[BaseModel]] = {
    "comparison": Comparison,
    "inclusion": Inclusion,
    "null": NullCheck,
    "text match": Match,
    "date bound": DateBound,
    "and": And,
    "or": Or,
}
# The parts steps hold, by their models' names: what the reference calls them.
_PARTS = {
    **{f"{name} condition": f"condition: {name}" for name in _CONDITION_PARTS},
    "Aggregation": "aggregation",
    "SortColumn": "sort column",
    "TotalDimension": "total dimension",
    "Quantile": "quantile",
    "IfThenElse": "nested if",
    "RelativeDate": "relative date",
}
_PART_MODELS: dict[str, type[BaseModel]] = {
    **{f"{name} condition": model for name, model in _CONDITION_PARTS.items()},
    "Aggregation": Aggregation,
    "SortColumn": SortColumn,
    "TotalDimension": TotalDimension,
    "Quantile": Quantile,
    "IfThenElse": IfThenElse,
    "RelativeDate": RelativeDate,
}


def _alternatives(texts: list[str]) -> str:
    return texts[0] if len(texts) == 1 else ", ".join(texts[:-1]) + " or " + texts[-1]


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _fields_cell(model: type[BaseModel], schema: dict[str, Any], defs: dict[str, Any]) -> str:
    spellings = model.field_spellings() if issubclass(model, Spec) else {}
    required = set(schema.get("required", []))
    for rule in schema.get("allOf", []):
        required.update(r["required"][0] for r in rule.get("anyOf", [])[:1])
    lines = []
    for field_name, info in model.model_fields.items():
        if field_name == "name":
            continue
        names = spellings.get(field_name, [info.alias or field_name])
        prop = schema["properties"][names[0]]
        shown = " · ".join(f"`{n}`" for n in names)
        if names[0] in required:
            need = "**required**"
        else:
            default = prop.get("default")
            need = f"default `{json.dumps(default, ensure_ascii=False)}`" if default not in (None, []) else "optional"
        description = f" — {_cell(info.description)}" if info.description else ""
        lines.append(f"{shown}: {_type_text(prop, defs)}, {need}{description}")
    return "<br>".join(lines)


def render() -> str:
    """The generated part of docs/pipelines.md (between the markers)."""
    out = [
        START,
        "<!-- Generated from the step models by `python -m toucan.data.pipeline.reference`; do not edit. -->",
        "",
    ]
    for family, (family_title, _) in FAMILIES.items():
        out += [f"#### {family_title}", "", "| step | fields (all spellings) | example |", "|---|---|---|"]
        for kind in REGISTRY.values():
            if kind.family != family:
                continue
            schema = kind.model.model_json_schema(by_alias=True)
            _with_spellings(schema, kind.model)
            defs = schema.get("$defs", {})
            legacy = f"<br>Also accepted: {kind.model.legacy}." if kind.model.legacy else ""
            example = json.dumps(kind.model.example, ensure_ascii=False)
            out.append(
                f"| `{kind.name}`<br>{_cell(kind.description)}{legacy} "
                f"| {_fields_cell(kind.model, schema, defs)} | `{_cell(example)}` |"
            )
        out.append("")
    out += ["#### Parts of steps", "", "| part | fields (all spellings) |", "|---|---|"]
    for name, label in _PARTS.items():
        part = _PART_MODELS[name]
        schema = part.model_json_schema(by_alias=True)
        if "$ref" in schema:  # a recursive part: its own definition
            schema = {**schema["$defs"][schema["$ref"].rsplit("/", 1)[-1]], "$defs": schema["$defs"]}
        if issubclass(part, Spec):
            _with_spellings(schema, part)
        description = _cell((part.__doc__ or "").strip())
        out.append(f"| {label}<br>{description} | {_fields_cell(part, schema, schema.get('$defs', {}))} |")
    out += ["", END]
    return "\n".join(out)


def updated(text: str) -> str:
    """`text` (docs/pipelines.md) with the generated part replaced."""
    if START not in text or END not in text:
        raise SystemExit(f"{DOC_PATH} has no {START} … {END} markers")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return head + render() + tail


def catalog_text() -> str:
    """The catalog as the frontend's form tests read it."""
    return json.dumps(catalog(), indent=1, ensure_ascii=False) + "\n"


def main() -> None:
    current = DOC_PATH.read_text()
    wanted = updated(current)
    current_catalog = CATALOG_PATH.read_text() if CATALOG_PATH.exists() else ""
    if "--check" in sys.argv:
        if current != wanted:
            sys.stderr.write("docs/pipelines.md's step reference is stale: run `make docs`.\n")
            raise SystemExit(1)
        if current_catalog != catalog_text():
            sys.stderr.write(f"{CATALOG_PATH} is stale: run `make docs`.\n")
            raise SystemExit(1)
        return
    DOC_PATH.write_text(wanted)
    CATALOG_PATH.write_text(catalog_text())
    print(f"wrote {DOC_PATH} and {CATALOG_PATH}")


if __name__ == "__main__":
    main()
