"""`python -m longvid.train CONFIG [--set key=value ...]`."""

import sys

from longvid.train.cli import main

sys.exit(main())
