"""`python -m longvid.train CONFIG [--set key=value ...] [--resume]` (console script longvid.train).

Config problems are reported all at once, each with its dotted key, before any model
is built; the exit status is 2 for a bad config, for data that cannot be read, and for a
resume whose schedule differs from the checkpoint's (unless allowed).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

from longvid.data.sources import SourceSection, source_problem
from longvid.train.checkpoint import latest_checkpoint, schedule_changes
from longvid.train.config import TrainConfig, load_config
from longvid_pipeline.config import ConfigError, ConfigProblem, cli_config, config_command


def parser() -> argparse.ArgumentParser:
    """The command line: a config file, overrides, resume."""
    command = config_command(
        "longvid.train",
        "Train a long-video LLM on longvid qa shards (multi-stage schedule).",
        "trainer.batch_size=4",
    )
    command.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    return command


def data_problems(config: TrainConfig) -> list[ConfigProblem]:
    """Why a stage's sources cannot be read (missing output folder, annotation file)."""
    problems: list[ConfigProblem] = []
    for index, stage in enumerate(config.schedule.stages):
        sources = stage.data if stage.data is not None else [SourceSection()]
        for number, source in enumerate(sources):
            problem = source_problem(source, config.data.root)
            key = (
                f"schedule.stages[{index}].data[{number}]"
                if stage.data is not None
                else "data.root"
            )
            if problem and ConfigProblem(key, problem) not in problems:
                problems.append(ConfigProblem(key, problem))
    return problems


def resume_problems(config: TrainConfig) -> list[ConfigProblem]:
    """Why resuming would silently change the run: the schedule differs from the
    checkpoint's (a stage's length or LR shape changes the learning-rate curve)."""
    checkpoint = latest_checkpoint(Path(config.output_dir)) if config.trainer.resume else None
    if checkpoint is None or config.trainer.allow_schedule_change:
        return []
    changes = schedule_changes(checkpoint, dataclasses.asdict(config)["schedule"])
    if not changes:
        return []
    advice = (
        f"false, and the schedule differs from the one {checkpoint.name} was trained with: "
        "resuming would change the learning-rate curve and the stages ahead; restore the "
        "schedule, start a new output_dir, or --set trainer.allow_schedule_change=true"
    )
    return [ConfigProblem(key, change) for key, change in changes] + [
        ConfigProblem("trainer.allow_schedule_change", advice)
    ]


def main(argv: list[str] | None = None) -> int:
    """Validate the config, data and resume, then train; returns the process exit status."""
    args = parser().parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    overrides = list(args.overrides) + (["trainer.resume=true"] if args.resume else [])
    config = cli_config(
        "longvid.train",
        args.config,
        lambda: load_config(args.config, overrides),
        lambda config: data_problems(config) + resume_problems(config),  # before any model
    )
    if config is None:
        return 2
    from longvid.train.launch import run

    try:
        run(config)
    except ConfigError as exc:  # found once the model is built (e.g. dropout layers vs depth)
        print(f"longvid.train: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
