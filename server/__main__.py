"""``python -m server``: the fragstore command line."""

import sys

from server.admin.cli import main

sys.exit(main())
