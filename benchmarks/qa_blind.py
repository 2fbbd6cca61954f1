"""Can the questions be answered without the video? Question-only baselines on built QA.

For every task and form of the `qa` rows in OUT, baselines that see only text:

multiple choice (chance = 1 / options):
  position   the letter most often right in training
  rank       the option of a given rank among numeric options (counts, span starts)
  length     the longest or the shortest option (whichever won in training)
  prior      the option whose text was right most often when offered, in training
  overlap    the option sharing most words with the question
  classifier a conditional-logit bag-of-words model over option words, option position,
             numeric rank and question x option word pairs, trained on some videos and
             scored on others (numpy; 5 folds by video)
open:
  majority   the most common answer of the question type in training (exact match)
  nb         multinomial naive Bayes from question words to answer text (exact match)
  span prior the training mean of (start, end) / duration, scored by IoU (span answers)

Every baseline is fitted on four folds of videos and scored on the fifth. Also printed:
distinct question 3-grams and templates per task, and with --speed the template
generator's rows per second (the QA stage re-run on OUT's videos and clips).

    PYTHONPATH=. .venv/bin/python benchmarks/qa_blind.py OUT [--folds 5] [--speed] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import math
import re
import time
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np

from longvid_pipeline.api import read_rows
from longvid_pipeline.qa.formats import NONE_OF_THE_ABOVE, parse_span

Row = dict[str, Any]


def words(text: str) -> list[str]:
    return re.findall(r"[a-z]+|\d+(?:\.\d+)?", text.lower())


def fold_of(row: Row, folds: int) -> int:
    return zlib.crc32(row["video_id"].encode()) % folds


def numeric(option: str) -> float | None:
    """A count, or the start of a span; None for anything else."""
    if option == NONE_OF_THE_ABOVE:
        return None
    span = parse_span(option)
    if span is not None:
        return span[0]
    return float(option) if re.fullmatch(r"\d+", option.strip()) else None


def ranks(options: list[str]) -> list[int | None]:
    values = [numeric(o) for o in options]
    ordered = sorted(v for v in values if v is not None)
    return [None if v is None else ordered.index(v) for v in values]


# ------------------------------------------------------------------ multiple choice


def best_of(
    train: list[Row], rules: dict[str, Callable[[Row], int | None]]
) -> Callable[[Row], int | None]:
    """The rule with the highest training accuracy."""
    scored = {
        name: sum(rule(r) == r["answer_index"] for r in train) for name, rule in rules.items()
    }
    return rules[max(scored, key=lambda name: scored[name])]


def position_baseline(train: list[Row]) -> Callable[[Row], int | None]:
    return best_of(train, {str(k): (lambda r, k=k: k) for k in range(4)})


def rank_baseline(train: list[Row]) -> Callable[[Row], int | None]:
    def rule(k: int) -> Callable[[Row], int | None]:
        return lambda r: ranks(r["options"]).index(k) if k in ranks(r["options"]) else None

    return best_of(train, {str(k): rule(k) for k in range(4)})


def length_baseline(train: list[Row]) -> Callable[[Row], int | None]:
    def longest(r: Row) -> int:
        return max(range(4), key=lambda i: len(r["options"][i]))

    def shortest(r: Row) -> int:
        return min(range(4), key=lambda i: len(r["options"][i]))

    return best_of(train, {"longest": longest, "shortest": shortest})


def prior_baseline(train: list[Row]) -> Callable[[Row], int | None]:
    right, offered = Counter(), Counter()
    for r in train:
        for i, option in enumerate(r["options"]):
            offered[option] += 1
            right[option] += i == r["answer_index"]

    def predict(r: Row) -> int:
        return max(
            range(4), key=lambda i: (right[r["options"][i]] + 1) / (offered[r["options"][i]] + 4)
        )

    return predict


def overlap_baseline(train: list[Row]) -> Callable[[Row], int | None]:
    def predict(r: Row) -> int:
        question = set(words(r["question"]))
        return max(range(4), key=lambda i: len(question & set(words(r["options"][i]))))

    return predict


DIMS = 1 << 16


def option_features(r: Row, index: int) -> list[int]:
    """Hashed features of one option in its question (bag of words and their pairs)."""
    option = r["options"][index]
    option_words = set(words(option))
    question_words = set(words(r["question"]))
    rank = ranks(r["options"])[index]
    names = [f"o:{w}" for w in option_words] + [f"pos:{index}", f"rank:{rank}"]
    names += [f"len:{min(len(option) // 10, 20)}", f"shared:{len(option_words & question_words)}"]
    names += [f"x:{q}:{o}" for q in question_words for o in option_words]
    names += [f"same:{w}" for w in option_words & question_words]
    return [zlib.crc32(name.encode()) % DIMS for name in names]


def classifier_baseline(
    train: list[Row], epochs: int = 30, rate: float = 0.5
) -> Callable[[Row], int | None]:
    """Conditional logit: softmax over the options' feature scores, trained by SGD."""
    weights = np.zeros(DIMS)
    encoded = [([option_features(r, i) for i in range(4)], r["answer_index"]) for r in train]
    order = np.random.default_rng(0)
    for _ in range(epochs):
        for index in order.permutation(len(encoded)):
            features, answer = encoded[index]
            scores = np.array([weights[f].sum() for f in features])
            probs = np.exp(scores - scores.max())
            probs /= probs.sum()
            for i, f in enumerate(features):
                weights[f] += rate * ((i == answer) - probs[i]) / math.sqrt(max(1, len(f)))
            weights *= 1 - 1e-4

    def predict(r: Row) -> int:
        return int(np.argmax([weights[option_features(r, i)].sum() for i in range(4)]))

    return predict


MC_BASELINES: dict[str, Callable[[list[Row]], Callable[[Row], int | None]]] = {
    "position": position_baseline,
    "rank": rank_baseline,
    "length": length_baseline,
    "prior": prior_baseline,
    "overlap": overlap_baseline,
    "classifier": classifier_baseline,
}


# ---------------------------------------------------------------------------- open


def normalized(text: str) -> str:
    return " ".join(words(text))


def majority_baseline(train: list[Row]) -> Callable[[Row], str]:
    by_type = defaultdict(Counter)
    for r in train:
        by_type[r["question_type"]][normalized(r["answer"])] += 1
    overall = Counter(normalized(r["answer"]) for r in train)

    def predict(r: Row) -> str:
        counts = by_type.get(r["question_type"]) or overall
        return counts.most_common(1)[0][0] if counts else ""

    return predict


def nb_baseline(train: list[Row]) -> Callable[[Row], str]:
    """Multinomial naive Bayes from question words to the (normalized) answer."""
    classes = Counter(normalized(r["answer"]) for r in train)
    word_counts: dict[str, Counter[str]] = defaultdict(Counter)
    for r in train:
        word_counts[normalized(r["answer"])].update(words(r["question"]))
    vocabulary = {w for counts in word_counts.values() for w in counts}
    totals = {c: sum(counts.values()) for c, counts in word_counts.items()}

    def predict(r: Row) -> str:
        question = words(r["question"])

        def score(c: str) -> float:
            base = math.log(classes[c])
            denominator = totals[c] + len(vocabulary)
            return base + sum(math.log((word_counts[c][w] + 1) / denominator) for w in question)

        return max(classes, key=score) if classes else ""

    return predict


def iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else 0.0


def answer_span(row: Row) -> tuple[float, float] | None:
    """The span a row's answer is, when the whole answer is one ('From 1.0s to 2.0s.')."""
    return parse_span(row["answer"]) if SPAN_ANSWER.fullmatch(row["answer"]) else None


SPAN_ANSWER = re.compile(r"From [\d.]+s to [\d.]+s\.")


def span_prior(train: list[Row], test: list[Row]) -> float | None:
    """Mean IoU of predicting the training mean relative span, or None without spans."""
    relative = [
        (span[0] / r["video_duration_s"], span[1] / r["video_duration_s"])
        for r in train
        if (span := answer_span(r)) is not None
    ]
    scored = [(r, answer_span(r)) for r in test]
    scored = [(r, span) for r, span in scored if span is not None]
    if not relative or not scored:
        return None
    start, end = np.mean(relative, axis=0)
    return float(
        np.mean(
            [
                iou((start * r["video_duration_s"], end * r["video_duration_s"]), s)
                for r, s in scored
            ]
        )
    )


# --------------------------------------------------------------------------- report


def cross_validate(
    rows: list[Row],
    folds: int,
    fit: Callable[[list[Row]], Callable[[Row], Any]],
    right: Callable[[Row, Any], bool],
) -> float:
    hits = 0
    for fold in range(folds):
        train = [r for r in rows if fold_of(r, folds) != fold]
        test = [r for r in rows if fold_of(r, folds) == fold]
        if not test or not train:
            continue
        predict = fit(train)
        hits += sum(right(r, predict(r)) for r in test)
    return hits / len(rows)


def mc_report(rows: list[Row], folds: int) -> dict[str, Any]:
    chance = float(np.mean([1 / len(r["options"]) for r in rows]))
    numeric_rows = [r for r in rows if sum(v is not None for v in ranks(r["options"])) >= 3]
    report = {"n": len(rows), "chance": chance}
    for name, fit in MC_BASELINES.items():
        subset = numeric_rows if name == "rank" else rows
        if not subset:
            report[name] = None
            continue
        report[name] = cross_validate(subset, folds, fit, lambda r, p: p == r["answer_index"])
    report["letters"] = dict(sorted(Counter("ABCD"[r["answer_index"]] for r in rows).items()))
    report["worst_gap"] = max(
        v - chance for k, v in report.items() if k in MC_BASELINES and v is not None
    )
    return report


def open_report(rows: list[Row], folds: int) -> dict[str, Any]:
    exact = lambda r, p: p == normalized(r["answer"])  # noqa: E731
    report: dict[str, Any] = {
        "n": len(rows),
        "majority": cross_validate(rows, folds, majority_baseline, exact),
        "nb": cross_validate(rows, folds, nb_baseline, exact),
    }
    ious = []
    for fold in range(folds):
        train = [r for r in rows if fold_of(r, folds) != fold]
        test = [r for r in rows if fold_of(r, folds) == fold]
        value = span_prior(train, test)
        if value is not None:
            ious.append((value, len(test)))
    if ious:
        report["span_prior_iou"] = sum(v * n for v, n in ious) / sum(n for _, n in ious)
    return report


def diversity(rows: list[Row]) -> dict[str, Any]:
    from longvid_pipeline.qa.templates import QUESTION_TYPES

    by_task: dict[str, Any] = {}
    for task in [*sorted({r["task"] for r in rows}), "all"]:
        chosen = [r for r in rows if task in ("all", r["task"])]
        grams = [
            tuple(ws[i : i + 3])
            for r in chosen
            for ws in [words(r["question"])]
            for i in range(len(ws) - 2)
        ]
        types = [t for name, ts in QUESTION_TYPES.items() if task in ("all", name) for t in ts]
        by_task[task] = {
            "questions": len(chosen),
            "distinct_3grams": len(set(grams)),
            "distinct_3gram_share": len(set(grams)) / max(1, len(grams)),
            "question_types": len(types),
            "templates": sum(len(t.open_phrasings) + len(t.choice_phrasings) for t in types),
            "types_seen": len({r["question_type"] for r in chosen}),
        }
    return by_task


def speed(out: str, repeats: int = 3) -> dict[str, float]:
    """Rows per second of the template generator: the QA stage re-run on OUT's videos."""
    from longvid_pipeline.config import build_section
    from longvid_pipeline.item import WorkItem
    from longvid_pipeline.qa.config import QAConfig
    from longvid_pipeline.stage import RunContext
    from longvid_pipeline.stages.qa import QAStage

    videos = read_rows(out, "videos")
    clips = defaultdict(list)
    for clip in read_rows(out, "clips"):
        clips[clip["video_id"]].append(clip)
    config, _ = build_section(QAConfig, {}, "stages.qa")
    stage = QAStage(config, RunContext(out_dir=out))
    stage.setup()
    best, rows = math.inf, 0
    for _ in range(repeats):
        started, rows = time.perf_counter(), 0
        for video in videos:
            item = WorkItem(
                input_id=video["input_id"], source={}, source_kind="demo", split="train"
            )
            item.video, item.clips = video, clips[video["video_id"]]
            rows += len(stage.process(item).qa)
        best = min(best, time.perf_counter() - started)
    minutes = sum(v["duration_s"] for v in videos) / 60
    return {
        "videos": len(videos),
        "video_minutes": minutes,
        "rows": rows,
        "seconds": best,
        "rows_per_s": rows / best,
    }


def load_rows(out: str) -> list[Row]:
    """Committed qa rows; rows of an older contract (no question_type / form) are read as
    they are, so a dataset built before can be measured the same way."""
    try:
        return read_rows(out, "qa")
    except Exception:  # an older contract: read the committed files without one
        import pyarrow as pa
        import pyarrow.parquet as pq

        from longvid_pipeline.api import committed_files

        rows = pa.concat_tables(pq.read_table(p) for p in committed_files(out, "qa")).to_pylist()
        for row in rows:
            row.setdefault("question_type", f"{row['task']}/?")
            row.setdefault("form", "open" if row["options"] is None else "multiple_choice")
        return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", help="output folder of a run (its committed qa rows)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--speed", action="store_true", help="also time the template generator")
    parser.add_argument("--json", help="write the full report here")
    args = parser.parse_args()
    rows = load_rows(args.out)
    report: dict[str, Any] = {"rows": len(rows), "videos": len({r["video_id"] for r in rows})}
    report["multiple_choice"] = {}
    report["open"] = {}
    for task in sorted({r["task"] for r in rows}):
        mc = [r for r in rows if r["task"] == task and r["options"] is not None]
        opened = [r for r in rows if r["task"] == task and r["options"] is None]
        if mc:
            report["multiple_choice"][task] = mc_report(mc, args.folds)
        if opened:
            report["open"][task] = open_report(opened, args.folds)
    report["diversity"] = diversity(rows)
    if args.speed:
        report["speed"] = speed(args.out)
    print_report(report)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=1)


def print_report(report: dict[str, Any]) -> None:
    print(f"{report['rows']} qa rows from {report['videos']} videos")
    names = list(MC_BASELINES)
    print("\nmultiple choice: accuracy (%) of question-only baselines, 5-fold by video")
    print(
        f"{'task':14} {'n':>5} {'chance':>7} "
        + " ".join(f"{n:>10}" for n in names)
        + "  worst-chance  letters"
    )
    for task, r in report["multiple_choice"].items():
        cells = " ".join(f"{'-' if r[n] is None else f'{100 * r[n]:.1f}':>10}" for n in names)
        print(
            f"{task:14} {r['n']:>5} {100 * r['chance']:>7.1f} {cells}  {100 * r['worst_gap']:+11.1f}  {r['letters']}"
        )
    print("\nopen: exact-match accuracy (%) of question-only baselines; span prior as mean IoU")
    for task, r in report["open"].items():
        span = f"  span prior IoU {100 * r['span_prior_iou']:.1f}" if "span_prior_iou" in r else ""
        print(
            f"{task:14} {r['n']:>5}  majority {100 * r['majority']:5.1f}  nb {100 * r['nb']:5.1f}{span}"
        )
    print("\ndiversity per task")
    for task, d in report["diversity"].items():
        print(
            f"{task:14} questions {d['questions']:>5}  distinct 3-grams {d['distinct_3grams']:>5}"
            f" ({100 * d['distinct_3gram_share']:.0f}%)  question types {d['types_seen']}/{d['question_types']}"
            f"  templates {d['templates']}"
        )
    if "speed" in report:
        s = report["speed"]
        print(
            f"\ntemplate generator: {s['rows']} rows for {s['videos']} videos ({s['video_minutes']:.1f} min)"
            f" in {s['seconds']:.2f} s: {s['rows_per_s']:.0f} rows/s"
        )


if __name__ == "__main__":
    main()
