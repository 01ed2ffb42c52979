"""How answers to a questionnaire are scored: pure functions of a definition and answers.

No app and no database: the scheduler, the clinician's pages, the follow-up
statistics and the property tests all score the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from webapp.content.questionnaires import Band, Item, Questionnaire, Scale


@dataclass(frozen=True)
class Score:
    total: float | None
    band: Band | None
    subscales: dict
    missing: tuple[str, ...]
    safety_hits: tuple[str, ...]

    @property
    def is_complete(self) -> bool:
        return self.total is not None or bool(self.subscales)


def item_value(item: Item, raw) -> int | None:
    """The scored value of one answer (reverse-scored items turned round), or None."""
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except (TypeError, ValueError):
        return None
    if value < item.low or value > item.high:
        return None
    return item.low + item.high - value if item.reverse else value


def _score_scale(form: Questionnaire, scale: Scale, answers: dict) -> tuple[float | None, Band | None, list[str]]:
    values, missing = [], []
    for name in scale.items:
        value = item_value(form.item(name), answers.get(name))
        if value is None:
            missing.append(name)
        else:
            values.append(value)
    if len(missing) > form.max_missing or not values:
        return None, None, missing
    if scale.method == "mean":
        total = round(sum(values) / len(values), 2)
    else:
        # Missing answers within the allowance are filled with the mean of the
        # answered items (prorating), the common rule for short scales.
        total = sum(values)
        if missing:
            total = round(total + total / len(values) * len(missing))
    band = next((b for b in scale.bands if b.min <= total <= b.max), None)
    return total, band, missing


def score(form: Questionnaire, answers: dict) -> Score:
    """Score answers ({item id: value}); totals are None when too much is missing."""
    total, band, missing = (None, None, [])
    if form.total is not None:
        total, band, missing = _score_scale(form, form.total, answers)
    subscales = {}
    for name, scale in form.subscales.items():
        sub_total, sub_band, sub_missing = _score_scale(form, scale, answers)
        subscales[name] = (sub_total, sub_band)
        missing += [m for m in sub_missing if m not in missing]
    hits = tuple(rule.item for rule in form.safety
                 if item_value(form.item(rule.item), answers.get(rule.item)) is not None
                 and _raw_int(answers.get(rule.item)) >= rule.min)
    return Score(total=total, band=band, subscales=subscales, missing=tuple(missing), safety_hits=hits)


def _raw_int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def is_improvement(form: Questionnaire, before: float | None, after: float | None) -> bool | None:
    """A meaningful change in the better direction; None when it cannot be told."""
    meaningful = is_meaningful_change(form, before, after)
    if meaningful is None:
        return None
    return meaningful and ((after < before) if form.better == "lower" else (after > before))


def is_meaningful_change(form: Questionnaire, before: float | None, after: float | None) -> bool | None:
    """Whether the change between two totals reaches the form's threshold."""
    if before is None or after is None or form.meaningful_change is None:
        return None
    return abs(after - before) >= form.meaningful_change
