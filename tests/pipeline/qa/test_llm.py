"""The `llm` generator: replies parsed and checked against the timeline, repaired once,
else rejected with the reason; a scripted backend, then a tiny random model through the
real transformers path, in-process and in a Ray actor pool."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from support.rows import example_clip
from support.scripted_llm import ScriptedLLM, is_repair, reply
from support.sidecars import demo_sidecar

from longvid_pipeline.config import build_section
from longvid_pipeline.item import WorkItem
from longvid_pipeline.qa.config import LLMConfig, QAConfig
from longvid_pipeline.qa.llm import LLMQuestionWriter, TaskRequest, parse_reply, split_requests
from longvid_pipeline.qa.timeline import Timeline, build_timeline
from longvid_pipeline.schemas import arrow_schema, row_problem
from longvid_pipeline.segmenting.sampling import TIMESTAMP_PROMPT
from longvid_pipeline.stage import RunContext
from longvid_pipeline.stages.caption import CaptionConfig, CaptionStage
from longvid_pipeline.stages.qa import QAStage

EVENTS = [
    (0, 0, 1.0, 4.0, "circle", "red", "bounces"),
    (1, 0, 5.0, 8.0, "square", "blue", "spins"),
    (2, 1, 11.0, 14.0, "triangle", "green", "slides left"),
    (3, 1, 15.0, 18.0, "circle", "red", "grows"),
    (4, 2, 21.0, 24.0, "star", "yellow", "blinks"),
    (5, 2, 25.0, 28.0, "circle", "red", "bounces"),
]
DURATION_S = 30.0


def captioned() -> WorkItem:
    scenes = [(0.0, 10.0, "teal"), (10.0, 20.0, "gray"), (20.0, 30.0, "brown")]
    item = WorkItem(input_id="in-llm", source={}, source_kind="demo", split="test")
    item.video = {
        "video_id": "v-llm000000000000",
        "uri": "media/v-llm.mp4",
        "duration_s": DURATION_S,
        "sample_frames": 8,
        "sample_fps": 1.0,
        "sample_timestamps": [float(i * 3 + 1) for i in range(8)],
        "timestamp_prompt": TIMESTAMP_PROMPT.format(duration=DURATION_S, frames=8),
    }
    item.annotations = demo_sidecar(EVENTS, scenes)
    item.clips = [example_clip("v-llm000000000000", i, s, e) for i, (s, e, _) in enumerate(scenes)]
    config, _ = build_section(CaptionConfig, {}, "c")
    return CaptionStage(config, RunContext(out_dir="unused")).run_item(item)


def timeline() -> Timeline:
    return build_timeline(captioned().clips, DURATION_S, 1.0)


def writer(script: Any, **llm: Any) -> tuple[LLMQuestionWriter, ScriptedLLM]:
    backend = ScriptedLLM(script=script)
    config, errors = build_section(LLMConfig, llm, "llm")
    assert errors == []
    return LLMQuestionWriter(backend, config, "llm:scripted"), backend


def request(task: str = "grounding", count: int = 4) -> list[TaskRequest]:
    return [TaskRequest(task, count, count // 2)]


def test_canned_json_becomes_posed_questions_with_reordered_options() -> None:
    write, backend = writer(lambda prompt: reply(
        {"question": "When does the red circle grow?", "answer": "From 15.0s to 18.0s.",
         "options": None, "evidence": [[15.0, 18.0]]},
        {"question": "Which event comes first?", "answer": "a red circle bounces",
         "options": ["A red circle bounces.", "A blue square spins.", "A yellow star blinks.",
                     "A green triangle slides left."], "evidence": [[1.0, 4.0], [5.0, 8.0]]},
    ))  # fmt: skip
    outcome = write.write(timeline(), request(), random.Random(3))
    assert outcome.failures == []
    (open_q, choice) = outcome.posed
    assert (open_q.form, open_q.answer, open_q.question_type) == (
        "open",
        "From 15.0s to 18.0s.",
        "grounding/llm",
    )
    assert open_q.instruction is not None and "From 12.3s to 45.6s." in open_q.instruction
    assert choice.options is not None and sorted(choice.options) == sorted(
        [
            "A red circle bounces.",
            "A blue square spins.",
            "A yellow star blinks.",
            "A green triangle slides left.",
        ]
    )
    assert choice.answer == "A red circle bounces." == choice.options[choice.answer_index]
    assert choice.evidence == ((1.0, 4.0), (5.0, 8.0))
    prompt = backend.prompts[0]
    assert "[1.0s - 4.0s] A red circle bounces." in prompt and "Task (grounding)" in prompt
    assert "Write 4 questions: 2 open-ended and 2 multiple-choice." in prompt


def test_broken_json_is_repaired_once() -> None:
    def script(prompt: str) -> str:
        if not is_repair(prompt):
            return 'Here you go: {"questions": [ {"question": '
        return reply({"question": "How many scenes show a red circle?", "answer": "3",
                      "options": None, "evidence": [[1.0, 4.0], [15.0, 18.0]]})  # fmt: skip

    write, backend = writer(script)
    outcome = write.write(timeline(), request("counting"), random.Random(0))
    assert [p.answer for p in outcome.posed] == ["3"] and outcome.failures == []
    assert len(backend.prompts) == 2 and "not_json" in backend.prompts[1]


WRONG = [
    ({"question": "Q?", "answer": "E", "options": ["a", "b", "c", "d"], "evidence": [[1.0, 4.0]]},
     "answer is not one of the options"),
    ({"question": "Q?", "answer": "a", "options": ["a", "b", "a", "d"], "evidence": [[1.0, 4.0]]},
     "options must be 4 distinct strings"),
    ({"question": "Q?", "answer": "x", "options": None, "evidence": [[25.0, 45.0]]},
     "is not inside the video"),
    ({"question": "Q?", "answer": "From 20.0s to 40.0s.", "options": None, "evidence": [[1.0, 4.0]]},
     "time span in 'From 20.0s to 40.0s.' is not inside the video"),
    ({"question": "Q?", "answer": "x", "options": None, "evidence": []},
     "evidence must be a non-empty list"),
    ({"question": "", "answer": "x", "options": None, "evidence": [[1.0, 4.0]]},
     "question must be a non-empty string"),
]  # fmt: skip


@pytest.mark.parametrize(("item", "problem"), WRONG)
def test_wrong_answers_are_rejected_with_the_reason_after_one_repair(
    item: dict[str, Any], problem: str
) -> None:
    write, backend = writer(lambda prompt: reply(item))
    outcome = write.write(timeline(), request(), random.Random(0))
    assert outcome.posed == []
    assert [f.reason for f in outcome.failures] == ["llm_invalid"]
    assert problem in outcome.failures[0].detail and outcome.failures[0].raw == item
    assert len(backend.prompts) == 2 and problem in backend.prompts[1]  # the repair said why


def test_counting_answers_must_be_digits_and_repair_fixes_only_the_failing_item() -> None:
    good = {
        "question": "Scenes with a star?",
        "answer": "1",
        "options": None,
        "evidence": [[21.0, 24.0]],
    }
    bad = {
        "question": "Scenes with a circle?",
        "answer": "two",
        "options": None,
        "evidence": [[1.0, 4.0]],
    }
    fixed = {**bad, "answer": "2"}

    def script(prompt: str) -> str:
        return reply(fixed) if is_repair(prompt) else reply(good, bad)

    write, backend = writer(script)
    outcome = write.write(timeline(), request("counting"), random.Random(0))
    assert [p.answer for p in outcome.posed] == ["1", "2"]
    assert "counting answers and options must be digits, got 'two'" in backend.prompts[1]
    assert '"Scenes with a star?"' not in backend.prompts[1].split("Your previous reply was:")[1]


def test_broken_twice_or_without_repair_is_one_reject_naming_why() -> None:
    write, backend = writer(lambda prompt: "no JSON here")
    outcome = write.write(timeline(), request(), random.Random(0))
    assert [(f.reason, f.raw["task"]) for f in outcome.failures] == [("llm_not_json", "grounding")]
    assert len(backend.prompts) == 2
    write, backend = writer(lambda prompt: '{"answers": []}', repair=False)
    outcome = write.write(timeline(), request(), random.Random(0))
    assert [f.reason for f in outcome.failures] == ["llm_no_questions"] and len(
        backend.prompts
    ) == 1


def test_parse_reply_finds_the_json_object() -> None:
    assert parse_reply('Sure:\n```json\n{"questions": []}\n``` done') == []
    assert parse_reply("[1, 2]").startswith("not_json")


def test_a_long_videos_quota_takes_several_prompts_each_with_its_own_stretch() -> None:
    requests = split_requests("grounding", 20, 0.5, 8, 600.0)
    assert [r.count for r in requests] == [7, 7, 6]
    assert [r.focus for r in requests] == [(0.0, 200.0), (200.0, 400.0), (400.0, 600.0)]
    assert split_requests("grounding", 5, 0.5, 8, 600.0)[0].focus is None


def llm_config(**llm: Any) -> dict[str, Any]:
    tasks = {task: {"generator": "llm"} for task in ("caption", "grounding", "counting")}
    return {**tasks, "llm": llm}


def test_the_stage_writes_checked_rows_and_rejects_the_rest() -> None:
    config, errors = build_section(
        QAConfig, llm_config(backend="support.scripted_llm:ScriptedLLM", model="scripted"), "q"
    )
    assert errors == []
    stage = QAStage(config, RunContext(out_dir="unused"))
    done = stage.run_item(captioned())
    assert done.alive
    llm_rows = [r for r in done.qa if r["generator"].startswith("llm:")]
    assert {r["task"] for r in llm_rows} == {"grounding", "counting"}
    assert {r["generator"] for r in llm_rows} == {"llm:support.scripted_llm:ScriptedLLM:scripted"}
    schema = arrow_schema("qa")
    assert [row_problem(r, schema) for r in done.qa] == [None] * len(done.qa)
    assert {r["task"] for r in done.qa} == {
        "caption",
        "grounding",
        "counting",
        "relationship",
        "understanding",
    } - {"caption"}
    reasons = sorted((r["reason"], task_of_reject(r)) for r in done.rejects)
    assert reasons == [("llm_invalid", "caption")]
    counted = [r for r in llm_rows if r["task"] == "counting"]
    assert [(r["answer"], len(r["evidence_spans"])) for r in counted] == [("3", 3)]


def task_of_reject(reject: dict[str, Any]) -> str:
    import json

    return "caption" if "What happens first?" in json.loads(reject["row_json"])["question"] else "?"


def tiny_model(folder: Path) -> Path:
    """A random-weight Qwen2-like causal LM and a BPE tokenizer trained on the fly."""
    from transformers import AutoModelForCausalLM, Qwen2Config

    from longvid.model.tokenizer import tiny_tokenizer

    tokenizer = tiny_tokenizer()
    config = Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=8192,
        tie_word_embeddings=True, pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id, bos_token_id=None,
    )  # fmt: skip
    AutoModelForCausalLM.from_config(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.mark.slow(minutes=1)
def test_tiny_random_model_through_the_transformers_backend_in_a_ray_actor_pool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ray

    from longvid_pipeline.item import ITEM_COLUMN
    from longvid_pipeline.operators import add_operator, plan_operators
    from longvid_pipeline.raysession import ray_temp_dir
    from longvid_pipeline.stage import Resources, StageSpec

    model = tiny_model(tmp_path / "tiny-llm")
    config, _ = build_section(QAConfig, llm_config(model=str(model), max_new_tokens=6), "q")
    spec = StageSpec("qa", config, Resources(num_cpus=1, concurrency=1))
    (operator,) = plan_operators([spec], fuse_cpu_stages=True)
    assert operator.uses_actor
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    ray.init(num_cpus=1, include_dashboard=False, _temp_dir=ray_temp_dir(tmp_path))
    try:
        item = captioned()
        data = ray.data.from_items([{"input_id": item.input_id, ITEM_COLUMN: item.to_json()}])
        context = RunContext(out_dir=str(tmp_path))
        (batch,) = add_operator(data, operator, context).iter_batches(batch_size=1)
        done = WorkItem.from_json(str(batch[ITEM_COLUMN][0]))
    finally:
        ray.shutdown()
    # Random weights write no JSON: every llm task ends as a reject naming why, after a
    # repair; template tasks are unaffected.
    assert done.alive and done.accounts["qa"].passed == 1
    assert sorted((r["stage"], r["reason"]) for r in done.rejects) == [("qa", "llm_not_json")] * 3
    assert {r["task"] for r in done.qa} == {"relationship", "understanding"}
