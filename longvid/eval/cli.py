"""`python -m longvid.eval CONFIG [--set key=value ...]` (console script longvid.eval).

Config problems are reported all at once, each with its dotted key, before any model
loads; the exit status is 2 for a bad config or unusable data, without a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from longvid.eval.config import EvalConfig, load_config
from longvid_pipeline.api import commit_records, is_url
from longvid_pipeline.config import ConfigProblem, cli_config, config_command


def parser() -> argparse.ArgumentParser:
    """The command line: a config file and overrides."""
    return config_command(
        "longvid.eval",
        "Score a model (and baselines) on longvid qa / niah shards.",
        "data.root=out/demo",
    )


def _data_problems(config: EvalConfig) -> list[ConfigProblem]:
    """data.root must be a folder or a store URL holding a build: checked before any model
    loads (which tables it holds is said when the samples are read)."""
    if is_url(config.data.root):
        try:
            found = bool(commit_records(config.data.root))
        except (OSError, ImportError) as exc:  # no such bucket, no credentials, no s3fs
            return [ConfigProblem("data.root", f"cannot read the store: {exc}")]
        return [] if found else [ConfigProblem("data.root", "no committed data in that store")]
    if Path(config.data.root).is_dir():
        return []
    message = (
        f"{config.data.root} is not a folder: build one with longvid-pipeline run, or fix the path"
    )
    return [ConfigProblem("data.root", message)]


def main(argv: list[str] | None = None) -> int:
    """Validate the config, then evaluate; returns the process exit status."""
    args = parser().parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    config = cli_config(
        "longvid.eval",
        args.config,
        lambda: load_config(args.config, args.overrides),
        _data_problems,
    )
    if config is None:
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
