"""The evaluation, top to bottom: samples -> runs (model, baselines) -> scored log -> reports.

Reads like a recipe: load the samples of the configured tables; claim the output folder
(same config, or refuse); for the model and each baseline, generate answers for samples
not yet scored (frames decoded in DataLoader workers, batched generation; on `backend:
ray` the model's runs go to an actor pool), score each answer as it arrives and append
it to samples.jsonl; finally write results.json, report.md and the NIAH heatmaps from
every record of this selection.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from longvid.eval.adapters import Adapter, AdapterContext, Request, build_adapter
from longvid.eval.adapters.baselines import BlindAdapter
from longvid.eval.choices import Response, by_likelihood, respond
from longvid.eval.config import EvalConfig
from longvid.eval.loader import FramePlan, batches
from longvid.eval.niah import niah_samples
from longvid.eval.parsing import format_answer
from longvid.eval.records import SampleLog, claim_output
from longvid.eval.report import write_reports
from longvid.eval.samples import EvalSample, qa_samples, select
from longvid.eval.scoring import Judge, score_output
from longvid_pipeline.api import is_url, local_copy, read_rows
from longvid_pipeline.errors import message_line

MODEL_RUN = "model"


class EvalAbort(RuntimeError):
    """The evaluation cannot start (message says why and what to do)."""


@dataclass
class Answer:
    """An answer before scoring: generated text, or the most likely option's answer with
    every option's score."""

    sample: EvalSample
    prompt: str
    response: Response
    frame_count: int
    error: str | None
    model_s: float = 0.0  # this sample's share of its batch's model time


def load_samples(config: EvalConfig) -> list[EvalSample]:
    """Samples of the configured tables, with each form's post-prompt appended.

    Raises:
        EvalAbort: a table has no committed rows, or no sample is selected.
    """
    root, data = Path(config.data.root), config.data
    samples: list[EvalSample] = []
    try:
        if "qa" in data.tables:
            rows = read_rows(root, "qa", where={"split": data.splits, "task": data.tasks})
            samples += qa_samples(rows)
        if "niah" in data.tables:
            for row in sorted(read_rows(root, "niah"), key=lambda row: row["sample_id"]):
                samples += niah_samples(row, data.niah_haystack_root)
    except (FileNotFoundError, KeyError, ValueError) as exc:
        raise EvalAbort(f"data.root {root}: {exc}") from None
    samples = select(samples, data.forms, data.limit)
    if not samples:
        raise EvalAbort(
            f"no samples in {root} for tables={data.tables} splits={data.splits} "
            f"tasks={data.tasks} forms={data.forms}"
        )
    for sample in samples:
        extra = config.prompt.post_prompt.get(sample.form, "")
        if extra:
            sample.prompt = f"{sample.prompt}\n{extra}"
    return samples


def frame_plan(adapter: Adapter, config: EvalConfig) -> FramePlan | None:
    """The adapter's plan with data.frames and the haystack cap applied."""
    plan = adapter.frame_plan()
    if plan is None:
        return None
    plan = plan.with_frames(config.data.frames)
    return plan.with_haystack(config.data.niah_max_frames)


def _first_video(sample: EvalSample) -> str:
    return next((frame[0] for frame in sample.frames if frame), "")


def generate(adapter: Adapter, samples: list[EvalSample], config: EvalConfig) -> Iterator[Answer]:
    """Answers batch by batch, samples grouped by video (so each video decodes once per
    worker and batch run); frames decoded ahead in workers; multiple choice by option
    likelihood where the config and the adapter allow it."""
    plan = frame_plan(adapter, config)
    likelihood = by_likelihood(adapter, config.generation.mc_scoring)
    samples = sorted(samples, key=lambda s: (_first_video(s), s.sample_id))
    for batch in batches(
        samples, Path(config.data.root), plan, config.generation.batch_size, config.data.workers
    ):
        ready = [item for item in batch if item["error"] is None]
        requests = [Request(i["prompt"], i["frames"], samples[i["index"]]) for i in ready]
        started = time.perf_counter()
        continuation = config.generation.mc_continuation
        responses = iter(respond(adapter, requests, likelihood, continuation) if requests else [])
        share = (time.perf_counter() - started) / len(batch)
        for item in batch:
            response = next(responses) if item["error"] is None else Response("")
            yield Answer(
                samples[item["index"]],
                item["prompt"],
                response,
                item["frame_count"],
                item["error"],
                share,
            )


def record(run: str, answer: Answer, judge: Judge) -> dict[str, Any]:
    """One samples.jsonl line (lmms-eval-like: doc id, prompt, output, parsed, target, score;
    for an option-scored multiple choice every option's log-likelihood, its token count
    and whether greedy decoding would write it)."""
    sample, response = answer.sample, answer.response
    line: dict[str, Any] = {
        "run": run,
        "doc_id": sample.sample_id,
        "table": sample.table,
        "split": sample.split,
        "task": sample.task,
        "form": sample.form,
        "prompt": answer.prompt,
        "frames": answer.frame_count,
        "output": response.output,
        "target": format_answer(sample.form, sample.target)
        if sample.form != "open"
        else sample.answer,
        **score_output(sample, response.output, judge, response.picked),
    }
    if sample.form == "choice":
        line["mc_scoring"] = "generate" if response.option_scores is None else "likelihood"
    if response.option_scores is not None:
        line["option_loglikelihoods"] = [s.loglikelihood for s in response.option_scores]
        line["option_tokens"] = [s.tokens for s in response.option_scores]
        line["option_greedy"] = [s.greedy for s in response.option_scores]
    if answer.error:
        line["error"] = answer.error
    if sample.table == "niah":
        axes = ("benchmark", "question_type", "hops", "length", "depth")
        line["niah"] = {axis: sample.meta[axis] for axis in axes}
    return line


def _context(config: EvalConfig, samples: list[EvalSample]) -> AdapterContext:
    return AdapterContext(
        data_root=Path(config.data.root),
        seed=config.seed,
        samples=samples,
        max_new_tokens=config.generation.max_new_tokens,
        device=config.generation.device,
        dtype=config.generation.dtype,
    )


def build_model_adapter(config: EvalConfig, samples: list[EvalSample]) -> Adapter:
    """The model under test, loaded (once per process or actor)."""
    return build_adapter(config.model.name, config.model.options, _context(config, samples))


def run_adapter(run: str, model: Adapter) -> Adapter:
    """The adapter of a model-backed run: the model itself, or its blind twin."""
    return model if run == MODEL_RUN else BlindAdapter.wrapping(model)


class Runs:
    """Answers per run: model-backed runs share one loaded model (here or in the Ray pool);
    the random and majority baselines always run here (no model, no frames)."""

    def __init__(self, config: EvalConfig, samples: list[EvalSample]) -> None:
        self.config = config
        self.samples = samples
        self.model: Adapter | None = None
        self.pool: Any = None
        if config.backend == "ray":
            from longvid.eval.ray_pool import RayPool

            self.pool = RayPool(config, samples)

    def prepare(self, run: str) -> None:
        """Load what `run` needs (the model here, or the Ray pool's actors) before timing."""
        if run not in (MODEL_RUN, "blind"):
            return
        try:
            if self.pool is not None:
                self.pool.start()
            elif self.model is None:
                self.model = build_model_adapter(self.config, self.samples)
        except Exception as exc:  # a model that cannot load: one line, not a traceback
            cause = message_line(exc, last=True)
            raise EvalAbort(f"model {self.config.model.name!r} could not load: {cause}") from exc

    def answers(self, run: str, todo: list[EvalSample]) -> Iterator[Answer]:
        self.prepare(run)
        if run not in (MODEL_RUN, "blind"):
            adapter = build_adapter(run, {}, _context(self.config, self.samples))
            return generate(adapter, todo, self.config)
        if self.pool is not None:
            return self.pool.answers(run, todo)
        assert self.model is not None
        return generate(run_adapter(run, self.model), todo, self.config)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()


def cpu_seconds() -> float:
    """CPU seconds of this process and its finished children (the decode workers of a
    finished run): a rate per CPU second stays meaningful on a shared machine. Ray actors
    are not counted."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def evaluate(config: EvalConfig) -> dict[str, Any]:
    """Score the model and the baselines; returns the results written to results.json.

    Raises:
        EvalAbort: no samples, or the output folder holds another config's results.
    """
    if is_url(config.data.root):  # frames decode from local files: fetch the build once
        config.data.root = str(local_copy(config.data.root))
    samples = load_samples(config)
    output_dir = Path(config.output_dir)
    problem = claim_output(output_dir, config)
    if problem:
        raise EvalAbort(problem)
    log, judge = SampleLog(output_dir), Judge(config.judge)
    throughput: dict[str, dict[str, float]] = {}
    runs = Runs(config, samples)
    try:
        for run in [MODEL_RUN, *config.baselines]:
            done = log.done(run)
            todo = [sample for sample in samples if sample.sample_id not in done]
            if not todo:
                continue
            runs.prepare(run)
            started, cpu, model_s = time.perf_counter(), cpu_seconds(), 0.0
            for answer in runs.answers(run, todo):
                log.append(record(run, answer, judge))
                model_s += answer.model_s
            seconds = max(time.perf_counter() - started, 1e-9)
            cpu = max(cpu_seconds() - cpu, 1e-9)
            throughput[run] = {
                "samples": len(todo),
                "seconds": seconds,
                "samples_per_s": len(todo) / seconds,
                "cpu_s": cpu,
                "samples_per_cpu_s": len(todo) / cpu,
                "model_busy_share": model_s / seconds,
            }
            print(f"longvid.eval: {run}: {len(todo)} samples in {seconds:.1f} s", flush=True)
    finally:
        runs.close()
    wanted = {sample.sample_id for sample in samples}
    records = [r for r in log.records if r["doc_id"] in wanted]
    return write_reports(output_dir, config, records, throughput, judge.name)
