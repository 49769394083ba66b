"""The container's entry point: the runner passes the settings as ``INPUT_*`` variables.

Thin on purpose: all behaviour lives in the package, so the action, the image in a GitLab
job and the plain command are one program.
"""

import sys

from jdcdn_action.cli import main

if __name__ == "__main__":
    sys.exit(main())
