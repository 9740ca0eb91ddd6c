"""What every step declaration shares: the model base, the spellings of fields, and the types
a step's compile function sees.

A step is a pydantic model (`Step` subclass, one per step, in data/pipeline/steps/) paired
with a compile function in the registry (data/pipeline/registry.py). Fields accept both
weaverbird spellings, snake_case and camelCase (`rank_on`, `rankOn`), plus the legacy ones a
field lists itself; a model dumps one canonical form, snake_case (`model_dump(by_alias=True)`).
Unknown fields are refused, as weaverbird's own models refuse them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Generic, NamedTuple, Protocol, TypeVar

from pydantic import AliasChoices, AliasGenerator, BaseModel, BeforeValidator, ConfigDict, Field

from toucan.data.pipeline.sql import Frag

if TYPE_CHECKING:
    from toucan.data.pipeline.builder import QueryBuilder


def to_camel(snake: str) -> str:
    """`new_column_name` → `newColumnName`, as weaverbird spells it (`str_col_1` → `strCol1`)."""
    first, *rest = snake.split("_")
    return first + "".join(word.capitalize() for word in rest)


def _validation_alias(name: str) -> str | AliasChoices:
    camel = to_camel(name)
    return name if camel == name else AliasChoices(name, camel)


def spellings(*names: str) -> AliasChoices:
    """A field's accepted spellings, the canonical one first (for fields whose other
    spellings are not just its camelCase form: `toCumSum`, `aggfunction`, legacy names)."""
    return AliasChoices(*names)


# Names are quoted identifiers (sql.ident): any text but the two control characters the SQL
# builder reserves.
NAME_PATTERN = r"^[^\x00\x01]*$"
ColumnName = Annotated[str, Field(pattern=NAME_PATTERN)]


def _none_is_empty(v: object) -> object:
    return [] if v is None else v


# Optional lists of columns (groups): null means none, as weaverbird's front may send.
Columns = Annotated[list[ColumnName], BeforeValidator(_none_is_empty)]
# A value a branch or a constant column may hold (JSON's scalars).
Scalar = str | int | float | bool | None


class Spec(BaseModel):
    """A step or a part of one (an aggregation, a sort column…)."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        use_attribute_docstrings=True,
        alias_generator=AliasGenerator(validation_alias=_validation_alias, serialization_alias=lambda name: name),
    )

    @classmethod
    def field_spellings(cls) -> dict[str, list[str]]:
        """Per field, its canonical spelling first and every other one it accepts."""
        out: dict[str, list[str]] = {}
        for name, info in cls.model_fields.items():
            alias = info.validation_alias
            choices = alias.choices if isinstance(alias, AliasChoices) else [alias or name]
            names = [c for c in choices if isinstance(c, str)]
            canonical = info.serialization_alias or names[0]
            out[name] = list(dict.fromkeys([canonical, *names, *([] if name.endswith("_") else [name])]))
        return out


class Step(Spec):
    """One step of a pipeline; `name` is its discriminator."""

    name: str
    # A JSON example for the reference (docs/pipelines.md) and the studio's forms.
    example: ClassVar[dict[str, Any]] = {}
    # Older forms still accepted, for the reference ("" when none).
    legacy: ClassVar[str] = ""

    def parse_nested(self, parse: Callable[[Any, tuple[int, ...]], Any], path: tuple[int, ...]) -> None:
        """Validate the pipelines this step holds (join, append); `path` is this step's."""


class Rows(NamedTuple):
    """The rows so far: the CTE holding them and, when a step set one, their order."""

    table: str
    order: Frag | None = None


@dataclass(frozen=True)
class Here:
    """Where a step is, for error details: its index, or a path inside nested pipelines."""

    step: int | tuple[int, ...]
    name: str

    @property
    def path(self) -> tuple[int, ...]:
        return self.step if isinstance(self.step, tuple) else (self.step,)

    def details(self, **extra: Any) -> dict[str, Any]:
        step: int | list[int] = list(self.step) if isinstance(self.step, tuple) else self.step
        return {"step": step, "name": self.name, **extra}


class Context(Protocol):
    """What a compile function may use: the query builder and nested pipelines."""

    q: QueryBuilder

    def pipeline(self, steps: list[Step] | str, path: tuple[int, ...]) -> Rows: ...


S = TypeVar("S", bound=Step)
Compile = Callable[[Context, S, Rows, Here], Rows]


@dataclass(frozen=True)
class StepKind(Generic[S]):
    """One entry of the registry: a step's name, model, compile function and family."""

    name: str
    model: type[S]
    compile: Compile[S]
    family: str

    @property
    def description(self) -> str:
        return (self.model.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")


def entry(model: type[S], compile: Compile[S]) -> tuple[type[Step], Compile[Any]]:
    """A (model, compile function) pair of a family's table, type-checked together."""
    return model, compile
