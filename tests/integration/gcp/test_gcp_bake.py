"""The phoenix.immutable.bake role with bake_cloud gcp through ansible-playbook against the GCE emulator.

The emulator's instances run nothing, so the builder is reached with the local connection and its filesystem is
a scratch directory (bake_builder_root), as in tests/integration/test_bake.py. Launch, labels, stop, image,
signature, verification and teardown are the real Compute API path; every test reads the result back through
google-auth (compute.py over a GcpConnection), and prints the Compute calls the bake made at the emulator
(``GCE calls of ...``: the bench reads them).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from harness import run_playbook

from ansible_collections.phoenix.immutable.plugins.module_utils._gcp import compute
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.codec import tags_of
from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.identifiers import image_id

GCP_GROUP = "group/phoenix.immutable.gcp"
BUILDER_LABEL = "phoenix_-builder"
EXPIRES_LABEL = "phoenix_-expires-at"
SIG_PREFIX = "phoenix_-sig_-"
NAME = "web-golden-1"
NOTHING_LEFT = {"instances": [], "firewall_rules": [], "key_files": []}
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
ATTESTATION_BUCKET = "phoenix-attestations"
ATT_PREFIX = "phoenix_-att_-"
CVE_MESSAGE = "PHX-2026-0001 (CVE-2026-10001) in libssl3 3.0.11-1~deb12u2 is critical"


@pytest.fixture
def bake_dir(tmp_path):
    """A P-256 signing key and a trust policy for it, a scratch builder root with per-instance state, task files."""
    private = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "build.pem").write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    public = private.public_key()
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    (tmp_path / "keyid").write_text(hashlib.sha256(der).hexdigest())
    (tmp_path / "policy.yml").write_text(
        yaml.safe_dump(
            {"keys": [{"name": "build", "public_key": pem}], "threshold": 1, "required_claims": {"tests": "passed"}}
        )
    )
    root = tmp_path / "builder-root"
    for stale in ("etc/ssh/ssh_host_ed25519_key", "var/lib/cloud/instances/i-1/x", "tmp/build.log", "srv/.keep"):
        (root / stale).parent.mkdir(parents=True, exist_ok=True)
        (root / stale).write_text("stale\n")
    (root / "etc/machine-id").write_text("0123456789abcdef\n")
    page = "{{ bake_builder_root }}/srv/index.html"
    write_tasks(
        tmp_path / "provision.yml",
        [
            {
                "name": "Install the web page",
                "ansible.builtin.copy": {"dest": page, "content": "hello\n", "mode": "0644"},
            }
        ],
    )
    write_tasks(
        tmp_path / "tests-pass.yml",
        [
            {"name": "Read the web page", "ansible.builtin.stat": {"path": page}, "register": "page"},
            {"name": "The web page is there", "ansible.builtin.assert": {"that": ["page.stat.exists"]}},
        ],
    )
    write_tasks(
        tmp_path / "tests-fail.yml",
        [{"name": "A test that fails", "ansible.builtin.assert": {"that": ["false"], "fail_msg": "smoke test failed"}}],
    )
    write_tasks(
        tmp_path / "provision-slow.yml",
        [
            {
                "name": "Provision slowly (until the test says so)",
                "ansible.builtin.wait_for": {"path": str(tmp_path / "release"), "timeout": 120},
            }
        ],
    )
    return tmp_path


def write_tasks(path, tasks):
    path.write_text(yaml.safe_dump(tasks, sort_keys=False))


def bake_vars(gce, bake_dir, **overrides):
    values = {
        "bake_cloud": "gcp",
        "bake_name": NAME,
        "bake_base_image_id": image_id(gce.seed.project, gce.seed.base_image_name),
        # Empty: the GCP builder's own defaults (e2-small); the login user of the seeded Debian image.
        "bake_instance_type": "",
        "bake_connection_user": "debian",
        "bake_builder_connection": "local",
        "bake_builder_root": str(bake_dir / "builder-root"),
        "bake_key_dir": str(bake_dir / "keys"),
        "bake_tasks": str(bake_dir / "provision.yml"),
        "bake_test_tasks": str(bake_dir / "tests-pass.yml"),
        "bake_sign_key": str(bake_dir / "build.pem"),
        "bake_tags": {"service": "web"},
        "bake_git_revision": "3f2c1a9",
        "bake_connect_timeout": 30,
        "bake_wait_timeout": 120,
        # GCP's labels cannot hold an attestation without an object store for the statement (docs/scanning.md).
        "bake_scan": False,
    }
    values.update(overrides)
    return values


def bake_task(gce, bake_dir, **overrides):
    return {
        "name": "bake",
        "ansible.builtin.include_role": {"name": "phoenix.immutable.bake"},
        "vars": bake_vars(gce, bake_dir, **overrides),
    }


def environment(gce):
    """The emulator's endpoints and key; the zone is not in it: the role takes it from module_defaults."""
    return {
        **gce.emu.env(),
        "GCP_ZONE": None,
        "GCP_AUTH_KIND": "serviceaccount",
        "GCP_SERVICE_ACCOUNT_FILE": str(gce.key_file),
        "GCP_KMS_ENDPOINT_URL": gce.emu.kms_url,
    }


def module_defaults(gce):
    return {GCP_GROUP: {"project": gce.seed.project, "zone": gce.seed.zone}}


@pytest.fixture
def playbook(gce):
    """``playbook(tasks, **options)``: the tasks in a play with the GCP group's module_defaults, the GCE calls
    made printed under ``what`` (default the first task's name)."""

    def run(tasks, *, what=None, **options):
        with gce.emu.counting() as calls:
            result = run_playbook(tasks, env=environment(gce), module_defaults=module_defaults(gce), **options)
        print("GCE calls of %s: %s" % (what or tasks[0]["name"], json.dumps(dict(sorted(calls.items())))))
        return result

    return run


def golden_images(gce):
    return [
        image
        for image in compute.list_images(gce.connection(), gce.seed.project)
        if image["name"] != gce.seed.base_image_name
    ]


def leftovers(gce, bake_dir):
    connection = gce.connection()
    instances = [
        instance["name"]
        for _zone, instance in compute.aggregated_instances(connection, gce.seed.project)
        if BUILDER_LABEL in (instance.get("labels") or {})
    ]
    rules = [
        rule["name"]
        for rule in compute.list_firewalls(connection, gce.seed.project)
        if BUILDER_LABEL in rule.get("description", "")
    ]
    keys = sorted(path.name for path in (bake_dir / "keys").glob("*")) if (bake_dir / "keys").exists() else []
    return {"instances": instances, "firewall_rules": rules, "key_files": keys}


def test_a_bake_publishes_a_labelled_signed_image_that_verifies_and_leaves_no_builder(gce, playbook, bake_dir):
    family = "projects/%s/global/images/family/phoenix-web" % gce.seed.project
    # The bake records the fixture root's packages, scans them against the fixture feed (CVE-2026-10001 in
    # openssl) and attests both: on GCP the statements go to Cloud Storage, the labels keep their signatures.
    shutil.copytree(FIXTURES / "rootfs" / "debian-12", bake_dir / "builder-root", dirs_exist_ok=True)
    gce.emu.storage.create_bucket(ATTESTATION_BUCKET)
    store = {"container": ATTESTATION_BUCKET}
    gated = yaml.safe_load((bake_dir / "policy.yml").read_text())
    gated["vulnerabilities"] = {"max_severity": "high"}
    (bake_dir / "gated.yml").write_text(yaml.safe_dump(gated))
    scans = {
        "bake_scan": True,
        "bake_osv": str(FIXTURES / "osv"),
        "bake_attestation_store": store,
        "bake_output_dir": str(bake_dir / "out"),
    }
    run = playbook(
        [
            bake_task(gce, bake_dir, bake_family="phoenix-web", **scans),
            {
                "name": "verify",
                "phoenix.immutable.image_verify": {
                    "cloud": "gcp",
                    "image_id": ["{{ bake_image.id }}"],
                    "policy": str(bake_dir / "policy.yml"),
                },
            },
            {
                "name": "gated",
                "phoenix.immutable.image_verify": {
                    "cloud": "gcp",
                    "image_id": ["{{ bake_image.id }}"],
                    "policy": str(bake_dir / "gated.yml"),
                    "store": store,
                    "fail_on_unverified": False,
                },
            },
            {"name": "read", "phoenix.immutable.image_info": {"cloud": "gcp", "name": NAME}},
            {"name": "by family", "phoenix.immutable.image_info": {"cloud": "gcp", "image_ids": [family]}},
            {"name": "result", "ansible.builtin.debug": {"var": "bake_image"}},
        ],
        timeout=300,
    )
    assert run.rc == 0, run.explain()
    bake_image = run.task("result")["result"]["bake_image"]
    [found] = run.task("read")["result"]["images"]
    # Compute's own family: a template naming family/phoenix-web launches this image.
    assert found["family"] == "phoenix-web" and bake_image["family"] == "phoenix-web"
    assert [image["id"] for image in run.task("by family")["result"]["images"]] == [bake_image["id"]]
    assert run.task("verify")["result"]["verified"] is True
    assert bake_image["keyid"] == (bake_dir / "keyid").read_text()
    # The scan gate refuses the baked image naming the CVE, from the statements in the store.
    assert bake_image["scan"]["sbom"]["components"] == 9
    assert bake_image["scan"]["vulnerabilities"]["worst"] == "critical"
    gated_result = run.task("gated")["result"]
    assert gated_result["verified"] is False and gated_result["reason"] == "vulnerable"
    assert CVE_MESSAGE in gated_result["results"][0]["message"]

    [image] = golden_images(gce)
    assert image["status"] == "READY" and bake_image["id"] == image_id(gce.seed.project, NAME)
    assert image["family"] == "phoenix-web"
    labels = tags_of(image["labels"])
    assert labels["service"] == "web"
    assert labels["phoenix_-bake-id"] == NAME
    assert labels["phoenix_-git-revision"] == "3f2c1a9"
    assert labels["phoenix_-tests"] == "passed"
    assert any(key.startswith(SIG_PREFIX) for key in labels)
    assert any(key.startswith(ATT_PREFIX) for key in labels)
    # Every label is one Compute accepts (the emulator refuses others, as GCE does): the base image's path,
    # too long for one label value, is stored whole in chunks and read back by image_info.
    assert image_id(gce.seed.project, gce.seed.base_image_name) not in labels.values()
    assert found["provenance"]["bake-id"] == NAME
    assert found["provenance"]["base-image"] == image_id(gce.seed.project, gce.seed.base_image_name)
    assert found["provenance"]["source-image"] == found["provenance"]["base-image"]
    assert found["signed"] is True and found["signers"] == [bake_image["keyid"]]
    disk_source = image.get("sourceDisk", "")
    assert "/zones/%s/disks/" % gce.seed.zone in disk_source

    root = bake_dir / "builder-root"
    assert (root / "srv/index.html").read_text() == "hello\n"
    assert not (root / "etc/ssh/ssh_host_ed25519_key").exists() and not (root / "tmp/build.log").exists()
    assert (root / "etc/machine-id").read_text() == ""
    assert leftovers(gce, bake_dir) == NOTHING_LEFT


def test_a_bake_from_a_family_reads_again_as_done_and_changes_nothing(gce, playbook, bake_dir):
    family = "projects/%s/global/images/family/phoenix-base" % gce.seed.project
    first = playbook([bake_task(gce, bake_dir, bake_base_image_id=family)], what="a bake from a family", timeout=300)
    assert first.rc == 0, first.explain()
    [image] = golden_images(gce)
    assert tags_of(image["labels"])["phoenix_-bake-id"] == NAME

    with gce.emu.counting() as calls:
        again = playbook([bake_task(gce, bake_dir, bake_base_image_id=family)], what="a re-run", timeout=300)
    assert again.rc == 0, again.explain()
    assert again.stats["localhost"]["changed"] == 0
    assert [found["id"] for found in golden_images(gce)] == [image["id"]]
    # A re-run only reads: no insert, stop, label change or delete.
    assert not [call for call in calls if call.rsplit(".", 1)[-1] in ("insert", "stop", "setLabels", "delete")]
    assert leftovers(gce, bake_dir) == NOTHING_LEFT


def test_a_bake_signed_with_a_cloud_kms_key_verifies_with_that_key(gce, playbook, bake_dir):
    version = gce.emu.kms.create_key("build")
    policy = {"keys": [{"name": "build", "kms_key": version}], "required_claims": {"tests": "passed"}}
    run = playbook(
        [
            bake_task(gce, bake_dir, bake_sign_key="", bake_sign_kms_key=version),
            {
                "name": "verify",
                "phoenix.immutable.image_verify": {"cloud": "gcp", "image_id": "{{ bake_image.id }}", "policy": policy},
            },
        ],
        timeout=300,
    )
    assert run.rc == 0, run.explain()
    assert run.task("verify")["result"]["verified"] is True
    sign_call = "cloudkms.projects.locations.keyRings.cryptoKeys.cryptoKeyVersions.asymmetricSign"
    assert gce.emu.calls[sign_call] == 1  # the private key never left Cloud KMS
    assert leftovers(gce, bake_dir) == NOTHING_LEFT


def test_a_failing_test_publishes_nothing_and_leaves_nothing(gce, playbook, bake_dir):
    run = playbook([bake_task(gce, bake_dir, bake_test_tasks=str(bake_dir / "tests-fail.yml"))], timeout=300)
    assert run.rc != 0
    assert "bake %s failed" % NAME in run.stdout + run.stderr
    assert "smoke test failed" in run.stdout + run.stderr
    assert golden_images(gce) == []
    assert leftovers(gce, bake_dir) == NOTHING_LEFT


def test_a_failure_after_imaging_deletes_the_unsigned_image(gce, playbook, bake_dir):
    # The first setLabels of a bake is the signature's: the image exists by then, unsigned.
    gce.emu.inject_fault("compute.images.setLabels", status=403, times=1)
    run = playbook([bake_task(gce, bake_dir)], timeout=300)
    assert run.rc != 0
    assert golden_images(gce) == []
    assert leftovers(gce, bake_dir) == NOTHING_LEFT


def test_copies_to_regions_are_refused_before_anything_is_launched(gce, playbook, bake_dir):
    run = playbook([bake_task(gce, bake_dir, bake_copy_to_regions=["europe-west1"])], timeout=300)
    assert run.rc != 0
    assert "europe-west1" in run.stdout + run.stderr
    assert not [record for record in run.tasks if record["action"] == "phoenix.immutable.builder"]
    assert golden_images(gce) == [] and leftovers(gce, bake_dir) == NOTHING_LEFT


def test_a_bake_killed_midway_is_reaped_and_the_next_run_bakes(gce, playbook, bake_dir):
    overrides = dict(bake_tasks=str(bake_dir / "provision-slow.yml"), bake_ttl=2)
    processes, runs = [], []
    bake = threading.Thread(
        target=lambda: runs.append(
            run_playbook(
                [bake_task(gce, bake_dir, **overrides)],
                env=environment(gce),
                module_defaults=module_defaults(gce),
                timeout=180,
                on_start=processes.append,
            )
        ),
        daemon=True,
    )
    bake.start()
    try:
        deadline = time.monotonic() + 120
        while not leftovers(gce, bake_dir)["instances"]:
            assert bake.is_alive(), "the bake ended early:\n" + (runs[0].explain() if runs else "")
            assert time.monotonic() < deadline, "no builder appeared"
            time.sleep(0.2)
        os.killpg(processes[0].pid, signal.SIGKILL)
        bake.join(timeout=60)
    finally:
        (bake_dir / "release").write_text("")  # frees the orphaned wait_for worker
    assert runs and runs[0].rc == -signal.SIGKILL
    left = leftovers(gce, bake_dir)
    assert len(left["instances"]) == 1 and left["firewall_rules"] and left["key_files"]
    [instance] = [
        found
        for _zone, found in compute.aggregated_instances(gce.connection(), gce.seed.project)
        if BUILDER_LABEL in (found.get("labels") or {})
    ]
    assert EXPIRES_LABEL in instance["labels"]

    reap = [
        {
            "name": "reap",
            "phoenix.immutable.builder": {"cloud": "gcp", "state": "reaped", "key_dir": str(bake_dir / "keys")},
        }
    ]
    deadline = time.monotonic() + 60
    while True:
        run = playbook(reap, what="a reap")
        assert run.rc == 0, run.explain()
        if run.task("reap")["result"]["reaped"]:
            break
        assert time.monotonic() < deadline, "the builder never expired"
        time.sleep(0.5)
    assert leftovers(gce, bake_dir) == NOTHING_LEFT
    assert golden_images(gce) == []

    again = playbook([bake_task(gce, bake_dir)], what="the bake after the killed one", timeout=300)
    assert again.rc == 0, again.explain()
    [image] = golden_images(gce)
    assert any(key.startswith(SIG_PREFIX) for key in image["labels"])
    assert leftovers(gce, bake_dir) == NOTHING_LEFT
