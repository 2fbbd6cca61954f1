"""The dataset card's plots stay readable and cheap whatever the data holds."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from longvid_pipeline.card import MAX_BARS, _top_categories, render_plots


def test_few_categories_are_kept_as_they_are() -> None:
    assert _top_categories(["a", "b"], [3.0, 1.0]) == (["a", "b"], [3.0, 1.0])


def test_many_categories_keep_the_largest_in_order_and_sum_the_rest() -> None:
    labels = [f"t{i}" for i in range(100)]
    values = [float(i % 50) for i in range(100)]
    kept_labels, kept_values = _top_categories(labels, values)
    assert len(kept_labels) == MAX_BARS and kept_labels[-1] == "other"
    assert sum(kept_values) == sum(values)
    assert min(kept_values[:-1]) >= max(
        v for label, v in zip(labels, values, strict=True) if label not in kept_labels
    )
    positions = [labels.index(label) for label in kept_labels[:-1]]
    assert positions == sorted(positions)  # the original order, not the rank


def test_plots_of_thousands_of_categories_are_bounded_images(tmp_path: Path) -> None:
    facts = {
        "durations": [60.0 * i for i in range(1, 50)],
        "clips_per_video": list(range(1, 50)),
        "qa_by_task_form": [(f"task{i}", "open", i) for i in range(5000)],
        "answer_letters": [(0, 5), (1, 5), (2, 4), (3, 6)],
        "niah_grid": [],
    }
    names = render_plots(tmp_path, facts)
    assert len(names) == 4
    for name in names:
        with Image.open(tmp_path / name) as image:
            image.verify()
            assert image.size[0] < 1000
