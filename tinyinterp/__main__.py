"""`python -m tinyinterp`: the `tinyinterp` command."""

import sys

from tinyinterp.cli import main

sys.exit(main())
