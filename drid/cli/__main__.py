"""``python -m drid.cli``: the same as the ``drid`` command."""

import sys

from drid.cli import main

sys.exit(main())
