"""``python -m server``: the fragstore command line."""

import sys

from server.cli import main

sys.exit(main())
