"""`python -m dse.cli ...` runs the `dse` command (the tests and worker launchers use it)."""

import sys

from dse.cli import main

sys.exit(main())
