"""Debian (dpkg) and RPM (rpmvercmp) version ordering, table-driven, with the cases each algorithm's
description calls out: epochs, tildes, carets, revisions, letters against digits and separators."""

from __future__ import annotations

import functools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import PhoenixError
from ansible_collections.phoenix.immutable.plugins.module_utils._scan import versions
from ansible_collections.phoenix.immutable.plugins.module_utils._scan.versions import (
    InvalidVersion,
    compare,
    compare_dpkg,
    compare_rpm,
    parse_dpkg,
    parse_rpm,
)

# (lower, higher) pairs: compare(lower, higher) == -1 and the reverse is 1.
DPKG_ORDERED = [
    ("1.0", "1.1"),
    ("1.9", "1.10"),  # digit runs compare as numbers
    ("1.0", "1:0.1"),  # an epoch beats any upstream version
    ("1:1.0", "2:0.1"),
    ("1.0~rc1", "1.0"),  # ~ sorts before the end of the run
    ("1.0~~", "1.0~"),
    ("1.0~~a", "1.0~"),
    ("1.0~", "1.0"),
    ("1.0", "1.0a"),  # the end of a run sorts before a letter
    ("1.0a", "1.0+"),  # letters sort before non-letters
    ("1.0a", "1.0."),
    ("1.0+", "1.0.1"),
    ("1.0.", "1.0.1"),  # '.' then end of run (0) against '.' then digit run 1
    ("1.0Z", "1.0a"),  # letters in ASCII order
    ("1.0-1", "1.0-2"),
    ("1.0-9", "1.0-10"),
    ("1.0-1", "1.0.1-1"),
    ("3.0.11-1~deb12u1", "3.0.11-1~deb12u2"),
    ("3.0.11-1~deb12u2", "3.0.11-1"),  # a backport/stable update sorts before the unstable upload
    ("3.0.11-1", "3.0.11-1+b1"),  # a binNMU is newer
    ("3.0.11-1", "3.0.13-1"),
    ("2.36-9+deb12u3", "2.36-9+deb12u4"),
    ("1.0-0", "1.0-0.1"),
    ("0.9", "1.0"),
    ("1.2.3-4-5", "1.2.3-4-6"),  # the revision is after the last '-'
    ("1.002", "1.3"),  # leading zeros are not significant
    ("7.88.1-10+deb12u5", "7.88.1-10+deb12u12"),
]
DPKG_EQUAL = [
    ("1.0", "1.0"),
    ("0:1.0", "1.0"),  # epoch 0 is the default
    ("1.0", "1.0-0"),  # a missing revision compares like 0
    ("1.01", "1.1"),
    ("1.0-01", "1.0-1"),
]

RPM_ORDERED = [
    ("1.0", "1.1"),
    ("1.9", "1.10"),
    ("2.0", "1:1.0"),  # epoch first
    ("1.0~rc1", "1.0"),  # ~ before everything, even the end
    ("1.0~rc1", "1.0~rc2"),
    ("1.0~~", "1.0~"),
    ("1.0", "1.0^git1"),  # ^ after the base version
    ("1.0^git1", "1.0.1"),  # but before anything else that follows
    ("1.0^git1", "1.0^git2"),
    ("1.0~rc1^git1", "1.0~rc1^git2"),
    ("1.0~rc1^git1", "1.0"),
    ("1.0a", "1.0.1"),  # a digit run is newer than a letter run
    ("1.a", "1.1"),
    ("1.0", "1.0a"),  # runs left over win
    ("1.0", "1.0.1"),
    ("1.0-1", "1.0-2"),
    ("1.0-1.el9", "1.0-2.el9"),
    ("3.0.7-24.el9", "3.0.7-25.el9_3"),
    ("3.0.7-24.el9", "1:3.0.7-24.el9"),
    ("1.0-9", "1.0-10"),
    ("A", "a"),  # letter runs compare as strings (ASCII)
    ("abc", "abd"),
]
RPM_EQUAL = [
    ("1.0", "1.0"),
    ("1.0", "1_0"),  # separators only separate
    ("1..0", "1.0"),
    ("1.0", "1.0."),
    ("1.01", "1.1"),
    ("0:1.0-1", "1.0-1"),
    ("1.0", "1.0-5"),  # a side without release matches any release, as rpm compares
]


@pytest.mark.parametrize("lower, higher", DPKG_ORDERED)
def test_dpkg_orders(lower, higher):
    assert compare_dpkg(lower, higher) == -1
    assert compare_dpkg(higher, lower) == 1


@pytest.mark.parametrize("left, right", DPKG_EQUAL)
def test_dpkg_equal(left, right):
    first, second = right, left
    assert compare_dpkg(left, right) == 0 and compare_dpkg(first, second) == 0


@pytest.mark.parametrize("lower, higher", RPM_ORDERED)
def test_rpm_orders(lower, higher):
    assert compare_rpm(lower, higher) == -1
    assert compare_rpm(higher, lower) == 1


@pytest.mark.parametrize("left, right", RPM_EQUAL)
def test_rpm_equal(left, right):
    first, second = right, left
    assert compare_rpm(left, right) == 0 and compare_rpm(first, second) == 0


def test_sorting_a_debian_list_follows_policy_example():
    # Debian Policy's own example: ~~ < ~~a < ~ < (empty) < a.
    shuffled = ["1.0a", "1.0~", "1.0", "1.0~~a", "1.0~~"]
    ordered = sorted(shuffled, key=functools.cmp_to_key(compare_dpkg))
    assert ordered == ["1.0~~", "1.0~~a", "1.0~", "1.0", "1.0a"]


def test_the_dispatcher_picks_the_scheme_and_refuses_an_unknown_one():
    # The same pair orders differently: dpkg puts letters after the end, rpm a digit run after letters.
    assert compare(versions.DPKG, "1.0a", "1.0.1") == -1
    assert compare(versions.RPM, "1.0a", "1.0.1") == -1
    assert compare(versions.DPKG, "1.0+", "1.0a") == 1
    assert compare(versions.RPM, "1.0+", "1.0a") == -1  # '+' only separates in rpm: 1.0 < 1.0a
    with pytest.raises(PhoenixError, match="no version ordering is known for 'semver'"):
        compare("semver", "1", "2")


@pytest.mark.parametrize(
    "version, parsed",
    [
        ("1.0", (0, "1.0", "")),
        ("2:1.0-3", (2, "1.0", "3")),
        ("1.2-3-4", (0, "1.2-3", "4")),
        ("3.0.11-1~deb12u2", (0, "3.0.11", "1~deb12u2")),
    ],
)
def test_parse_dpkg(version, parsed):
    assert parse_dpkg(version) == parsed


@pytest.mark.parametrize(
    "version, why",
    [
        ("", "empty"),
        (None, "empty"),
        ("a:1.0", "epoch"),
        ("1:2:3", "only once"),
        ("1.0-", "revision"),
        ("-1", "upstream version is empty"),
        ("1.0 beta", "only letters"),
        ("1.0_1", "only letters"),
    ],
)
def test_malformed_debian_versions_are_refused(version, why):
    with pytest.raises(InvalidVersion, match=why):
        compare_dpkg(version, "1.0")


@pytest.mark.parametrize(
    "version, parsed",
    [
        ("1.0", (0, "1.0", None)),
        ("1:1.0-2.el9", (1, "1.0", "2.el9")),
        (":1.0-1", (0, "1.0", "1")),
    ],
)
def test_parse_rpm(version, parsed):
    assert parse_rpm(version) == parsed


@pytest.mark.parametrize("version", ["", "x:1.0", "1:-1"])
def test_malformed_rpm_versions_are_refused(version):
    with pytest.raises(InvalidVersion):
        compare_rpm(version, "1.0")


# -- properties: each comparison is a consistent order over the versions it accepts ----------------------

DPKG_VERSIONS = st.builds(
    lambda epoch, upstream, revision: (("%d:" % epoch) if epoch is not None else "") + upstream + revision,
    st.one_of(st.none(), st.integers(min_value=0, max_value=3)),
    st.from_regex(r"\A[0-9][0-9a-z.+~]{0,6}\Z"),
    st.one_of(st.just(""), st.from_regex(r"\A-[0-9a-z+~.]{1,5}\Z")),
)
RPM_VERSIONS = st.builds(
    lambda epoch, version, release: (("%d:" % epoch) if epoch is not None else "") + version + release,
    st.one_of(st.none(), st.integers(min_value=0, max_value=3)),
    st.from_regex(r"\A[0-9a-zA-Z][0-9a-zA-Z._+~^]{0,6}\Z"),
    st.from_regex(r"\A-[0-9a-z._~^]{1,5}\Z"),  # with a release: rpm's order is total then
)


@pytest.mark.parametrize(
    "comparator, strategy", [(compare_dpkg, DPKG_VERSIONS), (compare_rpm, RPM_VERSIONS)], ids=["dpkg", "rpm"]
)
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_the_order_is_antisymmetric_and_transitive(comparator, strategy, data):
    first, second, third = (data.draw(strategy) for position in range(3))
    assert comparator(first, first) == 0
    assert comparator(first, second) == -comparator(second, first)
    ordered = sorted([first, second, third], key=functools.cmp_to_key(comparator))
    assert comparator(ordered[0], ordered[1]) <= 0 and comparator(ordered[1], ordered[2]) <= 0
    assert comparator(ordered[0], ordered[2]) <= 0
