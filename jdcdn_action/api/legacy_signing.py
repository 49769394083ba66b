"""The legacy API's signature: ``md5(yyyymmdd + username + SecretKey)``, lowercase hex.

The date's timezone is documented nowhere; JD runs in UTC+8, so that is the default.
A signature is valid for a whole day: it is a credential and is masked like the key.
"""

from __future__ import annotations

import datetime as dt
import hashlib


def sign(username: str, secret_key: str, day: dt.date) -> str:
    text = day.strftime("%Y%m%d") + username + secret_key
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def signing_day(tz: dt.tzinfo, now: dt.datetime | None = None) -> dt.date:
    """Today's date in ``tz`` (``now`` must be timezone-aware when given)."""
    return (now or dt.datetime.now(dt.UTC)).astimezone(tz).date()


def candidate_signatures(username: str, secret_key: str, tz: dt.tzinfo) -> list[str]:
    """Every signature a run may compute (its timezone's and UTC's dates, and the next
    day's for runs that cross midnight), so all can be masked before anything is printed."""
    now = dt.datetime.now(dt.UTC)
    days = {signing_day(tz, now), now.date()}
    days |= {day + dt.timedelta(days=1) for day in days}
    return sorted(sign(username, secret_key, day) for day in days)
