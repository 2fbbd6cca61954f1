"""`python -m longvid.eval CONFIG [--set key=value ...]` (console script longvid.eval).

Config problems are reported all at once, each with its dotted key, before any model
loads; the exit status is 2 for a bad config or unusable data, without a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from longvid.eval.config import load_config
from longvid_pipeline.config import ConfigError, add_overrides_argument


def parser() -> argparse.ArgumentParser:
    """The command line: a config file and overrides."""
    command = argparse.ArgumentParser(
        prog="longvid.eval",
        description="Score a model (and baselines) on longvid qa / niah shards.",
    )
    command.add_argument("config", type=Path, help="evaluation config YAML")
    add_overrides_argument(command, "data.root=out/demo")
    return command


def main(argv: list[str] | None = None) -> int:
    """Validate the config, then evaluate; returns the process exit status."""
    args = parser().parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        config = load_config(args.config, args.overrides)
    except ConfigError as exc:
        print(f"longvid.eval: {exc}", file=sys.stderr)
        return 2
    if not Path(config.data.root).is_dir():
        print(
            f"longvid.eval: {args.config}: data.root: {config.data.root} is not a folder: "
            "build one with longvid-pipeline run, or fix the path",
            file=sys.stderr,
        )
        return 2
    from transformers.utils import logging as hf_logging

    from longvid.eval.runner import EvalAbort, evaluate

    hf_logging.disable_progress_bar()  # weight-loading bars would bury the run's own lines

    try:
        results = evaluate(config)
    except EvalAbort as exc:
        print(f"longvid.eval: {args.config}: {exc}", file=sys.stderr)
        return 2
    print(f"longvid.eval: wrote {Path(config.output_dir) / 'report.md'}")
    for row in results["overall"]:
        metric = next(m for m in ("accuracy", "miou", "exact", "score") if m in row)
        print(
            f"  {row['run']:>9} {row['table']}/{row['form']:<6} n={row['n']:<4} {metric} {row[metric]:.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
