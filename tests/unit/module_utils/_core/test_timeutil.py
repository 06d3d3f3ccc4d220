import datetime

import pytest

from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import InvalidInput
from ansible_collections.phoenix.immutable.plugins.module_utils._core.timeutil import format_utc, parse_utc

UTC = datetime.UTC


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2026-12-31", datetime.datetime(2026, 12, 31, tzinfo=UTC)),
        ("2026-12-31T18:30:00Z", datetime.datetime(2026, 12, 31, 18, 30, tzinfo=UTC)),
        ("2026-12-31T18:30:00.000Z", datetime.datetime(2026, 12, 31, 18, 30, tzinfo=UTC)),
        ("2026-12-31T20:30:00+02:00", datetime.datetime(2026, 12, 31, 18, 30, tzinfo=UTC)),
        ("2026-12-31T18:30:00", datetime.datetime(2026, 12, 31, 18, 30, tzinfo=UTC)),
    ],
)
def test_parse_utc(text, expected):
    assert parse_utc(text) == expected


@pytest.mark.parametrize("text", ["tomorrow", "", "2026-13-01", "31/12/2026"])
def test_parse_utc_refuses_what_is_not_iso_8601(text):
    with pytest.raises(InvalidInput, match="not an ISO 8601"):
        parse_utc(text, what="deprecate_at")


def test_format_utc_round_trips():
    assert format_utc(parse_utc("2026-12-31T20:30:15+02:00")) == "2026-12-31T18:30:15Z"
