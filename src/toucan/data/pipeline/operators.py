"""The operators of filter conditions (a leaf: the condition models and the error messages both
name them)."""

from __future__ import annotations

COMPARISONS = {"eq": "=", "ne": "<>", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
OPERATORS = (*COMPARISONS, "in", "nin", "matches", "notmatches", "isnull", "notnull", "from", "until")
