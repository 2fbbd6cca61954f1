"""Hugging Face export: a folder the Hub, and `datasets.load_dataset(DIR, CONFIG)`, read.

    DIR/
      README.md                          the dataset card (card.py): its configs list these files
      card/*.png                         the card's plots
      data/<config>/<split>-NNNNN.parquet
      media/<video_id>.mp4               the videos `videos.uri` and `qa.video_uri` name (option media)

Configs: one per table with committed rows (`videos`, `clips`, `qa`, `niah`, `rejects`) and one
per QA task (`qa_caption`, `qa_grounding`, ...). Splits are the Hub's names (train, validation,
test): a row takes its own `split` (val becomes validation), else the split of its video (the
qa rows say which), else its table's default (`niah` is a benchmark: test; the rest: train).
Only committed files are read, one at a time, so an export never holds a whole table.

Example::

    longvid-pipeline export out/demo --format hf out/demo-hf
    python -c 'import datasets; print(datasets.load_dataset("out/demo-hf", "qa_caption"))'
    hf upload NAME out/demo-hf --repo-type dataset
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from longvid_pipeline.config import param

SPLIT_NAMES = {"train": "train", "val": "validation", "test": "test"}
SPLIT_ORDER = ("train", "validation", "test")
DEFAULT_SPLIT = {"niah": "test"}  # tables without a split of their own or of their video
TASK_CONFIG = "qa_{task}"
MEDIA = ("link", "copy", "none")


@dataclass
class HfExportConfig:
    """Options of `export --format hf` (given as --set key=value)."""

    tables: list[str] = param([], "tables to export (empty: every table with committed rows)")
    task_configs: bool = param(True, "one config per QA task (qa_caption, ...) besides qa")
    media: str = param(
        "link",
        "the videos the rows name, under DIR/media: link (hard link, else copy) | copy | none",
        choices=MEDIA,
    )
    rows_per_file: int = param(100_000, "rows per Parquet file of a config's split", min=1)


class _Sink:
    """Parquet files per (config, split), a new file every `rows_per_file` rows."""

    def __init__(self, dest: Path, rows_per_file: int) -> None:
        self.dest, self.rows_per_file = dest, rows_per_file
        self.writers: dict[tuple[str, str], tuple[Any, str]] = {}
        self.rows: dict[tuple[str, str], int] = {}
        self.files: dict[str, int] = {}

    def write(self, config: str, split: str, data: Any) -> None:
        key = (config, split)
        while data.num_rows:
            writer, name = self._writer(key, data.schema)
            room = self.rows_per_file - self.rows.get(key, 0) % self.rows_per_file
            chunk = data.slice(0, room)
            writer.write_table(chunk)
            self.rows[key] = self.rows.get(key, 0) + chunk.num_rows
            self.files[name] += chunk.num_rows
            data = data.slice(chunk.num_rows)

    def _writer(self, key: tuple[str, str], schema: Any) -> tuple[Any, str]:
        """The open file of `key`, or a new one when there is none or it is full."""
        import pyarrow.parquet as pq

        done = self.rows.get(key, 0)
        if key in self.writers and done % self.rows_per_file == 0:
            self.writers.pop(key)[0].close()
        if key not in self.writers:
            config, split = key
            name = f"data/{config}/{split}-{done // self.rows_per_file:05d}.parquet"
            (self.dest / name).parent.mkdir(parents=True, exist_ok=True)
            writer = pq.ParquetWriter(self.dest / name, schema, compression="zstd")
            self.writers[key], self.files[name] = (writer, name), 0
        return self.writers[key]

    def close(self) -> None:
        for writer, _ in self.writers.values():
            writer.close()
        self.writers.clear()

    def configs(self) -> list[dict[str, Any]]:
        """The card's configs: each config's splits in Hub order, as globs over its files."""
        names = sorted({config for config, _ in self.rows})
        order = {name: index for index, name in enumerate(SPLIT_ORDER)}
        configs: list[dict[str, Any]] = []
        for name in names:
            splits = sorted({s for c, s in self.rows if c == name}, key=lambda s: order.get(s, 9))
            files = [{"split": s, "path": f"data/{name}/{s}-*.parquet"} for s in splits]
            configs.append({"config_name": name, "data_files": files})
        if "qa" in names:
            configs[names.index("qa")]["default"] = True
        return configs


class HfExport:
    """Writes Parquet per config and split, the media the rows name, and the card."""

    Config = HfExportConfig

    def __init__(self, config: HfExportConfig) -> None:
        self.config = config

    def export(self, out: Path, dest: Path) -> dict[str, Any]:
        """Export OUT's committed rows into `dest`; returns the files written and their rows.

        Raises:
            FileNotFoundError: OUT has no manifest.json (it is not a built output).
        """
        from longvid_pipeline.api import committed_files
        from longvid_pipeline.card import write_card
        from longvid_pipeline.tables import available_tables

        manifest_path = out / "manifest.json"
        if not manifest_path.is_file():
            raise FileNotFoundError(f"{manifest_path} not found: export reads a built output")
        tables = self.config.tables or available_tables()
        present = [table for table in tables if committed_files(out, table)]
        for owned in ("data", "card"):  # the export owns these: a rerun replaces them
            shutil.rmtree(dest / owned, ignore_errors=True)
        dest.mkdir(parents=True, exist_ok=True)
        sink = _Sink(dest, self.config.rows_per_file)
        try:
            video_splits = _video_splits(out)
            for table in present:
                self._export_table(out, table, sink, video_splits)
        finally:
            sink.close()
        media = self._media(out, dest) if "videos" in present else 0
        manifest = json.loads(manifest_path.read_text())
        loading = _loading(dest, [config["config_name"] for config in sink.configs()])
        write_card(out, manifest, dest=dest, configs=sink.configs(), loading=loading)
        return {"files": sink.files, "media": media, "card": str(dest / "README.md")}

    def _export_table(
        self, out: Path, table: str, sink: _Sink, video_splits: dict[str, str]
    ) -> None:
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        from longvid_pipeline.api import committed_files, table_schema

        schema = table_schema(table)
        for path in committed_files(out, table):
            data = pq.read_table(path, schema=schema)
            splits = _row_splits(table, data, video_splits)
            for split in sorted(set(splits.to_pylist())):
                part = data.filter(pc.equal(splits, split))
                sink.write(table, split, part)
                if table == "qa" and self.config.task_configs:
                    for task in sorted(set(part["task"].to_pylist())):
                        chosen = part.filter(pc.equal(part["task"], task))
                        sink.write(TASK_CONFIG.format(task=task), split, chosen)

    def _media(self, out: Path, dest: Path) -> int:
        """Link or copy every committed video's media file to the same relative path."""
        if self.config.media == "none":
            return 0
        from longvid_pipeline.api import read_rows

        count = 0
        for row in read_rows(out, "videos"):
            source, target = out / row["uri"], dest / row["uri"]
            if target.exists() or not source.is_file():
                count += target.exists()  # kept from an earlier export
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if self.config.media == "link":
                try:
                    os.link(source, target)
                    count += 1
                    continue
                except OSError:
                    pass  # another filesystem: copy
            shutil.copy2(source, target)
            count += 1
        return count


def _video_splits(out: Path) -> dict[str, str]:
    """video_id -> Hub split name, from the rows that carry both (qa, and videos when it
    has a split column)."""
    import pyarrow.parquet as pq

    from longvid_pipeline.api import committed_files, table_schema

    splits: dict[str, str] = {}
    for table in ("qa", "videos"):
        if "split" not in table_schema(table).names:
            continue
        for path in committed_files(out, table):
            data = pq.read_table(path, columns=["video_id", "split"])
            for video_id, split in zip(
                data["video_id"].to_pylist(), data["split"].to_pylist(), strict=True
            ):
                if split is not None:
                    splits.setdefault(video_id, SPLIT_NAMES.get(split, split))
    return splits


def _row_splits(table: str, data: Any, video_splits: dict[str, str]) -> Any:
    """The Hub split of every row of `data`, as an Arrow string array."""
    import pyarrow as pa

    default = DEFAULT_SPLIT.get(table, "train")
    own = data["split"].to_pylist() if "split" in data.column_names else [None] * data.num_rows
    videos = (
        data["video_id"].to_pylist() if "video_id" in data.column_names else [None] * data.num_rows
    )
    return pa.array(
        [
            SPLIT_NAMES.get(split, split) if split else video_splits.get(video_id or "", default)
            for split, video_id in zip(own, videos, strict=True)
        ],
        pa.string(),
    )


def _loading(dest: Path, configs: list[str]) -> list[str]:
    """The card's "Load it" lines for an export folder."""
    example = next((c for c in configs if c.startswith("qa_")), configs[0] if configs else "qa")
    return ["```python", "import datasets", "",
            f'ds = datasets.load_dataset("{dest}", "{example}")  # a DatasetDict of its splits',
            "```", "", f"Configs: {', '.join(f'`{c}`' for c in configs)}. Upload the folder as it is:", "",
            "```bash", f"hf upload NAME {dest} --repo-type dataset", "```", "",
            'then `datasets.load_dataset("NAME", "qa_caption")`. Rows name their video by its path in this '
            "folder (`qa.video_uri`, `videos.uri`: media/<video_id>.mp4)."]  # fmt: skip
