import datetime as dt

import pytest

from zikao.core import clock
from zikao.core.ratelimit import Limit, RateLimited, hit

LIMIT = Limit("test", 3, 60)
T0 = dt.datetime(2026, 11, 28, 10, 0, 0, tzinfo=dt.UTC)


def test_limit_per_subject_and_window():
    with clock.frozen_at(T0):
        for _ in range(3):
            hit(LIMIT, "1.2.3.4")
        with pytest.raises(RateLimited) as exc:
            hit(LIMIT, "1.2.3.4")
        assert (exc.value.code, exc.value.status, exc.value.retry_after) == ("RATE_LIMITED", 429, 60)
        hit(LIMIT, "5.6.7.8")  # another subject has its own budget
    with clock.frozen_at(T0 + dt.timedelta(seconds=60)):
        hit(LIMIT, "1.2.3.4")  # a new window
