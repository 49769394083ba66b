"""The command: parse the settings, run, and turn what went wrong into an exit code.

``main`` is the only place where errors become exit codes and one-line messages: 0 done,
1 a call failed, 2 bad input (nothing sent), 130 interrupted.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Mapping, Sequence

from jdcdn_action import settings as settings_mod
from jdcdn_action.console import Console
from jdcdn_action.exceptions import InputError, JdcdnError, internal_error, stack_only
from jdcdn_action.settings_table import SECRETS
from jdcdn_action.settings_values import check_credentials, is_true, parse_timezone
from jdcdn_action.summary import summary_cell, write_summary


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """Run the command; return the exit code (0 ok, 1 a call failed, 2 bad input)."""
    import os

    env = os.environ if env is None else env
    argv = sys.argv[1:] if argv is None else argv
    github = env.get("GITHUB_ACTIONS") == "true"
    debug = "--debug" in argv or env.get("RUNNER_DEBUG") == "1" or is_true(
        env.get("JDCDN_DEBUG", ""))
    console = Console(github=github, debug=debug)
    _interrupt_on_sigterm()
    try:
        _mask_early(console, argv, env)
        settings = settings_mod.load(argv, env)
        console.debug_enabled = settings.debug
        from jdcdn_action.run import run

        return run(settings, console)
    except JdcdnError as error:
        if console.debug_enabled:
            console.debug(stack_only(error))
        title = "jdcdn-action bad input" if error.exit_code == 2 else "jdcdn-action"
        console.error(str(error), title=title)
        _summarise_error(env, console, str(error))
        return error.exit_code
    except KeyboardInterrupt:
        console.error("interrupted before anything was sent", title="jdcdn-action")
        return 130
    except Exception as error:  # a bug: say so plainly, with the stack when debugging
        if console.debug_enabled:
            console.debug(stack_only(error))
        message = (f"{internal_error(error)}; rerun with --debug (or RUNNER_DEBUG=1) and "
                   "report it.")
        console.error(message, title="jdcdn-action internal error")
        _summarise_error(env, console, message)
        return 1


def _interrupt_on_sigterm() -> None:
    """A cancelled job gets SIGTERM (as PID 1 in a container, Python would otherwise
    ignore it): stop like Ctrl-C, so the results so far are still written."""
    import signal
    import threading

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, interrupt)


def _summarise_error(env: Mapping[str, str], console: Console, message: str) -> None:
    """On GitHub, the job summary says why the step failed, like the annotation."""
    summary_file = env.get("GITHUB_STEP_SUMMARY", "")
    if summary_file:
        with contextlib.suppress(OSError):
            write_summary(summary_file, "## JD Cloud CDN: not run\n\n"
                          f"{summary_cell(console.redact(message))}\n", console.secrets)


def _mask_early(console: Console, argv: Sequence[str], env: Mapping[str, str]) -> None:
    """Mask every secret, the proxies' passwords and the legacy key's signatures, before
    any setting is validated or anything printed. (OpenAPI signatures are per request:
    each is masked as it is made.) A credential that is not printable ASCII is refused
    here, before a signature is computed from it."""
    from jdcdn_action.network import proxy_secrets

    for secret in proxy_secrets(env):
        console.mask(secret)
    raw, _, _ = settings_mod.raw_values(argv, env)
    for name in SECRETS:
        console.mask(raw[name])
    check_credentials(raw)
    secret = raw["secret-key"]
    if not secret:
        return
    from jdcdn_action.api.legacy_signing import candidate_signatures

    try:
        tz, _ = parse_timezone(raw["signature-timezone"])
    except InputError:
        tz = parse_timezone("+08:00")[0]
    for signature in candidate_signatures(raw["username"], secret, tz):
        console.mask(signature)
