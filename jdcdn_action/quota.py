"""The day's quota: read it once before the first refresh call, and refuse a plan over it.

``max-urls``/``max-dirs`` guard against JD's daily defaults (2000 URLs, 50 directories);
the OpenAPI can say what is really left today (``GET /v1/user:quota``), so an earlier run
of the day, or another pipeline on the account, cannot make this one fail half-way. A plan
over what is left is bad input (exit 2, nothing sent). A read that fails is not: the quota
read is a convenience, and a least-privilege policy may not allow it, so the run goes on
within ``max-urls``/``max-dirs`` with one warning. HTTP 401 is different: the credentials
themselves were refused, so the backend stops every call, as on any call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jdcdn_action.api import Quota
from jdcdn_action.console import count
from jdcdn_action.exceptions import BudgetError
from jdcdn_action.results import QuotaReading
from jdcdn_action.urls import UrlPlan

if TYPE_CHECKING:
    from jdcdn_action.api import Backend
    from jdcdn_action.console import Console
    from jdcdn_action.settings import Settings

NO_QUOTA_CALL = "the legacy API has no quota call: the plan was checked against max-urls and " \
                "max-dirs only"


def over_quota(plan: UrlPlan, quota: Quota, prefetch: bool = False) -> str | None:
    """What in ``plan`` exceeds what is left of today's quota, or None if it fits.

    File URLs count against the refresh quota, directories against the directory quota,
    and with ``prefetch`` the file URLs also against the prefetch quota.
    """
    files, dirs = len(plan.files), len(plan.dirs)
    problems = []
    if files > quota.refresh_remained:
        problems.append(f"{count(files, 'file URL')} to refresh, {quota.refresh_remained} "
                        f"left today{_per_day(quota.refresh_all)}")
    if dirs > quota.dir_remained:
        problems.append(f"{count(dirs, 'directory', 'directories')} to refresh, "
                        f"{quota.dir_remained} left today{_per_day(quota.dir_all)}")
    if prefetch and quota.prefetch_remained is not None and files > quota.prefetch_remained:
        problems.append(f"{count(files, 'file URL')} to prefetch, {quota.prefetch_remained} "
                        f"prefetches left today{_per_day(quota.prefetch_all)}")
    if not problems:
        return None
    return ("JD's quota: " + "; ".join(problems) + "; nothing was sent. Refresh fewer URLs "
            "(narrow paths/include/exclude, or set dir-threshold to refresh crowded folders "
            "as directories), or run again when the quota renews.")


def describe(quota: Quota, prefetch: bool = False) -> str:
    """``quota today: 1,997 of 2,000 URL refreshes left, 50 of 50 directories``."""
    parts = [f"{_of(quota.refresh_remained, quota.refresh_all)} URL refreshes left",
             f"{_of(quota.dir_remained, quota.dir_all)} directories"]
    if prefetch and quota.prefetch_remained is not None:
        parts.append(f"{_of(quota.prefetch_remained, quota.prefetch_all)} prefetches")
    return "quota today: " + ", ".join(parts)


def read_quota(api: Backend, console: Console, plan: UrlPlan,
               settings: Settings) -> QuotaReading:
    """Read the quota and check ``plan`` against it: raises BudgetError when the plan does
    not fit; a failed read is one warning (or, for refused credentials, the run's stop)."""
    try:
        outcome = api.quota()
    except Exception as error:  # a bug: the read failed, and max-urls/max-dirs still hold
        from jdcdn_action.exceptions import internal_error

        console.warning(f"JD's quota could not be read: {internal_error(error)}. The run goes "
                        f"on within max-urls ({_limit(settings.max_urls)}) and max-dirs "
                        f"({_limit(settings.max_dirs)}).", title="quota not read")
        return QuotaReading(error=internal_error(error))
    if outcome is None:
        console.info(_sentence(NO_QUOTA_CALL))
        return QuotaReading(note=NO_QUOTA_CALL)
    if not outcome.ok:
        if outcome.auth_failed:  # the backend sends nothing more: every URL ends in failed
            console.warning(f"JD's quota could not be read: {outcome.error}; nothing is sent.",
                            title="credentials refused")
        else:
            console.warning(f"JD's quota could not be read: {outcome.error}. The run goes on "
                            f"within max-urls ({_limit(settings.max_urls)}) and max-dirs "
                            f"({_limit(settings.max_dirs)}).", title="quota not read")
        return QuotaReading(error=outcome.error)
    quota: Quota = outcome.value
    console.info(_sentence(describe(quota, settings.prefetch)))
    problem = over_quota(plan, quota, settings.prefetch)
    if problem:
        raise BudgetError(problem)
    return QuotaReading(quota=quota)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


def _of(remained: int, total: int | None) -> str:
    return f"{remained:,}" if total is None else f"{remained:,} of {total:,}"


def _per_day(total: int | None) -> str:
    return "" if total is None else f" ({total} a day)"


def _limit(value: int) -> str:
    return str(value) if value else "0: no limit"
