"""Questionnaire definitions (content/forms/*.yaml): read and checked once, without an app.

A definition is data: items of a few known types, a scoring rule (sum or mean,
reverse-scored items, subscales, how many answers may be missing), severity
bands, the change that counts as meaningful, and safety rules that alert the
clinician. Like programme content it is read and checked once, and every
problem names its file and line. Scoring is ``webapp.questionnaires.scoring``;
sending and answering, ``webapp.questionnaires.services``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import yaml

from webapp.config import PROJECT_ROOT
from webapp.content.parser import Problem

ITEM_ID_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


ITEM_TYPES = {"single_choice", "scale", "vas", "number", "text", "info"}


SCORED_TYPES = {"single_choice", "scale", "vas", "number"}


LICENCES = {"free", "licence-required"}


METHODS = {"sum", "mean"}


class _LineLoader(yaml.SafeLoader):
    """Remembers the line of every mapping, so problems can point at it."""
    def construct_mapping(self, node, deep=False):
        mapping = super().construct_mapping(node, deep=deep)
        mapping["__line__"] = node.start_mark.line + 1
        return mapping


@dataclass(frozen=True)
class Option:
    value: int
    labels: dict


@dataclass(frozen=True)
class Item:
    id: str
    type: str
    texts: dict
    required: bool
    options: tuple[Option, ...] = ()
    min: int | None = None
    max: int | None = None
    reverse: bool = False
    min_labels: dict = field(default_factory=dict)
    max_labels: dict = field(default_factory=dict)
    line: int = 1

    def text(self, locale: str) -> str:
        return self.texts.get(locale) or next(iter(self.texts.values()), "")

    @property
    def low(self) -> int:
        return min(o.value for o in self.options) if self.options else (self.min or 0)

    @property
    def high(self) -> int:
        return max(o.value for o in self.options) if self.options else (self.max or 0)


@dataclass(frozen=True)
class Band:
    min: float
    max: float
    labels: dict


@dataclass(frozen=True)
class Scale:
    """What is scored: the whole form or one subscale."""
    items: tuple[str, ...]
    method: str
    bands: tuple[Band, ...]
    range: tuple[float, float] | None


@dataclass(frozen=True)
class SafetyRule:
    item: str
    min: int


@dataclass
class Questionnaire:
    id: str
    licence: str
    titles: dict
    recalls: dict
    items: list[Item]
    total: Scale | None
    subscales: dict[str, Scale]
    max_missing: int
    meaningful_change: float | None
    safety: list[SafetyRule]
    path: str
    # Which way is improvement ("lower" scores, as in PHQ-9, or "higher").
    better: str = "lower"
    # The patient sees their own scores over time after answering.
    show_results: bool = False

    def item(self, item_id: str) -> Item | None:
        return next((i for i in self.items if i.id == item_id), None)

    def title(self, locale: str) -> str:
        return self.titles.get(locale) or next(iter(self.titles.values()), self.id)

    @property
    def has_text(self) -> bool:
        """A licence-required skeleton has no item texts until a unit adds them."""
        return all(i.texts for i in self.items if i.type != "info")


def load_questionnaires(root: Path) -> tuple[dict[str, Questionnaire], list[Problem]]:
    """Read every content/forms/*.yaml; broken definitions are reported and left out."""
    questionnaires: dict[str, Questionnaire] = {}
    problems: list[Problem] = []
    for path in sorted(root.glob("*.yaml")) if root.exists() else []:
        rel = _rel(path)
        try:
            # Bandit B506: the loader is a SafeLoader subclass.
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LineLoader)  # nosec B506
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            problems.append(Problem(rel, (mark.line + 1) if mark else 1, f"not valid YAML ({getattr(exc, 'problem', exc)})",
                                    "write each setting as 'name: value' and indent lists consistently"))
            continue
        before = len(problems)
        form = _build(data, path, rel, problems)
        if form is not None and len(problems) == before:
            questionnaires[form.id] = form
    return questionnaires, problems


def _rel(path: Path) -> str:

    try:
        return str(path.relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def _texts(value) -> dict:
    if not isinstance(value, dict):
        return {}
    return {k: str(v) for k, v in value.items() if k != "__line__"}


def _build(data, path: Path, rel: str, problems: list[Problem]) -> Questionnaire | None:
    def problem(line, message, fix=""):
        problems.append(Problem(rel, line, message, fix))

    if not isinstance(data, dict):
        problem(1, "the file must be 'name: value' settings")
        return None
    if data.get("id") != path.stem:
        problem(data.get("__line__", 1), f"id {data.get('id')!r} must be the file name {path.stem!r}", f"write 'id: {path.stem}'")
        return None
    licence = data.get("licence")
    if licence not in LICENCES:
        problem(data["__line__"], f"licence {licence!r} is unknown", "write 'licence: free' or 'licence: licence-required'")
    items = _items(data, licence, problem)
    by_id = {i.id: i for i in items}
    for item in items:
        if item.reverse and item.type not in SCORED_TYPES:
            problem(item.line, f"item {item.id!r} is reverse-scored but has no scale", "remove 'reverse' or give it a scale")
        if item.reverse and item.options and sorted(o.value for o in item.options) != list(range(item.low, item.high + 1)):
            problem(item.line, f"reverse-scored item {item.id!r} needs options with every value from {item.low} to {item.high}",
                    "reverse scoring maps v to min + max - v, so every value must exist")

    scoring = data.get("scoring") or {}
    scoring_line = scoring.get("__line__", data["__line__"]) if isinstance(scoring, dict) else data["__line__"]
    method = scoring.get("method", "sum")
    if method not in METHODS:
        problem(scoring_line, f"scoring method {method!r} is unknown", "write 'method: sum' or 'method: mean'")
    total = _scale(scoring, method, by_id, scoring_line, problem) if scoring.get("items") else None
    subscales = {}
    for name, spec in (scoring.get("subscales") or {}).items():
        if name == "__line__":
            continue
        scale = _scale(spec, spec.get("method", method), by_id, spec.get("__line__", scoring_line), problem)
        if scale is not None:
            subscales[name] = scale
    missing = scoring.get("missing") or {}
    max_missing = missing.get("max_missing", 0) if isinstance(missing, dict) else 0
    if not isinstance(max_missing, int) or max_missing < 0:
        problem(scoring_line, "max_missing must be a whole number, 0 or more", "e.g. 'missing: {max_missing: 1}'")
        max_missing = 0
    better = scoring.get("better", "lower")
    if better not in ("lower", "higher"):
        problem(scoring_line, f"better must be 'lower' or 'higher', not {better!r}", "write e.g. 'better: lower'")
        better = "lower"
    safety = _safety_rules(data, by_id, problem)
    return Questionnaire(
        id=data["id"], licence=licence or "free", titles=_texts(data.get("title")), recalls=_texts(data.get("recall")),
        items=items, total=total, subscales=subscales, max_missing=max_missing,
        meaningful_change=scoring.get("meaningful_change"), safety=safety, path=rel, better=better,
        show_results=bool(data.get("show_results", False)),
    )


def _items(data: dict, licence, problem) -> list[Item]:
    """The questionnaire's items in order; broken ones are reported and left out."""
    option_sets = {name: opts for name, opts in (data.get("option_sets") or {}).items() if name != "__line__"}
    items: list[Item] = []
    seen: set[str] = set()
    for raw in data.get("items") or []:
        line = raw.get("__line__", 1) if isinstance(raw, dict) else 1
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not ITEM_ID_RE.match(raw["id"]):
            problem(line, "every item needs an id of lower-case letters and digits", "e.g. 'id: q1'")
            continue
        if raw["id"] in seen:
            problem(line, f"the item id {raw['id']!r} is used twice", "give every item its own id")
        seen.add(raw["id"])
        item = _item(raw, line, option_sets, licence, problem)
        if item is not None:
            items.append(item)
    return items


def _item(raw: dict, line: int, option_sets: dict, licence, problem) -> Item | None:
    """One item of the questionnaire, or None (with a problem) if it cannot be used."""
    item_id = raw["id"]
    kind = raw.get("type")
    if kind not in ITEM_TYPES:
        problem(line, f"item {item_id!r} has the unknown type {kind!r}", "use one of: " + ", ".join(sorted(ITEM_TYPES)))
        return None
    options: list[Option] = []
    raw_options = raw.get("options")
    if isinstance(raw_options, str):
        if raw_options not in option_sets:
            problem(line, f"item {item_id!r} uses the option set {raw_options!r}, which is not defined",
                    "define it under option_sets")
            return None
        raw_options = option_sets[raw_options]
    for opt in raw_options or []:
        if not isinstance(opt, dict) or not isinstance(opt.get("value"), int):
            problem(line, f"an option of item {item_id!r} has no whole-number value", "write {value: 0, label: {...}}")
            continue
        options.append(Option(opt["value"], _texts(opt.get("label"))))
    low, high = raw.get("min"), raw.get("max")
    if kind == "single_choice" and not options and not (isinstance(low, int) and isinstance(high, int)):
        problem(line, f"item {item_id!r} has no options", "list options, name an option set, or give min and max")
        return None
    if kind in ("scale", "vas") and not (isinstance(low, int) and isinstance(high, int) and low < high):
        problem(line, f"item {item_id!r} needs whole-number min and max, min below max", "e.g. 'min: 0, max: 10'")
        return None
    if licence == "free" and kind != "info" and not _texts(raw.get("text")):
        problem(line, f"item {item_id!r} has no text", "add text: {sv: …, en: …}")
    return Item(
        id=item_id, type=kind, texts=_texts(raw.get("text")), required=bool(raw.get("required", False)),
        options=tuple(options), min=low, max=high, reverse=bool(raw.get("reverse", False)),
        min_labels=_texts(raw.get("min_label")), max_labels=_texts(raw.get("max_label")), line=line,
    )


def _safety_rules(data: dict, by_id: dict, problem) -> list[SafetyRule]:
    """The answers that alert the care team at once."""
    safety = []
    for rule in data.get("safety") or []:
        line = rule.get("__line__", 1) if isinstance(rule, dict) else 1
        if not isinstance(rule, dict) or rule.get("item") not in by_id:
            problem(line, f"the safety rule names the unknown item {rule.get('item') if isinstance(rule, dict) else rule!r}",
                    "use the id of an item in this questionnaire")
            continue
        if not isinstance(rule.get("min"), int):
            problem(line, "a safety rule needs 'min': the lowest answer that alerts", "e.g. {item: q9, min: 1}")
            continue
        safety.append(SafetyRule(rule["item"], rule["min"]))
    return safety


def _scale(spec: dict, method: str, by_id: dict, line: int, problem) -> Scale | None:
    names = [n for n in spec.get("items") or []]
    unknown = [n for n in names if n not in by_id]
    if unknown:
        problem(line, f"scoring names unknown items: {', '.join(map(str, unknown))}", "use the ids of items in this questionnaire")
        return None
    unscored = [n for n in names if by_id[n].type not in SCORED_TYPES]
    if unscored:
        problem(line, f"these items cannot be scored: {', '.join(unscored)}", "score only choice, scale, vas and number items")
        return None
    bands = []
    for raw in spec.get("bands") or []:
        if not isinstance(raw, dict) or not all(isinstance(raw.get(k), (int, float)) for k in ("min", "max")):
            problem(raw.get("__line__", line) if isinstance(raw, dict) else line, "a band needs numbers min and max",
                    "e.g. {min: 0, max: 4, label: {...}}")
            return None
        bands.append(Band(raw["min"], raw["max"], _texts(raw.get("label"))))
    bands.sort(key=lambda b: b.min)
    # Bands must cover the range without gaps or overlaps (whole-number sums).
    for earlier, later in pairwise(bands):
        step = 1 if method == "sum" else 0
        if later.min <= earlier.max:
            problem(line, f"bands overlap: {earlier.min}–{earlier.max} and {later.min}–{later.max}",
                    "make each band start where the one before ends")
            return None
        if step and later.min != earlier.max + step:
            problem(line, f"there is a gap between the bands {earlier.min}–{earlier.max} and {later.min}–{later.max}",
                    "make each band start right after the one before")
            return None
    score_range = spec.get("range")
    if bands and score_range and (bands[0].min != score_range[0] or bands[-1].max != score_range[1]):
        problem(line, f"the bands cover {bands[0].min}–{bands[-1].max} but the range is {score_range[0]}–{score_range[1]}",
                "make the bands start at the lowest and end at the highest possible score")
        return None
    return Scale(items=tuple(names), method=method, bands=tuple(bands),
                 range=tuple(score_range) if score_range else None)
