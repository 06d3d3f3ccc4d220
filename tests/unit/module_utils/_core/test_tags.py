import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.phoenix.immutable.plugins.module_utils._core import tags as tagging
from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import InvalidInput

LIMITS = tagging.TagLimits(max_tags=3, max_key_length=5, max_value_length=4, reserved_prefixes=("aws:",))


@pytest.mark.parametrize(
    "tags, problem",
    [
        ({"a": "1", "b": "2", "c": "3", "d": "4"}, "4 tags, at most 3"),
        ({"toolong": "1"}, "is 7 characters, at most 5"),
        ({"a": "12345"}, "value of 5 characters, at most 4"),
        ({"aws:x": "1"}, "reserved prefix"),
        ({"": "1"}, "empty tag key"),
    ],
)
def test_tags_over_the_limits_are_refused_with_the_reason(tags, problem):
    with pytest.raises(InvalidInput, match=problem) as raised:
        tagging.validate_tags(tags, LIMITS, resource="image 'web'")
    assert "image 'web'" in str(raised.value)


def test_tags_within_the_limits_pass():
    tagging.validate_tags({"a": "1234", "bbbbb": ""}, LIMITS, resource="image")


tag_dicts = st.dictionaries(st.text(min_size=1, max_size=4), st.text(max_size=3), max_size=6)


@given(current=tag_dicts, wanted=tag_dicts, purge=st.booleans())
def test_tag_changes_lead_from_current_to_wanted(current, wanted, purge):
    to_set, to_remove = tagging.tag_changes(current, wanted, purge)
    result = {key: value for key, value in current.items() if key not in to_remove}
    result.update(to_set)
    if purge:
        assert result == wanted
    else:
        assert {key: result[key] for key in wanted} == wanted
        assert set(result) == set(current) | set(wanted)
    assert all(current.get(key) != value for key, value in to_set.items())
