"""Needle-in-a-video-haystack benchmarks: MH-NIAH chains and single-hop V-NIAH samples."""
