"""`python -m longvid_pipeline` is the same as the `longvid-pipeline` console script."""

from longvid_pipeline.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
