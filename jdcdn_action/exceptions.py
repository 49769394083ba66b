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


def internal_error(error: BaseException) -> str:
    """A bug, for any channel: its type and where it was raised, never its text.

    An exception's text and arguments may hold a setting's value (a ``UnicodeEncodeError``
    carries the whole string it could not encode), in escaped forms no mask can foresee.
    """
    import traceback  # only on this rare path: start-up time matters

    frames = traceback.extract_tb(error.__traceback__)
    where = ""
    if frames:
        frame = frames[-1]
        name = frame.filename.replace("\\", "/").rsplit("/", 1)[-1]
        where = f" in {name}:{frame.lineno} ({frame.name})"
    return f"internal error: {type(error).__name__}{where}"


def stack_only(error: BaseException) -> str:
    """The traceback of ``error`` for the debug log, with no exception's text (see
    ``internal_error``): the frames, and each exception's type."""
    import traceback

    lines = []
    seen = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:  # the chain, innermost first
        seen.add(id(current))
        lines.append("".join(traceback.format_tb(current.__traceback__))
                     + type(current).__name__)
        current = current.__cause__ or (None if current.__suppress_context__
                                        else current.__context__)
    return "Traceback (most recent call last), exception texts left out:\n" + \
        "\n-- raised while handling --\n".join(reversed(lines))
