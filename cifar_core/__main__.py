"""Entry point for ``python -m cifar_core``."""

import sys

from cifar_core.cli import main

sys.exit(main())
