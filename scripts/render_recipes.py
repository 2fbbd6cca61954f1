"""Re-render stages/*.yaml from the code's defaults plus each recipe's own choices.

Run after adding or changing a stage parameter, so every recipe file keeps showing every
default (tests/test_recipe.py fails until it does):  .venv/bin/python scripts/render_recipes.py
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from longvid_pipeline.recipe import RECIPE_DIR, recipe_defaults, render_recipe

RECIPES: dict[str, tuple[str, dict[str, Any]]] = {
    "demo.yaml": (
        "# The embedded default recipe: the demo world rendered locally, served over loopback, built\n"
        "# end to end on a local Ray with CPUs only. `longvid-pipeline run` with no recipe runs this.\n"
        "# Every parameter that changes the output is shown with its default.\n",
        {
            "name": "demo",
            "out": "out/demo",
            "stages.fetch.allow_loopback": True,
            "stages.caption.resources.concurrency": 1,
            "stages.qa.resources.concurrency": 1,
        },
    ),
    "longvid.yaml": (
        "# A cluster build from a manifest of public videos: `ray up ray_cluster.yaml`, then\n"
        "#   RAY_AUTH_MODE=token ray job submit --working-dir . -- longvid-pipeline run stages/longvid.yaml"
        " --out /mnt/shared/longvid\n"
        "# OUT must be storage every node sees. Captions come from the sites' subtitles until the VLM\n"
        "# captioner backend lands; videos without subtitles become `no_captions_source` rejects.\n",
        {
            "name": "longvid",
            "out": "out/longvid",
            "source.kind": "manifest",
            "source.path": "stages/manifests/example.csv",
            "stages.caption.backend": "subtitles",
            "stages.fetch.resources.concurrency": 16,
            "stages.segment.resources.concurrency": 16,
            "shards.videos_per_commit": 16,
        },
    ),
}


def _set(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for part in parents:
        data = data[part]
    if leaf not in data:
        raise KeyError(f"{dotted}: no such key in the defaults")
    data[leaf] = value


def main() -> None:
    for name, (header, choices) in RECIPES.items():
        data = recipe_defaults()
        for key, value in choices.items():
            _set(data, key, value)
        Path(RECIPE_DIR / name).write_text(header + render_recipe(data))
        print(f"wrote {RECIPE_DIR / name}")


if __name__ == "__main__":
    main()
