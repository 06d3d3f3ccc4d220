"""The GCP label codec's plain values: escaped to label characters and back, refused when too long."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.phoenix.immutable.plugins.module_utils._core import tags as tagging
from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import InvalidInput
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.codec import (
    GCP_CODEC,
    LEGAL_VALUE,
    label_value,
    labels_of,
    tags_of,
    text_of,
)


@given(st.text(max_size=5))
def test_a_plain_value_round_trips_through_legal_label_characters(text):
    value = label_value(text, "k")
    assert LEGAL_VALUE.match(value) and text_of(value) == text


def test_label_characters_are_written_as_they_are():
    assert label_value("web-1", "k") == "web-1"
    assert label_value("2026-12-02T10:00:00Z", "k") == "2026-12-02_5410_3a00_3a00_5a"


def test_a_value_too_long_once_escaped_is_refused_not_cut():
    with pytest.raises(InvalidInput, match="at most 63"):
        label_value("projects/debian-cloud/global/images/debian-12-bookworm-v20240709", "k")


def test_labels_are_checked_before_any_call_and_read_back_as_the_core_wrote_them():
    tags = {GCP_CODEC.key(tagging.BUILDER): "Web Golden", "team": "web"}
    labels = labels_of(tags, "builder web")
    assert tags_of(labels) == tags
    with pytest.raises(InvalidInput, match="'Team'.*'goog-x'") as refused:
        labels_of({"Team": "web", "goog-x": "y", "ok": "z"}, "image web-1")
    assert "image web-1" in refused.value.message and "Nothing was changed" in refused.value.hint
    with pytest.raises(InvalidInput, match="65 labels, at most 64"):
        labels_of({"k%d" % n: "v" for n in range(65)}, "image web-1")
