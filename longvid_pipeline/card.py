"""The dataset card: OUT/README.md in the Hugging Face card format, with plots.

Every build ends by writing it, so an OUT folder is ready to share as it stands: a YAML
header that the Hub reads (licence, task categories, size category, one config per table
listing exactly the committed Parquet files), then what the dataset holds (inputs, kept,
rejected, hours, rows per table, QA per task and form), the licences of its videos, the
rejects by reason, the validation pass rates, the recipe as it ran, how to load it, and
plots under OUT/card/ (duration histogram, clips per video, QA per task and form,
answer-letter balance, the NIAH grid when there is one). Everything comes from the commit
records and the manifest, like `stats`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from longvid_pipeline.files import atomic_path, write_atomic
from longvid_pipeline.query import connect
from longvid_pipeline.shards import committed_files

CARD_DIR = "card"
TASK_CATEGORIES = ["video-text-to-text", "visual-question-answering"]
# Licence ids of videos.license (fetching/licences.py) that the Hub knows under another name.
HUB_LICENCES = {
    "cc0": "cc0-1.0",
    "public-domain": "cc0-1.0",
    "mit": "mit",
    "apache-2.0": "apache-2.0",
}
SIZE_CATEGORIES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                   (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M"))  # fmt: skip


def size_category(rows: int) -> str:
    """The Hub's size bucket for a number of examples."""
    return next((name for limit, name in SIZE_CATEGORIES if rows < limit), "n>10M")


def _rows(out: Path, sql: str) -> list[tuple[Any, ...]]:
    connection = connect(out)
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


def card_facts(out: Path) -> dict[str, Any]:
    """The numbers a card shows, read from OUT's committed shards."""
    files = committed_files(out)
    has_niah = bool(files.get("niah"))
    return {
        "files": {table: [str(path.relative_to(out)) for path in paths] for table, paths in files.items()},
        "durations": [row[0] for row in _rows(out, "SELECT duration_s FROM videos ORDER BY 1")],
        "clips_per_video": [row[0] for row in _rows(
            out, "SELECT count(c.clip_id) FROM videos v LEFT JOIN clips c USING (video_id) GROUP BY v.video_id")],
        "qa_by_task_form": _rows(out, "SELECT task, CASE WHEN options IS NULL THEN 'open' ELSE 'mc' END, "
                                      "count(*) FROM qa GROUP BY ALL ORDER BY 1, 2"),
        "answer_letters": _rows(out, "SELECT answer_index, count(*) FROM qa WHERE answer_index IS NOT NULL "
                                     "GROUP BY 1 ORDER BY 1"),
        "licences": _rows(out, "SELECT coalesce(license, 'unknown'), count(*), round(sum(duration_s) / 3600, 3) "
                               "FROM videos GROUP BY 1 ORDER BY 2 DESC, 1"),
        "niah_grid": _rows(out, "SELECT length, depth, count(*) FROM niah GROUP BY ALL ORDER BY 1, 2")
        if has_niah else [],
    }  # fmt: skip


def out_configs(facts: dict[str, Any]) -> list[dict[str, Any]]:
    """The Hub configs of an OUT folder: one per table, listing exactly the committed files
    (a file of a killed run is never data), every row in one split named `train` (the Hub's
    name for a single split: `all` is reserved; the rows' own `split` column says train, val
    or test, and `export --format hf` writes them as splits)."""
    return [
        {"config_name": table, "data_files": [{"split": "train", "path": paths}]}
        for table, paths in sorted(facts["files"].items())
    ]


def hub_licence(licences: list[str]) -> str:
    """The card header's `license`: the Hub id when every video has the same licence and
    the Hub knows it, else `other` (the body lists each licence and its videos)."""
    return HUB_LICENCES.get(licences[0], "other") if len(licences) == 1 else "other"


def _header(
    manifest: dict[str, Any], facts: dict[str, Any], configs: list[dict[str, Any]]
) -> dict[str, Any]:
    rows = sum(manifest["counts"]["tables"].get(table, 0) for table in ("qa", "niah"))
    return {
        "pretty_name": manifest["recipe"]["name"],
        "license": hub_licence([name for name, _, _ in facts["licences"]]),
        "task_categories": TASK_CATEGORIES,
        "language": ["en"],
        "tags": ["long-video", "video-qa", "needle-in-a-haystack", "longvid"],
        "size_categories": [size_category(rows)],
        "configs": configs,
    }


def _table(head: list[str], rows: list[tuple[Any, ...]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(value) for value in row) + " |" for row in rows]
    return [*lines, ""]


def _validation_rows(out: Path) -> list[tuple[Any, ...]]:
    path = out / "validation.json"
    if not path.exists():
        return []
    tables = json.loads(path.read_text())["tables"]
    return [
        (table, summary["evaluated_checks"], summary["failed_checks"])
        for table, summary in tables.items()
    ]


def out_loading(out: str) -> list[str]:
    """How to load an OUT folder's tables: its committed files as Parquet, or the card."""
    return ["```python", "import datasets", "from longvid_pipeline.api import committed_files", "",
            f'files = [str(path) for path in committed_files("{out}", "qa")]  # only committed files are data',
            'qa = datasets.load_dataset("parquet", data_files=files, split="train")',
            f'qa = datasets.load_dataset("{out}", "qa", split="train")  # the same rows, through this card\'s configs',
            "```", "", "A folder with splits and one config per QA task, ready to upload to the Hub:", "",
            "```bash", f"longvid-pipeline export {out} --format hf {out}-hf", "```", "",
            "```bash", f'longvid-pipeline query {out} "select task, count(*) from qa group by task"', "```"]  # fmt: skip


def card_markdown(
    out: Path,
    manifest: dict[str, Any],
    facts: dict[str, Any],
    plots: list[str],
    configs: list[dict[str, Any]] | None = None,
    loading: list[str] | None = None,
) -> str:
    """The whole card: YAML header, then the body. `configs` and `loading` default to
    those of the OUT folder itself; an export passes the ones of its own files."""
    inputs, counts = manifest["inputs"], manifest["counts"]
    configs = out_configs(facts) if configs is None else configs
    header = yaml.safe_dump(_header(manifest, facts, configs), sort_keys=False, width=1000)
    lines = [f"---\n{header}---", "", f"# {manifest['recipe']['name']}", "",
             "Built with longvid from the recipe below. Only the Parquet files that `_commits/*.json` "
             "list are data (the configs above list exactly those).", "",
             "## What it holds", ""]  # fmt: skip
    lines += _table(
        ["inputs", "kept", "rejected", "video hours"],
        [(inputs["total"], inputs["kept"], inputs["rejected"], counts["video_hours"])],
    )
    lines += _table(["table", "rows"], sorted(counts["tables"].items()))
    lines += [
        "### QA per task and form",
        "",
        *_table(["task", "form", "rows"], facts["qa_by_task_form"]),
    ]
    lines += ["## Licences", "", "Licence of each video as the site or the manifest gave it, as a short id "
              "(`videos.license`; the original text in `videos.license_text`, the page in `videos.page_url`, "
              "the uploader in `videos.uploader`): check each before reuse.", "",
              *_table(["licence", "videos", "hours"], facts["licences"])]  # fmt: skip
    lines += [
        "## Rejects",
        "",
        *_table(
            ["stage", "level", "reason", "count"],
            [(r["stage"], r["level"], r["reason"], r["count"]) for r in manifest["rejects"]],
        ),
    ]
    lines += ["## Validation", "", "Expectation checks per table (details in validation.md).", "",
              *_table(["table", "checks evaluated", "failed"], _validation_rows(out))]  # fmt: skip
    lines += ["## Plots", "", *(f"![{Path(plot).stem}]({plot})" for plot in plots), ""]
    lines += ["## Load it", "", *(out_loading(manifest["out"]) if loading is None else loading),
              "", "## Recipe", "", "```yaml", yaml.safe_dump(manifest["recipe"], sort_keys=False).rstrip(), "```", ""]  # fmt: skip
    return "\n".join(lines)


# A bar plot shows at most this many categories (the largest; the rest summed as "other"):
# a column with thousands of distinct values must not cost minutes of tick-label layout.
MAX_BARS = 24


def _top_categories(labels: list[str], values: list[float]) -> tuple[list[str], list[float]]:
    """The MAX_BARS - 1 largest categories in their order, the rest summed into "other"."""
    if len(values) <= MAX_BARS:
        return labels, values
    ranked = sorted(range(len(values)), key=lambda index: -values[index])
    kept = sorted(ranked[: MAX_BARS - 1])
    other = sum(values[index] for index in ranked[MAX_BARS - 1 :])
    return [labels[i] for i in kept] + ["other"], [values[i] for i in kept] + [other]


def _bar(axes: Any, labels: list[str], values: list[float], title: str) -> None:
    labels, values = _top_categories(labels, values)
    axes.bar(range(len(values)), values, color="#4878a8")
    axes.set_xticks(range(len(values)), labels, rotation=30, ha="right")
    axes.set_title(title)


def _save(figure: Any, path: Path) -> None:
    with atomic_path(path, suffix=".png") as temp:
        figure.savefig(temp, dpi=80, bbox_inches="tight")


def render_plots(out: Path, facts: dict[str, Any]) -> list[str]:
    """PNG plots under `out`/card/ (OUT, or an export folder); returns their paths relative to `out`."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    folder = out / CARD_DIR
    folder.mkdir(parents=True, exist_ok=True)
    plots: dict[str, Any] = {
        "durations": lambda ax: (ax.hist([d / 60 for d in facts["durations"]], bins=20, color="#4878a8"),
                                 ax.set_title("video duration (minutes)")),
        "clips_per_video": lambda ax: (ax.hist(facts["clips_per_video"], bins=20, color="#4878a8"),
                                       ax.set_title("clips per video")),
        "qa_per_task": lambda ax: _bar(ax, [f"{t}/{f}" for t, f, _ in facts["qa_by_task_form"]],
                                       [n for _, _, n in facts["qa_by_task_form"]], "QA per task and form"),
        "answer_letters": lambda ax: _bar(ax, [chr(65 + i) for i, _ in facts["answer_letters"]],
                                          [n for _, n in facts["answer_letters"]], "multiple-choice answer letter"),
    }  # fmt: skip
    if facts["niah_grid"]:
        plots["niah_grid"] = lambda ax: _niah_grid(ax, facts["niah_grid"])
    names = []
    for name, draw in plots.items():
        figure, axes = pyplot.subplots(figsize=(5, 3.2))
        draw(axes)
        _save(figure, folder / f"{name}.png")
        pyplot.close(figure)
        names.append(f"{CARD_DIR}/{name}.png")
    return names


def _niah_grid(axes: Any, grid: list[tuple[Any, ...]]) -> None:
    lengths = sorted({length for length, _, _ in grid})
    depths = sorted({depth for _, depth, _ in grid})
    counts = [[0] * len(lengths) for _ in depths]
    for length, depth, count in grid:
        counts[depths.index(depth)][lengths.index(length)] = count
    image = axes.imshow(counts, cmap="Blues", aspect="auto", origin="lower")
    axes.set_xticks(range(len(lengths)), [str(length) for length in lengths])
    axes.set_yticks(range(len(depths)), [f"{depth:g}" for depth in depths])
    axes.set_xlabel("haystack length (frames)")
    axes.set_ylabel("depth (%)")
    axes.set_title("NIAH samples per cell")
    axes.figure.colorbar(image, ax=axes)


def write_card(
    out: Path,
    manifest: dict[str, Any],
    dest: Path | None = None,
    configs: list[dict[str, Any]] | None = None,
    loading: list[str] | None = None,
) -> Path:
    """Write README.md and its plots from OUT's committed shards and manifest, into OUT
    itself or into `dest` (an export, with the configs of its own files)."""
    dest = out if dest is None else dest
    facts = card_facts(out)
    plots = render_plots(dest, facts)
    path = dest / "README.md"
    write_atomic(path, card_markdown(out, manifest, facts, plots, configs, loading).encode())
    return path
