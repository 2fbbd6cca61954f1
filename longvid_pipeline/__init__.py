"""longvid pipeline: Ray stages that turn videos into long-video instruction data."""

__version__ = "0.1.0"
