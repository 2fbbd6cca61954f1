"""Per-sample scores by answer form, and their means over any grouping.

Every form scores one sample into a flat dict of numbers whose mean over a group is the
group's metric (accuracy is the mean of 0/1, mIoU the mean IoU, MAE the mean absolute
error), so aggregation is one function whatever the form:

    choice  accuracy
    span    miou, r@0.3, r@0.5, r@0.7            (temporal grounding)
    count   exact, off_by_one, mae
    open    score (LLM judge in [0, 1], else lexical token F1)

An answer that cannot be parsed scores as wrong (IoU 0, count error against 0) and is
counted in `unparsed`: never dropped from the denominator.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from longvid.eval.parsing import normalize_text

IOU_THRESHOLDS = (0.3, 0.5, 0.7)
FORMS = ("choice", "span", "count", "open")
PRIMARY = {"choice": "accuracy", "span": "miou", "count": "exact", "open": "score"}


def interval_iou(predicted: Sequence[float] | None, target: Sequence[float]) -> float:
    """Temporal IoU of two [start, end] spans; 0 for no prediction.

    Zero-length spans: two identical instants overlap fully (1.0); an instant inside or
    outside a span has no length in common with it (0.0).
    """
    if predicted is None:
        return 0.0
    p_start, p_end = sorted(float(value) for value in predicted)
    t_start, t_end = sorted(float(value) for value in target)
    intersection = max(0.0, min(p_end, t_end) - max(p_start, t_start))
    union = max(p_end, t_end) - min(p_start, t_start)
    if union <= 0.0:
        return 1.0 if (p_start, p_end) == (t_start, t_end) else 0.0
    if p_end == p_start or t_end == t_start:
        return 0.0
    return intersection / union


def choice_scores(picked: int | None, answer_index: int) -> dict[str, float]:
    """Accuracy 1/0; an unparsed pick (None) is wrong."""
    return {"accuracy": float(picked is not None and picked == answer_index)}


def span_scores(predicted: Sequence[float] | None, target: Sequence[float]) -> dict[str, float]:
    """IoU and recall at each IoU threshold."""
    iou = interval_iou(predicted, target)
    return {"miou": iou, **{f"r@{t}": float(iou >= t) for t in IOU_THRESHOLDS}}


def count_scores(predicted: int | None, target: int) -> dict[str, float]:
    """Exact, within one, absolute error (an unparsed answer counts as 0 for the error)."""
    error = abs((predicted if predicted is not None else 0) - target)
    exact = predicted is not None and error == 0
    near = predicted is not None and error <= 1
    return {"exact": float(exact), "off_by_one": float(near), "mae": float(error)}


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD-style token F1 of normalized texts: the lexical score of open answers."""
    predicted = normalize_text(prediction).split()
    wanted = normalize_text(reference).split()
    if not predicted or not wanted:
        return float(predicted == wanted)
    common = sum((Counter(predicted) & Counter(wanted)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(wanted)
    return 2 * precision * recall / (precision + recall)


def mean_metrics(records: Iterable[dict[str, Any]]) -> dict[str, float]:
    """n, unparsed and the mean of every per-sample metric over `records`."""
    sums: dict[str, float] = defaultdict(float)
    count = unparsed = 0
    for record in records:
        count += 1
        unparsed += int(not record["parsed_ok"])
        for name, value in record["metrics"].items():
            sums[name] += float(value)
    summary: dict[str, float] = {"n": count, "unparsed": unparsed}
    summary.update({name: total / count for name, total in sums.items()} if count else {})
    return summary


def group_metrics(
    records: Iterable[dict[str, Any]], key: Callable[[dict[str, Any]], tuple[Any, ...]]
) -> dict[tuple[Any, ...], dict[str, float]]:
    """`mean_metrics` per group, groups named by `key(record)`, in sorted order."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        groups[key(record)].append(record)
    return {name: mean_metrics(groups[name]) for name in sorted(groups, key=str)}
