import datetime as dt

from jdcdn_action.api.legacy_signing import candidate_signatures, sign, signing_day


def test_seed_vector():
    assert sign("jcloud_00", "e7a31b1c5ea0efa9aa2f29c6559f7d61", dt.date(2016, 10, 23)) == \
        "a35685491fd80a80b40a718c3a5c5c56"


def test_signing_day_in_utc8_crosses_midnight_before_utc():
    tz = dt.timezone(dt.timedelta(hours=8))
    late_utc = dt.datetime(2024, 3, 1, 17, 30, tzinfo=dt.UTC)
    assert signing_day(tz, late_utc) == dt.date(2024, 3, 2)
    assert signing_day(dt.UTC, late_utc) == dt.date(2024, 3, 1)


def test_candidates_cover_both_zones():
    tz = dt.timezone(dt.timedelta(hours=8))
    now = dt.datetime.now(dt.UTC)
    candidates = candidate_signatures("u", "k", tz)
    assert sign("u", "k", signing_day(tz, now)) in candidates
    assert sign("u", "k", now.date()) in candidates
