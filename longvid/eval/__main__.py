"""`python -m longvid.eval CONFIG [--set key=value ...]`."""

import sys

from longvid.eval.cli import main

sys.exit(main())
