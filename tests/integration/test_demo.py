"""`make demo` runs tools/demo.py; this test runs the same script, so a broken demo fails `make test`.

The demo runs the workflow on the AWS emulator, then on the GCE emulator, then on the ARM emulator (with Key Vault
and Blob Storage), into one audit trail: the test checks that each part ran to its end and that the final audit
table holds the changes of the three clouds, in that order.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
# A row of the final audit table: when, then the cloud of the change.
AUDIT_ROW = re.compile(r"^  \d{4}-\d\d-\d\dT[\d:.]+Z  (?P<cloud>\S+) ", re.MULTILINE)


def test_the_demo_runs_to_its_summary_on_the_three_clouds_and_succeeds():
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "tools" / "demo.py")],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=1500,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "The demo playbook succeeded." in done.stdout
    assert "API calls made by the playbook" in done.stdout
    assert "The GCP demo playbook succeeded." in done.stdout
    assert re.search(r"API calls made by the GCP playbook: [1-9]", done.stdout)
    assert "The Azure demo playbook succeeded." in done.stdout
    assert re.search(r"API calls made by the Azure playbook: [1-9]", done.stdout)
    # On Azure: a signature made in Key Vault, the pool served by the green scale set after the rollback and drift.
    assert re.search(r"^\s+\d+  KeyVault Sign$", done.stdout, re.MULTILINE), done.stdout[-4000:]
    assert re.search(r"load balancer web-lb\s+rule http -> pool web-pool: web-[ab] 2$", done.stdout, re.MULTILINE)

    audit = done.stdout.rsplit("Audit trail of the three clouds", 1)[-1]
    assert "chain intact" in audit
    clouds = [match["cloud"] for match in AUDIT_ROW.finditer(audit)]
    assert clouds.count("aws") > 0 and clouds.count("gcp") > 0 and clouds.count("azure") > 0, audit
    # AWS ran first, then GCP, then Azure, into the same trail.
    assert clouds.index("gcp") > max(index for index, cloud in enumerate(clouds) if cloud == "aws"), clouds
    assert clouds.index("azure") > max(index for index, cloud in enumerate(clouds) if cloud == "gcp"), clouds
    # The GCP run's lines were put into the emulator's Cloud Storage bucket by the audit_log callback.
    assert re.search(r"gs://phoenix-demo-audit/demo/\S+\.jsonl  [1-9]\d* bytes", audit), audit
    # And the Azure run's into the Blob container.
    blob = r"https://phoenixaudit\.blob\.core\.windows\.net/phoenix-demo-audit/demo/\S+\.jsonl  [1-9]\d* bytes"
    assert re.search(blob, audit), audit
