"""``python -m benchmarks.gan train ...``: see :mod:`benchmarks.gan.cli`."""

from benchmarks.gan.cli import main

raise SystemExit(main())
