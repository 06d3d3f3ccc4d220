"""The bake records, scans and attests what is in the image, and the deploy gate acts on it (AWS on moto).

The builder is reached with the local connection and its filesystem is a scratch directory (as in
tests/integration/test_bake.py), holding the fixture root tests/fixtures/rootfs/debian-12. In one playbook run:

- bake ``web-vuln`` against the fixture OSV feed (PHX-2026-0001, CVE-2026-10001, critical, in openssl), with a
  copy in us-west-2 and, when OpenSCAP is installed, the standard profile of ssg-debian;
- bake ``web-clean`` against a feed with no advisory for the root's packages (PHX-2026-0002/0004/0006);
- image_verify under ``max_severity: high``: the vulnerable image and its copy are refused naming the CVE,
  a future allow entry lets it pass, an expired one does not;
- blue_green refuses the vulnerable image (nothing created), then deploys the clean one.

The SBOM the bake wrote validates against the CycloneDX 1.5 JSON schema, and its digest is the one the
signed SBOM attestation on the image names (read from the tags with a decoder written from the format).
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from harness.attestations import attestation_tags, read_envelope
from harness.cyclonedx import cyclonedx_validator, schema_problems

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
DATASTREAM = Path("/usr/share/xml/scap/ssg/content/ssg-debian11-ds.xml")
PROFILE = "xccdf_org.ssgproject.content_profile_standard"
OSCAP = shutil.which("oscap") is not None and DATASTREAM.is_file()
HIGH = {"max_severity": "high"}
FUTURE = {"id": "CVE-2026-10001", "reason": "no TLS server in the image", "expires": "2099-12-31"}
PAST = {"id": "CVE-2026-10001", "reason": "no TLS server in the image", "expires": "2026-01-31"}
CVE_MESSAGE = "PHX-2026-0001 (CVE-2026-10001) in libssl3 3.0.11-1~deb12u2 is critical"


def scratch_root(folder):
    root = folder / "builder-root"
    shutil.copytree(FIXTURES / "rootfs" / "debian-12", root)
    (root / "etc/machine-id").write_text("0123456789abcdef\n")
    # ssg-debian in Debian 12 has content for Debian 11; its platform check reads /etc/debian_version.
    (root / "etc/debian_version").write_text("11.6\n")
    (root / "etc/ssh").mkdir(parents=True)
    (root / "etc/ssh/sshd_config").write_text("PermitRootLogin no\n")
    return root


def feed(folder, advisories):
    folder.mkdir()
    for advisory in advisories:
        shutil.copy(FIXTURES / "osv" / ("%s.json" % advisory), folder)
    return folder


def bake(aws, folder, name, osv, **extra):
    values = {
        "bake_name": name,
        "bake_base_image_id": aws.seed.base_image_id,
        "bake_builder_connection": "local",
        "bake_builder_root": str(scratch_root(folder)),
        "bake_key_dir": str(folder / "keys"),
        "bake_sign_key": str(folder.parent / "build.pem"),
        "bake_output_dir": str(folder / "out"),
        "bake_osv": str(osv),
        "bake_connect_timeout": 30,
        **extra,
    }
    return {
        "name": "bake %s" % name,
        "ansible.builtin.include_role": {"name": "phoenix.immutable.bake"},
        "vars": values,
    }


def verify(title, image_id, policy, **options):
    return {
        "name": title,
        "phoenix.immutable.image_verify": {
            "image_id": [image_id],
            "policy": policy,
            "fail_on_unverified": False,
            **options,
        },
    }


@pytest.fixture
def public_key(tmp_path):
    private = ed25519.Ed25519PrivateKey.generate()
    (tmp_path / "build.pem").write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def test_a_baked_image_carries_its_scans_and_the_deploy_gate_refuses_the_vulnerable_one(
    aws, playbook, swap_task, fleet, tmp_path, public_key
):
    vuln_dir, clean_dir = tmp_path / "vuln", tmp_path / "clean"
    vuln_dir.mkdir()
    clean_dir.mkdir()
    compliance = {"bake_compliance_profile": PROFILE, "bake_compliance_datastream": str(DATASTREAM)} if OSCAP else {}
    plain = {"keys": [{"name": "build", "public_key": public_key}]}
    gated = dict(plain, vulnerabilities=HIGH)
    allowed = dict(plain, vulnerabilities=dict(HIGH, allow=[FUTURE]))
    expired = dict(plain, vulnerabilities=dict(HIGH, allow=[PAST]))
    run = playbook(
        [
            bake(aws, vuln_dir, "web-vuln", FIXTURES / "osv", bake_copy_to_regions=["us-west-2"], **compliance),
            {"name": "vulnerable", "ansible.builtin.set_fact": {"vulnerable": "{{ bake_image }}"}},
            bake(
                aws,
                clean_dir,
                "web-clean",
                feed(tmp_path / "clean-feed", ["PHX-2026-0002", "PHX-2026-0004", "PHX-2026-0006"]),
            ),
            {"name": "clean", "ansible.builtin.set_fact": {"clean": "{{ bake_image }}"}},
            verify("gated", "{{ vulnerable.id }}", gated),
            verify("gated copy", "{{ vulnerable.copies[0].id }}", gated, region="us-west-2"),
            verify("allowed", "{{ vulnerable.id }}", allowed),
            verify("expired", "{{ vulnerable.id }}", expired),
            {**swap_task("{{ vulnerable.id }}", title="refused", verify=gated), "ignore_errors": True},
            swap_task("{{ clean.id }}", title="deployed", verify=gated),
        ],
        timeout=900,
    )
    assert run.rc == 0, run.explain()
    vulnerable = run.task("vulnerable")["result"]["ansible_facts"]["vulnerable"]
    clean = run.task("clean")["result"]["ansible_facts"]["clean"]

    # The bake's result facts: the SBOM and the scan's counts (findings do not fail the bake).
    scan = vulnerable["scan"]
    assert scan["sbom"]["components"] == 9 and scan["sbom"]["producer"]["name"].startswith("phoenix.immutable/")
    assert scan["vulnerabilities"]["counts"] == {"critical": 2, "high": 1, "medium": 0, "low": 1, "unknown": 0}
    assert scan["vulnerabilities"]["worst"] == "critical"
    assert "compliance" not in clean["scan"]  # the second bake asked for none: nothing left from the first
    assert clean["scan"]["vulnerabilities"]["counts"] == dict.fromkeys(
        ["critical", "high", "medium", "low", "unknown"], 0
    )

    # The SBOM the bake wrote validates, and the signed SBOM attestation on the image names its digest.
    document = json.loads((vuln_dir / "out" / "sbom.cdx.json").read_text())
    assert schema_problems(cyclonedx_validator(), document) == []
    envelope = read_envelope(attestation_tags(aws, vulnerable["id"], "sbom"))
    statement = json.loads(base64.b64decode(envelope["payload"]))
    assert statement["predicate"]["sbom"]["digest"]["sha256"] == scan["sbom"]["digest"]
    assert statement["subject"][0]["name"].endswith(vulnerable["id"])
    assert json.loads((vuln_dir / "out" / "vuln.json").read_text())["scanner"]["result"]["counts"]["critical"] == 2
    # Nothing of the scans is left in the image's filesystem but /run (a tmpfs on a real builder).
    assert sorted(path.name for path in (vuln_dir / "builder-root" / "run").iterdir()) == ["phoenix-bake-web-vuln"]

    # The deploy gate: refused naming the CVE, on the image and on its copy; allowed until the entry expires.
    for title in ("gated", "gated copy"):
        result = run.task(title)["result"]
        assert result["verified"] is False and result["reason"] == "vulnerable", title
        assert CVE_MESSAGE in result["results"][0]["message"], title
    assert run.task("allowed")["result"]["verified"] is True
    expired_result = run.task("expired")["result"]
    assert (
        expired_result["verified"] is False
        and "its allow entry expired on 2026-02-01T00:00:00Z" in expired_result["results"][0]["message"]
    )

    refused = run.task("refused")["result"]
    assert refused["failed"] is True and CVE_MESSAGE in refused["msg"]
    assert run.task("deployed")["result"]["verified"] is True
    assert fleet().serving() == {"web-a": 100}

    if OSCAP:
        checked = scan["compliance"]
        assert checked["profile"] == PROFILE and checked["passed"] > 0 and checked["failed"] > 0
        assert "xccdf_org.ssgproject.content_rule_sshd_disable_root_login" not in checked["failed_rules"]
        assert attestation_tags(aws, vulnerable["id"], "compliance")
        results = (vuln_dir / "out" / "xccdf-results.xml").read_bytes()
        predicate = json.loads((vuln_dir / "out" / "compliance.json").read_text())
        assert predicate["report"]["digest"]["sha256"] == hashlib.sha256(results).hexdigest()
