"""fleet_drift's image-level scan reasons: which refusal of the trust verdict's scan gates maps to
vulnerable_image, noncompliant_image or untrusted_image (fail closed), and that none is cured by a replacement."""

from __future__ import annotations

import pytest

from ansible_collections.phoenix.immutable.plugins.module_utils._core import drift
from ansible_collections.phoenix.immutable.plugins.module_utils._core.policy import Verification


def refused(*reasons):
    refusals = [{"reason": reason, "subject": "s", "message": "because %s" % reason} for reason in reasons]
    return Verification(
        verified=False, reason=reasons[0], message="; ".join(r["message"] for r in refusals), refusals=refusals
    )


@pytest.mark.parametrize(
    "reasons,expected",
    [
        (["vulnerable"], ["vulnerable_image"]),
        (["vulnerable", "vulnerable"], ["vulnerable_image"]),
        (["noncompliant"], ["noncompliant_image"]),
        (["required rule"], ["noncompliant_image"]),
        (["noncompliant", "required rule"], ["noncompliant_image"]),
        (["vulnerable", "noncompliant"], ["vulnerable_image", "noncompliant_image"]),
        (["no scan"], ["untrusted_image"]),
        (["stale scan"], ["untrusted_image"]),
        (["incomplete scan"], ["untrusted_image"]),
        (["malformed scan"], ["untrusted_image"]),
        (["invalid attestation"], ["untrusted_image"]),
        (["no compliance result"], ["untrusted_image"]),
        (["wrong profile"], ["untrusted_image"]),
        (["a reason added later"], ["untrusted_image"]),
        (["stale scan", "vulnerable"], ["untrusted_image", "vulnerable_image"]),
    ],
)
def test_each_gate_refusal_maps_to_a_drift_reason(reasons, expected):
    found = drift.trust_reasons(refused(*reasons))
    assert [reason for reason, _detail in found] == expected
    assert drift.trust_reason(refused(*reasons)) == expected[0]


def test_the_detail_joins_the_messages_of_its_refusals():
    [(reason, detail)] = drift.trust_reasons(refused("noncompliant", "required rule"))
    assert reason == "noncompliant_image" and detail == "because noncompliant; because required rule"


def test_signature_verdicts_keep_their_reasons_and_a_pass_has_none():
    assert drift.trust_reasons(Verification(verified=True)) == [] and drift.trust_reasons(None) == []
    assert drift.trust_reasons(Verification(verified=False, reason="no signature"))[0][0] == "unsigned_image"
    assert drift.trust_reasons(Verification(verified=False, reason="revoked"))[0][0] == "revoked_image"
    assert drift.trust_reasons(Verification(verified=False, reason="unknown key"))[0][0] == "untrusted_image"


def test_scan_reasons_are_image_level_and_counted():
    for reason in ("vulnerable_image", "noncompliant_image"):
        assert reason in drift.REASONS and reason in drift.REASON_WORDS
        assert reason not in drift.INSTANCE_REASONS and not drift.replaceable([reason])
        assert drift.empty_counts()[reason] == 0
    line = drift.scan_line(4, 1, dict(drift.empty_counts(), vulnerable_image=4), 4)
    assert line == "drift: 4 instances in 1 group, 4 drifted (vulnerable 4)"
