"""`python -m longvid.train CONFIG [--set key=value ...] [--resume]` (console script longvid.train).

Config problems are reported all at once, each with its dotted key, before any model
is built; the exit status is 2 for a bad config.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from longvid.data.shards import data_root_problem
from longvid.train.config import load_config
from longvid_pipeline.config import ConfigError, ConfigProblem


def parser() -> argparse.ArgumentParser:
    """The command line: a config file, overrides, resume."""
    command = argparse.ArgumentParser(
        prog="longvid.train",
        description="Train a long-video LLM on longvid qa shards (multi-stage schedule).",
    )
    command.add_argument("config", type=Path, help="training config YAML")
    command.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set trainer.batch_size=4 (repeatable)",
    )
    command.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    return command


def main(argv: list[str] | None = None) -> int:
    """Validate the config, then train; returns the process exit status."""
    args = parser().parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    overrides = list(args.overrides) + (["trainer.resume=true"] if args.resume else [])
    try:
        config = load_config(args.config, overrides)
        problem = data_root_problem(config.data.root)
        if problem:  # checked before any model is built
            raise ConfigError(str(args.config), [ConfigProblem("data.root", problem)])
    except ConfigError as exc:
        print(f"longvid.train: {exc}", file=sys.stderr)
        return 2
    from longvid.train.launch import run

    run(config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
