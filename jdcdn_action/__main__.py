"""Allow ``python -m jdcdn_action``."""

import sys

from jdcdn_action.cli import main

sys.exit(main())
