"""`longvid-pipeline`: run a recipe, query the shards, print stats, inspect a dataset.

Errors say what was wrong and what to do; a bad recipe exits 2 before any work starts.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from longvid_pipeline.config import ConfigError, add_overrides_argument
from longvid_pipeline.errors import DiskFullError, RunFailed, StoreError, message_line
from longvid_pipeline.export import EXPORT_FORMATS
from longvid_pipeline.recipe import DEFAULT_RECIPE, Recipe, load_recipe, recipe_notices
from longvid_pipeline.sources.files import SOURCE_KINDS, SourceError, check_source


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="longvid-pipeline", description=__doc__)
    verbs = parser.add_subparsers(dest="verb", required=True)
    run = verbs.add_parser("run", help="run a recipe (default: the embedded demo recipe)")
    run.add_argument(
        "recipe", nargs="?", default=str(DEFAULT_RECIPE), help="recipe YAML (stages/*.yaml)"
    )
    run.add_argument("--out", help="output folder (overrides the recipe's `out`)")
    add_overrides_argument(run, "source.demo.videos=2", "a recipe key")
    run.add_argument(
        "--force", action="store_true", help="rebuild: delete the derived outputs first"
    )
    run.add_argument("--check", action="store_true", help="validate the recipe and exit")
    run.add_argument("-v", "--verbose", action="store_true")
    run.add_argument("-q", "--quiet", action="store_true", help="no live progress line")
    run.add_argument(
        "--progress-every",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="progress line interval when not on a terminal (default 30)",
    )
    query = verbs.add_parser("query", help="run SQL with one DuckDB view per table")
    query.add_argument("out", help="output folder of a run")
    query.add_argument("sql", help='e.g. "select task, count(*) from qa group by task"')
    query.add_argument("--format", choices=("table", "json", "csv"), default="table")
    stats = verbs.add_parser("stats", help="counts per table and task, hours, rejects, accounting")
    stats.add_argument("out")
    stats.add_argument("--json", action="store_true")
    inspect = verbs.add_parser("inspect", help="show contracts, a video's clips and QA")
    inspect.add_argument("out", nargs="?", help="output folder (omit with --schemas)")
    inspect.add_argument("--schemas", action="store_true", help="print every table contract")
    inspect.add_argument("--video", help="video_id to show")
    render = verbs.add_parser("render-niah", help="write a niah sample as an mp4 (frames streamed)")
    render.add_argument("out", help="output folder of a benchmark build")
    render.add_argument("sample_id", help="niah.sample_id of the sample")
    render.add_argument("--out", dest="file", help="mp4 to write (default OUT/niah_media/ID.mp4)")
    render.add_argument("--haystack-root", help="where the haystack output lives now, if moved")
    render.add_argument(
        "--crf", type=int, default=18, help="x264 CRF (lower: closer to the frames)"
    )
    render.add_argument("--preset", default="veryfast", help="x264 preset")

    export = verbs.add_parser("export", help="write a built dataset in another tool's format")
    export.add_argument("out", help="output folder of a run")
    export.add_argument("dest", help="folder to write the export into")
    export.add_argument("--format", required=True, choices=sorted(EXPORT_FORMATS))
    add_overrides_argument(export, "media=none", "a format option")
    return parser


def _print_table(columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    cells = [[str(value) for value in row] for row in rows]
    widths = [max([len(name), *(len(row[i]) for row in cells)]) for i, name in enumerate(columns)]
    print("  ".join(name.ljust(width) for name, width in zip(columns, widths, strict=True)))
    print("  ".join("-" * width for width in widths))
    for row in cells:
        print("  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)))


def _cmd_run(args: argparse.Namespace) -> int:
    recipe = load_recipe(args.recipe, args.overrides)
    try:
        inputs = _check_source(recipe)  # a wrong path fails here, before any work
        if args.check:
            print(
                f"{args.recipe}: ok ({len(recipe.stages)} stages:"
                f" {', '.join(s.name for s in recipe.stages)}{inputs})"
            )
            for notice in recipe_notices(recipe):
                print(f"NOTE: {notice}")
            return 0
        from longvid_pipeline.runner import run_recipe

        result = run_recipe(
            recipe,
            args.out,  # a folder or a store URL (kept as text: Path would fold "s3://")
            force=args.force,
            progress_every_s=None if args.quiet else args.progress_every,
        )
    except SourceError as exc:
        print(f"error: {args.recipe}: source.path: {exc}", file=sys.stderr)
        return 2
    print(format_summary(result.manifest, result.wall_s, result.inputs_todo))
    return 0


def _check_source(recipe: Recipe) -> str:
    """Read a manifest or folder source as the run would; '' for other kinds."""
    if recipe.source.kind not in SOURCE_KINDS:
        return ""
    count = check_source(recipe.source.kind, Path(recipe.source.path or ""))
    return f"; source {recipe.source.kind} {recipe.source.path}: {count} inputs"


def format_summary(manifest: dict[str, Any], wall_s: float, todo: int) -> str:
    """The run summary `make demo` prints."""
    inputs, counts = manifest["inputs"], manifest["counts"]
    stage_cpu = sum(stage.get("cpu_s", 0.0) for stage in manifest["stages"].values())
    lines = [
        f"longvid: {manifest['recipe']['name']} -> {manifest['out']}",
        f"  run: {wall_s:.1f} s wall, {todo} inputs processed this run",
        f"  inputs: {inputs['total']} = {inputs['kept']} kept + {inputs['rejected']} rejected"
        + (f" + {inputs['pending']} pending" if inputs["pending"] else ""),
        f"  video: {counts['video_hours'] * 60:.1f} min"
        + (
            f", {counts['video_hours'] / (stage_cpu / 3600):.1f} video-hours per stage CPU-hour"
            if stage_cpu
            else ""
        ),
        "  rows: " + ", ".join(f"{table} {n}" for table, n in sorted(counts["tables"].items())),
        "  qa by task: " + ", ".join(f"{task} {n}" for task, n in counts["tasks"].items()),
        "  stages (wall s / cpu s, summed over workers): "
        + ", ".join(
            f"{name} {s.get('wall_s', 0):.1f}/{s.get('cpu_s', 0):.1f}"
            for name, s in manifest["stages"].items()
        ),
    ]
    if manifest["rejects"]:
        lines.append(
            "  rejects: "
            + ", ".join(
                f"{r['stage']}/{r['level']}/{r['reason']} {r['count']}"
                for r in manifest["rejects"][:8]
            )
        )
    if manifest["accounting_problems"]:
        lines.append("  ACCOUNTING PROBLEMS: " + "; ".join(manifest["accounting_problems"]))
    lines += [f"  NOTE: {notice}" for notice in manifest.get("notices", [])]
    return "\n".join(lines)


def _cmd_query(args: argparse.Namespace) -> int:
    from longvid_pipeline.query import run_query

    result = run_query(args.out, args.sql)
    if args.format == "json":
        print(json.dumps(result.to_pylist(), default=str, indent=1))
    elif args.format == "csv":
        import pyarrow.csv as pacsv

        pacsv.write_csv(result, sys.stdout.buffer)
    else:
        _print_table(result.column_names, [tuple(row.values()) for row in result.to_pylist()])
    return 0


def _cmd_stats(args: argparse.Namespace) -> int:
    from longvid_pipeline.stats import compute_stats, format_stats

    stats = compute_stats(args.out)
    print(json.dumps(stats, indent=2, default=str) if args.json else format_stats(stats))
    return 1 if stats["problems"] else 0


def _cmd_inspect(args: argparse.Namespace) -> int:
    from longvid_pipeline.schemas import describe_markdown
    from longvid_pipeline.tables import available_tables

    if args.schemas or not args.out:
        print("\n\n".join(describe_markdown(table) for table in available_tables()))
        return 0
    from longvid_pipeline.query import run_query

    if args.video:
        for table in ("videos", "clips", "qa"):
            rows = run_query(
                args.out,
                f"SELECT * FROM {table} WHERE video_id = '{args.video.replace(chr(39), '')}'",
            )
            print(f"== {table}: {rows.num_rows} rows")
            for row in rows.to_pylist()[:50]:
                print(json.dumps(row, default=str))
        return 0
    rows = run_query(args.out, "SELECT * FROM video_summary ORDER BY video_id")
    _print_table(rows.column_names, [tuple(row.values()) for row in rows.to_pylist()])
    return 0


def _cmd_render_niah(args: argparse.Namespace) -> int:
    from longvid_pipeline.niah.render import read_sample, render_sample

    row = read_sample(args.out, args.sample_id)
    path = Path(args.file or Path(args.out) / "niah_media" / f"{args.sample_id}.mp4")
    done = render_sample(row, path, args.haystack_root, args.crf, args.preset)
    print(f"{done.path}: {done.frames} frames at {row['fps']:g} fps in {done.wall_s:.1f} s")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from longvid_pipeline.export import exporter
    from longvid_pipeline.store import local_copy

    chosen = exporter(args.format, args.overrides)
    summary = chosen.export(local_copy(args.out), Path(args.dest))  # a store: its local copy
    for path, count in summary["files"].items():
        print(f"{count:>8}  {path}")
    for path in summary.get("data_lists", []):
        print(f"data list: {path}")
    if "card" in summary:
        print(f"card: {summary['card']} ({summary['media']} media files)")
    return 0


COMMANDS = {
    "run": _cmd_run,
    "query": _cmd_query,
    "stats": _cmd_stats,
    "inspect": _cmd_inspect,
    "render-niah": _cmd_render_niah,
    "export": _cmd_export,
}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
        format="%(asctime)s %(name)s %(message)s",
    )
    try:
        return COMMANDS[args.verb](args)
    except (ConfigError, FileNotFoundError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except DiskFullError as exc:
        print(f"error: {exc.strerror}", file=sys.stderr)
        return 1
    except RunFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # duckdb errors in user SQL: say it plainly, on one line
        import duckdb

        if isinstance(exc, duckdb.Error):
            first = message_line(exc, limit=None)
            print(f"error: query failed: {first}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    raise SystemExit(main())
