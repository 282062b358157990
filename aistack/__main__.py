"""`python -m aistack` is the `aistack` command."""

import sys

from aistack.cli.main import main

sys.exit(main())
