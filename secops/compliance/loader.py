"""Read the catalogue files (`catalogue/{general,cloud}-l{2,3}.yaml`, `catalogue/checks.yaml`).

A file is checked twice: its shape by pydantic, then what pydantic cannot see — clause numbers nested in
their parent's, item letters running a, b, c…, a mode and a responsibility resolved for every item,
checks present exactly when the mode needs them and named in the checks index. Every problem is one
`file:line: path: what (fix)` line in `CatalogueError`, found with the estate's YAML helpers.
"""

from __future__ import annotations

import string
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from egovops.estate import EstateError, describe_errors, line_at, read_located
from secops.compliance.models import (
    CATEGORIES,
    AssessmentMode,
    Catalogue,
    Check,
    Item,
    Part,
    Responsibility,
)

CATALOGUE_DIR = Path(__file__).parent / "catalogue"
DOC = "docs/compliance.md"
LEVELS = (2, 3)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

Lines = dict[tuple[str | int, ...], int]


class CatalogueError(ValueError):
    """A catalogue or scoring file is wrong; each entry of `problems` is one `file:line: …` line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _ItemSpec(_Spec):
    text: str = Field(min_length=1)
    assessment: AssessmentMode | None = None
    responsibility: Responsibility | None = None
    checks: tuple[str, ...] = ()


class _ControlPointSpec(_Spec):
    name: str = Field(min_length=1)
    clause: str = Field(pattern=r"^\d+(\.\d+)+$")
    assessment: AssessmentMode | None = None
    responsibility: Responsibility | None = None
    items: dict[str, _ItemSpec] = Field(min_length=1)

    @field_validator("items", mode="before")
    @classmethod
    def _text_only(cls, value: Any) -> Any:
        """`a: text` is short for `a: {text: text}`."""
        if isinstance(value, dict):
            return {k: {"text": v} if isinstance(v, str) else v for k, v in value.items()}
        return value


class _CategorySpec(_Spec):
    name: str
    clause: str = Field(pattern=r"^\d+(\.\d+)+$")
    assessment: AssessmentMode | None = None
    responsibility: Responsibility | None = None
    control_points: list[_ControlPointSpec] = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in CATEGORIES:
            raise ValueError(f"{value!r} is not one of the ten categories: {'、'.join(CATEGORIES)}")
        return value


class CatalogueFile(_Spec):
    """One catalogue file as written (defaults not yet resolved)."""

    schema_: Literal[1] = Field(alias="schema")
    standard: Literal["GB/T 22239-2019"]
    part: Part
    level: Literal[2, 3]
    clause: str
    version: str = Field(min_length=1)
    categories: list[_CategorySpec] = Field(min_length=1)


class _CheckSpec(_Spec):
    source: Literal["host", "network", "cloud", "soc", "crypto"]
    description: str = Field(min_length=1)


class ChecksFile(_Spec):
    schema_: Literal[1] = Field(alias="schema")
    version: str = Field(min_length=1)
    checks: dict[str, _CheckSpec] = Field(min_length=1)


M = TypeVar("M", bound=BaseModel)


class Located:
    """A file's text with the line of every path in it, found only when a problem needs a line: the
    located parse is some fifty times slower than the C loader that reads a good file."""

    def __init__(self, path: Path, text: str) -> None:
        self.path, self.text = path, text

    @cached_property
    def lines(self) -> Lines:
        try:
            return read_located(self.text, str(self.path))[1]
        except EstateError as exc:
            raise CatalogueError(exc.problems) from exc

    def at(self, where: tuple[str | int, ...], message: str) -> str:
        return f"{self.path}:{line_at(self.lines, where)}: {'.'.join(map(str, where)) or '(top)'}: {message}"


def read_model(path: Path, model: type[M]) -> tuple[M, Located]:
    """Validate one YAML file against `model`; problems carry file and line (CatalogueError)."""
    try:
        located = Located(path, path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CatalogueError([f"{path}: cannot read the file: {exc.strerror}"]) from exc
    try:
        data = yaml.load(located.text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        _ = located.lines  # the located parse raises CatalogueError naming the line
        raise CatalogueError([f"{path}: not valid YAML: {exc}"]) from exc
    if not isinstance(data, dict):
        raise CatalogueError([f"{path}:1: expected a mapping with the fields {DOC} lists"])
    try:
        return model.model_validate(data), located
    except ValidationError as exc:
        raise CatalogueError(list(describe_errors(exc, str(path), located.lines, doc=DOC))) from exc


def load_checks(data_dir: Path = CATALOGUE_DIR) -> dict[str, Check]:
    """The checks index: every automated check an item may name."""
    spec, _ = read_model(data_dir / "checks.yaml", ChecksFile)
    return {
        name: Check(id=name, source=c.source, description=c.description) for name, c in spec.checks.items()
    }


def load_catalogue(level: int, *, cloud: bool = False, data_dir: Path = CATALOGUE_DIR) -> Catalogue:
    """The items of `level` (2 or 3): the general requirements, then the cloud extension if `cloud`."""
    if level not in LEVELS:
        raise ValueError(f"level {level}: the catalogue covers levels 2 and 3")
    checks = load_checks(data_dir)
    parts = [Part.GENERAL, Part.CLOUD] if cloud else [Part.GENERAL]
    items: list[Item] = []
    versions: dict[str, str] = {}
    problems: list[str] = []
    for part in parts:
        path = data_dir / f"{part.value}-l{level}.yaml"
        spec, located = read_model(path, CatalogueFile)
        found = list(_problems(spec, located, part, level, checks))
        if found:
            problems.extend(found)
            continue
        items.extend(_resolve(spec))
        versions[path.name] = spec.version
    if problems:
        raise CatalogueError(problems)
    return Catalogue(level=level, cloud=cloud, versions=versions, items=tuple(items))


def _resolve(spec: CatalogueFile) -> Iterator[Item]:
    for category in spec.categories:
        for point in category.control_points:
            for letter, item in point.items.items():
                mode = item.assessment or point.assessment or category.assessment
                owner = item.responsibility or point.responsibility or category.responsibility
                assert mode is not None and owner is not None  # _problems refused files without them
                yield Item(
                    id=f"L{spec.level}-{point.clause}-{letter}",
                    level=spec.level,
                    part=spec.part,
                    category=category.name,
                    control_point=point.name,
                    clause=point.clause,
                    letter=letter,
                    text=item.text,
                    assessment=mode,
                    responsibility=owner,
                    checks=item.checks,
                )


def _problems(
    spec: CatalogueFile, located: Located, part: Part, level: int, checks: dict[str, Check]
) -> Iterator[str]:
    """What the shape cannot say: the file matches its name, clauses nest, letters run, modes resolve."""
    at = located.at
    if spec.part != part or spec.level != level:
        yield at(("part",), f"the file says part {spec.part.value}, level {spec.level}; its name says "
                 f"{part.value}, level {level} (fix the header or rename the file)")
    for c, category in enumerate(spec.categories):
        where: tuple[str | int, ...] = ("categories", c)
        if not category.clause.startswith(f"{spec.clause}."):
            yield at((*where, "clause"), f"{category.clause} is not inside {spec.clause} (fix the clause)")
        for p, point in enumerate(category.control_points):
            here: tuple[str | int, ...] = (*where, "control_points", p)
            if not point.clause.startswith(f"{category.clause}."):
                yield at((*here, "clause"), f"{point.clause} is not inside {category.clause} (fix it)")
            expected = string.ascii_lowercase[: len(point.items)]
            wrong = [have for have, want in zip(point.items, expected, strict=True) if have != want]
            if wrong:
                yield at((*here, "items", wrong[0]), f"item letters are {', '.join(point.items)}; "
                         f"expected {', '.join(expected)} in order (letters follow the standard)")
            for letter, item in point.items.items():
                for message in _item_problems(item, point, category, checks):
                    yield at((*here, "items", letter), message)


def _item_problems(
    item: _ItemSpec, point: _ControlPointSpec, category: _CategorySpec, checks: dict[str, Check]
) -> Iterator[str]:
    mode = item.assessment or point.assessment or category.assessment
    if mode is None:
        yield f"no assessment mode (set `assessment` on the item, its control point or category; see {DOC})"
    elif mode is AssessmentMode.MANUAL and item.checks:
        yield "a manual item names checks (make it `both`, or remove the checks)"
    elif mode is not AssessmentMode.MANUAL and not item.checks:
        yield f"assessment is {mode.value} but no checks are named (add checks from checks.yaml)"
    if (item.responsibility or point.responsibility or category.responsibility) is None:
        yield "no responsibility (set platform, tenant or shared on the item, control point or category)"
    for name in item.checks:
        if name not in checks:
            yield f"check {name!r} is not in checks.yaml (add it there with a description, or fix the name)"
