"""blue_green's verify applies the trust policy's scan gate on moto: a signed image whose vulnerability
attestation has a critical finding is refused naming it, and nothing is created; the same image with an
allow entry for it deploys."""

from __future__ import annotations

from pathlib import Path

import yaml
from harness.attestations import scan_file


def test_blue_green_refuses_a_signed_but_vulnerable_image(aws, playbook, golden, swap_task, fleet, trust, tmp_path):
    vulnerable = scan_file(tmp_path, "vulnerable")
    attest = {
        "name": "attest",
        "phoenix.immutable.image_attest": {
            "image_id": golden.second,
            "key": str(tmp_path / "release.pem"),
            "vuln_scan": vulnerable,
        },
    }
    document = yaml.safe_load(Path(trust).read_text(encoding="utf-8"))
    gated = dict(document, vulnerabilities={"max_severity": "high"})
    allowed = dict(
        document,
        vulnerabilities={
            "max_severity": "high",
            "allow": [{"id": "CVE-2026-10001", "reason": "no TLS server", "expires": "2099-12-31"}],
        },
    )
    run = playbook([attest, {**swap_task(golden.second, verify=gated), "ignore_errors": True}])
    assert run.rc == 0, run.explain()
    result = run.task("swap")["result"]
    assert result["failed"] is True
    assert "PHX-2026-0001 (CVE-2026-10001) in libssl3 3.0.11-1~deb12u2 is critical" in result["msg"]
    state = fleet()
    assert set(state.groups) == {"web-blue"} and state.serving() == {"web-blue": 100}
    deployed = playbook([swap_task(golden.second, verify=allowed)])
    assert deployed.rc == 0, deployed.explain()
    assert deployed.task("swap")["result"]["verified"] is True
    assert fleet().serving() == {"web-a": 100}
