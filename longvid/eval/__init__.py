"""Evaluation of video LLMs on longvid's built QA and needle sets.

`python -m longvid.eval CONFIG` scores a model (an adapter by name: a longvid.train
checkpoint, Hugging Face LLaVA-OneVision / LLaVA-NeXT-Video with training-free SlowFast,
Qwen2-VL, an OpenAI-compatible endpoint) beside blind, random and majority baselines,
and writes results.json, samples.jsonl, report.md and NIAH heatmaps.
"""
