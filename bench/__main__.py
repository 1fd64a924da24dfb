"""``python -m bench``: the engine-vs-PyTorch benchmark (see bench/run.py)."""

import sys

from bench.run import main

sys.exit(main())
