"""Evaluation config: typed sections, --set overrides, one validation pass.

Same conventions as the trainer's config (`longvid_pipeline.config`): every default the
evaluator uses is a field here (configs/eval_demo.yaml shows them all); an unknown key,
a wrong type or an impossible value is reported with its dotted key, all at once, before
any model loads. Adapter options are checked by the named adapter's own `Options`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from longvid.eval.adapters import ADAPTERS, adapter_problems, scores_options
from longvid.eval.metrics import FORMS
from longvid_pipeline.config import ConfigProblem, build_root, load_and_build, param
from longvid_pipeline.models.config import DTYPES

TABLES = ("qa", "niah")
BASELINES = ("blind", "random", "majority")

# Empty by default: qa rows already end with their form's instruction (options and answer
# style, "Answer with the time span ...", "Answer with a number."); set these for a model
# that needs its own wording (lmms-eval's post_prompt).
DEFAULT_POST_PROMPTS = {"choice": "", "span": "", "count": "", "open": ""}

DEFAULT_JUDGE_PROMPT = (
    "You grade answers to questions about a video.\n"
    "Question: {question}\nReference answer: {answer}\nModel answer: {prediction}\n"
    "Score the model answer from 0 (wrong) to 5 (fully matches the reference). "
    'Reply with the score only, e.g. "Score: 4".'
)


@dataclass
class ModelSection:
    """The adapter by registry name, with its own options."""

    name: str = param("longvid", f"adapter: one of {list(ADAPTERS)}", choices=tuple(ADAPTERS))
    options: dict = param({}, "the adapter's options (see its Options in longvid/eval/adapters)")


@dataclass
class DataSection:
    """Which rows of which pipeline output, and how frames are decoded."""

    root: str = param("out", "pipeline output folder (qa/, niah/ shards and media/)")
    tables: list[str] = param(["qa"], f"tables to score, among {list(TABLES)}")
    splits: list[str] = param(["test"], "qa splits to score (niah rows have no split)")
    tasks: list[str] = param([], "qa tasks to score (empty: all)")
    forms: list[str] = param([], f"answer forms to score, among {list(FORMS)} (empty: all)")
    frames: int | None = param(
        None, "frames per video (null: the adapter's own count, else each row's plan)", min=1
    )
    niah_max_frames: int | None = param(
        None, "cap on haystack frames shown (uniform subsample; null: all)", min=1
    )
    niah_haystack_root: str | None = param(
        None, "where the niah haystack videos are now (null: each row's haystack_root)"
    )
    limit: int | None = param(None, "score only the first N samples of each table", min=1)
    workers: int = param(2, "DataLoader decode workers", min=0)


MC_SCORING = ("auto", "likelihood", "generate")
MC_CONTINUATIONS = ("letter", "letter_text")


@dataclass
class GenerationSection:
    """Batching, length and precision of generation; how multiple choice is answered."""

    batch_size: int = param(4, "samples per generate call", min=1)
    max_new_tokens: int = param(32, "longest answer in tokens", min=1)
    device: str = param("auto", "auto (cuda when present), cpu, cuda, cuda:N")
    dtype: str = param(
        "auto", "auto (bfloat16 on GPU, float32 on CPU), bfloat16, float16, float32", choices=DTYPES
    )
    mc_scoring: str = param(
        "auto",
        "multiple choice: likelihood (the option whose answer the model finds most likely, "
        "lmms-eval's loglikelihood), generate (parse the generated text), auto (likelihood "
        "where the adapter exposes logits: longvid, hf_llava, hf_qwen_vl; else generate)",
        choices=MC_SCORING,
    )
    mc_continuation: str = param(
        "letter",
        "the answer scored per option: letter ('B': the first token of the dataset's answer, "
        "what the prompt asks for) or letter_text ('B. red', the whole answer; sums favour "
        "short options)",
        choices=MC_CONTINUATIONS,
    )


@dataclass
class PromptSection:
    """Per-model prompt variants are data: text appended to each form's question."""

    post_prompt: dict = param(dict(DEFAULT_POST_PROMPTS), "form -> text added after the question")


@dataclass
class JudgeSection:
    """Open answers: an LLM judge on an OpenAI-compatible endpoint, or a lexical score."""

    base_url: str | None = param(None, "e.g. http://127.0.0.1:8000/v1 (null: lexical token F1)")
    model: str = param("judge", "model name the endpoint serves")
    api_key_env: str | None = param(None, "environment variable holding the API key")
    prompt: str = param(DEFAULT_JUDGE_PROMPT, "judge prompt: {question} {answer} {prediction}")
    max_score: float = param(5.0, "top of the judge's scale (scores become [0, 1])", min=1.0)
    timeout_s: float = param(60.0, "request timeout (seconds)", min=1.0)
    retries: int = param(2, "extra attempts after a failed request", min=0)


@dataclass
class RaySection:
    """`backend: ray`: a pool of actors, each loading the model once."""

    address: str | None = param(None, "Ray address (null: RAY_ADDRESS or a local Ray)")
    num_actors: int = param(2, "actors in the pool", min=1)
    num_cpus_per_actor: float = param(1.0, "CPUs per actor", min=0.0)
    num_gpus_per_actor: float = param(0.0, "GPUs per actor (fractions share a GPU)", min=0.0)
    chunk_batches: int = param(4, "batches handed to an actor at a time", min=1)
    num_cpus: int | None = param(None, "CPUs of a local Ray (null: all)", min=1)


@dataclass
class EvalConfig:
    """A whole evaluation run."""

    output_dir: str = param("runs/eval", "results.json, samples.jsonl, report.md, heatmaps/")
    seed: int = param(0, "seed of the random and shuffled answers")
    backend: str = param(
        "local", "local (this process) or ray (an actor pool)", choices=("local", "ray")
    )
    baselines: list[str] = param(
        list(BASELINES), f"baselines scored beside the model, among {list(BASELINES)}"
    )
    model: ModelSection = param(None, "the model under test")
    data: DataSection = param(None, "what is scored")
    generation: GenerationSection = param(None, "how answers are generated")
    prompt: PromptSection = param(None, "prompt variants")
    judge: JudgeSection = param(None, "scoring of open answers")
    ray: RaySection = param(None, "backend: ray")


def _choice_problems(values: list[str], known: tuple[str, ...], key: str) -> list[ConfigProblem]:
    return [
        ConfigProblem(key, f"unknown {value!r}; known: {list(known)}")
        for value in values
        if value not in known
    ]


def _semantic_problems(config: EvalConfig) -> list[ConfigProblem]:
    """Checks across fields: table/form/baseline names, prompt forms, adapter options."""
    problems = _choice_problems(config.data.tables, TABLES, "data.tables")
    problems += _choice_problems(config.data.forms, FORMS, "data.forms")
    problems += _choice_problems(config.baselines, BASELINES, "baselines")
    problems += _choice_problems(list(config.prompt.post_prompt), FORMS, "prompt.post_prompt")
    if not config.data.tables:
        problems.append(ConfigProblem("data.tables", "name at least one table"))
    if config.model.name == "blind" and "blind" in config.baselines:
        problems.append(ConfigProblem("baselines", "the model is already blind; drop 'blind'"))
    for field in ("question", "answer", "prediction"):
        if "{" + field + "}" not in config.judge.prompt:
            problems.append(ConfigProblem("judge.prompt", f"must contain {{{field}}}"))
    problems += adapter_problems(config.model.name, config.model.options, "model.options")
    if config.generation.mc_scoring == "likelihood" and not scores_options(
        config.model.name, config.model.options
    ):
        problems.append(
            ConfigProblem(
                "generation.mc_scoring",
                f"adapter {config.model.name!r} gives no option likelihoods: use generate or auto",
            )
        )
    return problems


def build_config(raw: dict[str, Any]) -> tuple[EvalConfig | None, list[ConfigProblem]]:
    """Validate a raw mapping; the config is usable only when the list is empty."""
    return build_root(EvalConfig, raw, _semantic_problems)


def load_config(
    path: Path | None, overrides: Sequence[str] = (), raw: dict[str, Any] | None = None
) -> EvalConfig:
    """Read YAML (or take `raw`), apply `--set` overrides, validate.

    Raises:
        ConfigError: naming the file and every problem, each with its dotted key.
    """
    return load_and_build(path, overrides, build_config, raw)
