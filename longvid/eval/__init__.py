"""Evaluation of longvid models (task metrics, MH-NIAH heatmaps): a later issue, empty for now."""
