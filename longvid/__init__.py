"""The model side of longvid: a long-video LLM trained on the pipeline's `qa` shards.

Subpackages: `model` (encoder + token compressor + projector + LLM, assembled by builders),
`data` (shard reader, frame decoding, tokenization), `train` (multi-stage schedules, local
and Ray Train loops, checkpoints, CLI) and `eval` (later).
"""
