"""Mongo-style data requests, compiled to the same single DuckDB query as pipelines.

Two forms, as front configs write them: a match object (`{"domain": "sales", "year":
{"$gte": 2020}}`) or an aggregation list whose first stage is `{"$match": {"domain": …}}`.
A compound `$group` `_id` becomes one column per key; a single one, a column `_id`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from toucan.data.pipeline.builder import Compiled, DomainResolver, QueryBuilder, RowFilters
from toucan.data.pipeline.sql import Frag, ident, join, value
from toucan.errors import ValidationError

STAGES = (
    "$match",
    "$project",
    "$addFields",
    "$set",
    "$group",
    "$sort",
    "$skip",
    "$limit",
    "$unwind",
    "$count",
)
COMPARE = {"$eq": "=", "$ne": "<>", "$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
ARITHMETIC = {"$add": "+", "$subtract": "-", "$multiply": "*", "$mod": "%"}
DATE_PARTS = {
    "$year": "year",
    "$month": "month",
    "$dayOfMonth": "day",
    "$hour": "hour",
    "$minute": "minute",
    "$second": "second",
    "$dayOfYear": "dayofyear",
    "$week": "week",
    "$isoWeek": "week",
    "$isoDayOfWeek": "isodow",
    "$isoWeekYear": "isoyear",
}
# Mongo's date format specifiers → strftime's.
_DATE_FORMAT = {
    "%Y": "%Y",
    "%m": "%m",
    "%d": "%d",
    "%H": "%H",
    "%M": "%M",
    "%S": "%S",
    "%L": "%g",
    "%j": "%j",
    "%U": "%U",
    "%u": "%u",
    "%V": "%V",
    "%G": "%G",
    "%%": "%%",
}


class MongoCompiler:
    """Mongo-style requests on the shared query builder (the pipelines' CTE plumbing)."""

    def __init__(self, resolve_domain: DomainResolver, row_filters: RowFilters, max_depth: int) -> None:
        self.q = QueryBuilder(resolve_domain, row_filters, max_depth)
        self._stages = {
            "$match": self._match,
            "$project": self._project,
            "$addFields": self._addfields,
            "$set": self._addfields,
            "$group": self._group,
            "$sort": self._sort,
            "$skip": self._skip,
            "$limit": self._limit,
            "$unwind": self._unwind,
            "$count": self._count,
        }

    def compile_mongo(self, request: Any) -> Compiled:
        stages = [{"$match": request}] if isinstance(request, dict) else request
        if not isinstance(stages, list) or not stages:
            raise ValidationError(
                "A Mongo-style query is an object or a non-empty list of stages.",
                details={"stage": 0},
            )
        first = stages[0]
        match = first.get("$match") if isinstance(first, dict) else None
        if not isinstance(match, dict) or not isinstance(match.get("domain"), str):
            raise ValidationError(
                'The first stage must match on a domain: {"$match": {"domain": "…"}}.',
                details={"stage": 0, "field": "domain"},
            )
        current = self.q.domain_source(match["domain"])
        order: Frag | None = None
        rest = {k: v for k, v in match.items() if k != "domain"}
        if rest:
            current = self.q.add(Frag(f"SELECT * FROM {current} WHERE ") + self.match(rest, 0))
        for index, stage in enumerate(stages[1:], start=1):
            if not isinstance(stage, dict) or len(stage) != 1:
                raise ValidationError("Each stage is an object with one operator.", details={"stage": index})
            ((op, spec),) = stage.items()
            if op not in STAGES:
                raise ValidationError(
                    f"Unsupported stage {op!r}; supported: {', '.join(STAGES)}.",
                    details={"stage": index, "operator": op},
                )
            current, order = self._stages[op](spec, current, order, index)
        final = Frag(f"SELECT * FROM {current}") + ((" ORDER BY " + order) if order is not None else "")
        return self.q.finish(final)

    # --- $match -------------------------------------------------------------------------

    def match(self, query: Mapping[str, Any], stage: int) -> Frag:
        parts = []
        for key, cond in query.items():
            if key in ("$and", "$or", "$nor"):
                if not isinstance(cond, list) or not cond:
                    raise ValidationError(f"{key} takes a non-empty list.", details={"stage": stage, "operator": key})
                inner = "(" + join([self.match(c, stage) for c in cond], " AND " if key == "$and" else " OR ") + ")"
                parts.append(inner if key != "$nor" else "(NOT COALESCE(" + inner + ", FALSE))")
            elif key == "$expr":
                parts.append(self.expr(cond, stage))
            elif key.startswith("$"):
                raise ValidationError(
                    f"Unsupported operator {key!r} in $match.",
                    details={"stage": stage, "operator": key},
                )
            else:
                parts.append(self.field_condition(key, cond, stage))
        return "(" + join(parts, " AND ") + ")" if parts else Frag("TRUE")

    def field_condition(self, field: str, cond: Any, stage: int) -> Frag:
        col = ident(field)
        if not (isinstance(cond, dict) and cond and all(k.startswith("$") for k in cond)):
            return Frag(f"({col} IS NULL)") if cond is None else Frag(f"({col} = ") + value(cond) + ")"
        parts = []
        for op, v in cond.items():
            if op in COMPARE:
                if v is None:
                    parts.append(Frag(f"({col} IS {'NOT ' if op == '$ne' else ''}NULL)"))
                elif op == "$ne":
                    parts.append(Frag(f"({col} IS DISTINCT FROM ") + value(v) + ")")
                else:
                    parts.append(Frag(f"({col} {COMPARE[op]} ") + value(v) + ")")
            elif op in ("$in", "$nin"):
                if not isinstance(v, list):
                    raise ValidationError(
                        f"{op} takes a list.",
                        details={"stage": stage, "operator": op, "field": field},
                    )
                inside = (Frag(f"({col} IN (") + join([value(x) for x in v]) + "))") if v else Frag("FALSE")
                parts.append(inside if op == "$in" else "(NOT COALESCE(" + inside + ", FALSE))")
            elif op == "$exists":
                parts.append(Frag(f"({col} IS {'NOT ' if v else ''}NULL)"))
            elif op == "$regex":
                pattern = str(v)
                if "i" in str(cond.get("$options", "")):
                    pattern = "(?i)" + pattern
                parts.append(Frag(f"regexp_matches(CAST({col} AS VARCHAR), ") + value(pattern) + ")")
            elif op == "$options":
                continue
            elif op == "$not":
                parts.append("(NOT COALESCE(" + self.field_condition(field, v, stage) + ", FALSE))")
            else:
                raise ValidationError(
                    f"Unsupported operator {op!r} in $match.",
                    details={"stage": stage, "operator": op, "field": field},
                )
        return "(" + join(parts, " AND ") + ")"

    # --- expressions --------------------------------------------------------------------

    def expr(self, e: Any, stage: int) -> Frag:
        if isinstance(e, str):
            if e.startswith("$$"):
                raise ValidationError(f"Variables like {e!r} are not supported.", details={"stage": stage})
            return Frag(ident(e[1:])) if e.startswith("$") else value(e)
        if e is None:
            return Frag("NULL")
        if isinstance(e, bool | int | float):
            return value(e)
        if isinstance(e, list):
            raise ValidationError("Arrays are only allowed as operator arguments.", details={"stage": stage})
        if not isinstance(e, dict) or len(e) != 1:
            raise ValidationError("An expression operator is an object with one key.", details={"stage": stage})
        ((op, args),) = e.items()
        if op == "$literal":
            return value(args)
        arg_list = args if isinstance(args, list) else [args]
        if op in ARITHMETIC:
            return "(" + join([self.expr(a, stage) for a in arg_list], f" {ARITHMETIC[op]} ") + ")"
        if op == "$divide":
            a, b = (self.expr(x, stage) for x in arg_list)
            return "(CAST(" + a + " AS DOUBLE) / NULLIF(" + b + ", 0))"
        if op == "$concat":
            return "concat(" + join([Frag("CAST(") + self.expr(a, stage) + " AS VARCHAR)" for a in arg_list]) + ")"
        if op in ("$toUpper", "$toLower"):
            return Frag("upper(" if op == "$toUpper" else "lower(") + self.expr(arg_list[0], stage) + ")"
        if op == "$ifNull":
            return "COALESCE(" + join([self.expr(a, stage) for a in arg_list]) + ")"
        if op == "$cond":
            parts = [args["if"], args["then"], args["else"]] if isinstance(args, dict) else arg_list
            c, t, f = (self.expr(x, stage) for x in parts)
            return "(CASE WHEN " + c + " THEN " + t + " ELSE " + f + " END)"
        if op in COMPARE:
            a, b = (self.expr(x, stage) for x in arg_list)
            return "(" + a + f" {COMPARE[op]} " + b + ")"
        if op in ("$and", "$or"):
            return "(" + join([self.expr(a, stage) for a in arg_list], " AND " if op == "$and" else " OR ") + ")"
        if op == "$not":
            return "(NOT " + self.expr(arg_list[0], stage) + ")"
        if op in DATE_PARTS:
            date = args.get("date") if isinstance(args, dict) else arg_list[0]
            return Frag(f"{DATE_PARTS[op]}(CAST(") + self.expr(date, stage) + " AS TIMESTAMP))"
        if op == "$dateToString":
            fmt = str(args.get("format", "%Y-%m-%dT%H:%M:%S.%LZ"))
            for mongo, duck in _DATE_FORMAT.items():
                fmt = fmt.replace(mongo, duck)
            return Frag("strftime(CAST(") + self.expr(args["date"], stage) + " AS TIMESTAMP), " + value(fmt) + ")"
        if op == "$dateFromString":
            text = self.expr(args["dateString"], stage)
            if "format" in args:
                return "TRY_STRPTIME(CAST(" + text + " AS VARCHAR), " + value(str(args["format"])) + ")"
            return "TRY_CAST(" + text + " AS TIMESTAMP)"
        raise ValidationError(f"Unsupported expression operator {op!r}.", details={"stage": stage, "operator": op})

    # --- stages ---------------------------------------------------------------------------

    def _match(self, spec: Any, current: str, order: Frag | None, stage: int) -> tuple[str, Frag | None]:
        if not isinstance(spec, dict):
            raise ValidationError("$match takes an object.", details={"stage": stage})
        return self.q.add(Frag(f"SELECT * FROM {current} WHERE ") + self.match(spec, stage)), order

    def _project(self, spec: Any, current: str, order: Frag | None, stage: int) -> tuple[str, Frag | None]:
        if not isinstance(spec, dict) or not spec:
            raise ValidationError("$project takes a non-empty object.", details={"stage": stage})
        spec = {k: v for k, v in spec.items() if not (k == "_id" and v in (0, False))}
        excluded = [k for k, v in spec.items() if v in (0, False)]
        if excluded and len(excluded) == len(spec):
            return self.q.add(Frag(f"SELECT * EXCLUDE ({', '.join(ident(k) for k in excluded)}) FROM {current}")), order
        if excluded:
            raise ValidationError("$project cannot mix inclusion and exclusion.", details={"stage": stage})
        cols = [Frag(ident(k)) if v in (1, True) else self.expr(v, stage) + f" AS {ident(k)}" for k, v in spec.items()]
        return self.q.add(Frag("SELECT ") + join(cols) + Frag(f" FROM {current}")), order

    def _addfields(self, spec: Any, current: str, order: Frag | None, stage: int) -> tuple[str, Frag | None]:
        if not isinstance(spec, dict) or not spec:
            raise ValidationError("$addFields takes a non-empty object.", details={"stage": stage})
        for name, e in spec.items():
            current = self.q.with_column(current, name, self.expr(e, stage))
        return current, order

    def _group(self, spec: Any, current: str, order: Frag | None, stage: int) -> tuple[str, Frag | None]:
        if not isinstance(spec, dict) or "_id" not in spec:
            raise ValidationError("$group needs an _id.", details={"stage": stage, "field": "_id"})
        key = spec["_id"]
        keys: list[Frag] = []
        if isinstance(key, dict):
            keys = [self.expr(v, stage) + f" AS {ident(k)}" for k, v in key.items()]
        elif key is not None:
            keys = [self.expr(key, stage) + f" AS {ident('_id')}"]
        aggs = []
        for name, acc in spec.items():
            if name == "_id":
                continue
            if not isinstance(acc, dict) or len(acc) != 1:
                raise ValidationError(
                    f"The accumulator of {name!r} is an object with one operator.",
                    details={"stage": stage, "field": name},
                )
            ((op, arg),) = acc.items()
            if op == "$count":
                aggs.append(Frag(f"count(*) AS {ident(name)}"))
                continue
            fn = {
                "$sum": "sum",
                "$avg": "avg",
                "$min": "min",
                "$max": "max",
                "$first": "first",
                "$last": "last",
                "$push": "list",
                "$addToSet": "list_distinct",
            }.get(op)
            if fn is None:
                raise ValidationError(
                    f"Unsupported accumulator {op!r}.",
                    details={"stage": stage, "operator": op, "field": name},
                )
            inner = self.expr(arg, stage)
            if fn == "list_distinct":
                aggs.append("list_distinct(list(" + inner + f")) AS {ident(name)}")
            elif fn == "sum" and isinstance(arg, int | float) and not isinstance(arg, bool):
                aggs.append(Frag(f"count(*) * {arg!r} AS {ident(name)}"))
            else:
                aggs.append(Frag(f"{fn}(") + inner + f") AS {ident(name)}")
        body = Frag("SELECT ") + join(keys + aggs or [Frag("count(*) AS count")]) + Frag(f" FROM {current}")
        if keys:
            body = body + " GROUP BY ALL"
        return self.q.add(body), None

    def _sort(self, spec: Any, current: str, order: Frag | None, stage: int) -> tuple[str, Frag | None]:
        if not isinstance(spec, dict) or not spec:
            raise ValidationError("$sort takes a non-empty object.", details={"stage": stage})
        by = Frag(", ".join(f"{ident(k)} {'DESC' if v == -1 else 'ASC'} NULLS LAST" for k, v in spec.items()))
        return self.q.add(Frag(f"SELECT * FROM {current} ORDER BY ") + by), by

    def _page(self, kind: str, n: Any, current: str, order: Frag | None, stage: int) -> tuple[str, Frag | None]:
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise ValidationError(f"${kind.lower()} takes a non-negative integer.", details={"stage": stage})
        ordered = (" ORDER BY " + order) if order is not None else Frag("")
        return self.q.add(Frag(f"SELECT * FROM {current}") + ordered + Frag(f" {kind} ") + value(n)), order

    def _skip(self, spec: Any, current: str, order: Frag | None, stage: int) -> tuple[str, Frag | None]:
        return self._page("OFFSET", spec, current, order, stage)

    def _limit(self, spec: Any, current: str, order: Frag | None, stage: int) -> tuple[str, Frag | None]:
        return self._page("LIMIT", spec, current, order, stage)

    def _unwind(self, spec: Any, current: str, order: Frag | None, stage: int) -> tuple[str, Frag | None]:
        path = spec.get("path") if isinstance(spec, dict) else spec
        keep = bool(spec.get("preserveNullAndEmptyArrays")) if isinstance(spec, dict) else False
        if not isinstance(path, str) or not path.startswith("$"):
            raise ValidationError("$unwind takes a '$field' path.", details={"stage": stage})
        col = ident(path[1:])
        if keep:
            body = Frag(
                f"SELECT * REPLACE (unnest(CASE WHEN len({col}) > 0 THEN {col} ELSE [NULL] END) AS {col}) "
                f"FROM {current}"
            )
        else:
            body = Frag(f"SELECT * REPLACE (unnest({col}) AS {col}) FROM {current}")
        return self.q.add(body), None

    def _count(self, spec: Any, current: str, order: Frag | None, stage: int) -> tuple[str, Frag | None]:
        if not isinstance(spec, str) or not spec:
            raise ValidationError("$count takes the name of the output field.", details={"stage": stage})
        return self.q.add(Frag(f"SELECT count(*) AS {ident(spec)} FROM {current}")), None
