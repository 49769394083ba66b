"""One exception hierarchy; the command turns each into one clear line and an exit code."""


class JdcdnError(Exception):
    """Base of every error this package raises on purpose."""

    exit_code = 1


class InputError(JdcdnError):
    """Bad settings or input: nothing was sent. Exit 2.

    The message must name the setting or file at fault and say how to fix it.
    """

    exit_code = 2


class GitError(InputError):
    """The git range or file list cannot be had (no git, not a repo, missing commits)."""


class BudgetError(InputError):
    """The plan is over ``max-urls`` or ``max-dirs``."""
