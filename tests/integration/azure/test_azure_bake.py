"""The builder module and the phoenix.immutable.bake role with cloud azure, through ansible-playbook against the
ARM emulator.

The emulator's VMs run nothing, so the bake reaches its builder with the local connection and the builder's
filesystem is a scratch directory (bake_builder_root), as in the GCP bake tests. Launch (VM, NIC, security
group, SSH key), deallocation, generalization, the image version, its signature and the teardown are the real
ARM path; each test reads what is left back through azure-mgmt-compute and azure-mgmt-network.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import yaml
from azure_names import GALLERY, RESOURCE_GROUP
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from images_support import plant_version

from ansible_collections.phoenix.immutable.plugins.module_utils._azure.identifiers import parse_resource_id

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"

BUILDER_TAG = "phoenix:builder"
NAME = "web-golden-1"


@pytest.fixture
def network(azure):
    client = azure.connection().network()
    client.virtual_networks.begin_create_or_update(
        RESOURCE_GROUP,
        "vnet",
        {
            "location": azure.emu.location,
            "properties": {
                "addressSpace": {"addressPrefixes": ["10.2.0.0/16"]},
                "subnets": [{"name": "builders", "properties": {"addressPrefix": "10.2.0.0/24"}}],
            },
        },
    ).result()
    return client


@pytest.fixture
def base_image(azure):
    return plant_version(azure, "debian-base", "1.0.0", "debian-base-1")


@pytest.fixture
def bake_dir(tmp_path):
    """A P-256 signing key and a trust policy for it, a scratch builder root, the provisioning and test tasks."""
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
    # A package database (the fixture root's dpkg status and os-release), for the SBOM the bake records.
    shutil.copytree(FIXTURES / "rootfs" / "debian-12", root)
    (root / "srv").mkdir()
    (root / "etc/machine-id").write_text("0123456789abcdef\n")
    page = "{{ bake_builder_root }}/srv/index.html"
    tasks = {
        "provision.yml": [{"name": "Install the page", "ansible.builtin.copy": {"dest": page, "content": "hello\n"}}],
        "tests-pass.yml": [
            {"name": "Read the page", "ansible.builtin.stat": {"path": page}, "register": "page"},
            {"name": "The page is there", "ansible.builtin.assert": {"that": ["page.stat.exists"]}},
        ],
        "tests-fail.yml": [
            {
                "name": "A test that fails",
                "ansible.builtin.assert": {"that": ["false"], "fail_msg": "smoke test failed"},
            }
        ],
    }
    for name, content in tasks.items():
        (tmp_path / name).write_text(yaml.safe_dump(content, sort_keys=False))
    return tmp_path


def bake_task(bake_dir, base_image, **overrides):
    values = {
        "bake_cloud": "azure",
        "bake_name": NAME,
        "bake_base_image_id": base_image,
        # Empty: the Azure builder's own defaults (Standard_B2s, azureuser).
        "bake_instance_type": "",
        "bake_connection_user": "",
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
        "bake_output_dir": str(bake_dir / "out"),
        "bake_scan": False,  # the SBOM and its attestation: in the first test only (2 tasks a bake)
    }
    values.update(overrides)
    return {"name": "bake", "ansible.builtin.include_role": {"name": "phoenix.immutable.bake"}, "vars": values}


def builder_task(title="builder", **options):
    return {"name": title, "phoenix.immutable.builder": dict(cloud="azure", **options)}


def leftovers(azure, network, bake_dir):
    """What a builder leaves when it is not torn down: by kind, the names carrying a builder tag; key files."""
    compute = azure.compute()
    listings = {
        "vms": compute.virtual_machines.list(RESOURCE_GROUP),
        "disks": compute.disks.list_by_resource_group(RESOURCE_GROUP),
        "nics": network.network_interfaces.list(RESOURCE_GROUP),
        "addresses": network.public_ip_addresses.list(RESOURCE_GROUP),
        "groups": network.network_security_groups.list(RESOURCE_GROUP),
    }
    found = {
        kind: sorted(item.name for item in items if BUILDER_TAG in (item.tags or {}))
        for kind, items in listings.items()
    }
    keys = bake_dir / "keys"
    found["key_files"] = sorted(path.name for path in keys.glob("*")) if keys.exists() else []
    return found


NOTHING_LEFT = {"vms": [], "disks": [], "nics": [], "addresses": [], "groups": [], "key_files": []}


def test_a_bake_publishes_a_signed_image_version_that_verifies_and_leaves_no_builder(
    azure, network, playbook, bake_dir, base_image
):
    # Scanned against the fixture feed (CVE-2026-10001 in the root's openssl): the gate refuses what was baked.
    gated = yaml.safe_load((bake_dir / "policy.yml").read_text())
    gated["vulnerabilities"] = {"max_severity": "high"}
    (bake_dir / "gated.yml").write_text(yaml.safe_dump(gated))
    with azure.emu.counting() as calls:
        run = playbook(
            [
                bake_task(bake_dir, base_image, bake_scan=True, bake_osv=str(FIXTURES / "osv")),
                {
                    "name": "verify",
                    "phoenix.immutable.image_verify": {
                        "image_id": ["{{ bake_image.id }}"],
                        "policy": str(bake_dir / "policy.yml"),
                    },
                },
                {
                    "name": "gated",
                    "phoenix.immutable.image_verify": {
                        "image_id": ["{{ bake_image.id }}"],
                        "policy": str(bake_dir / "gated.yml"),
                        "fail_on_unverified": False,
                    },
                },
                {"name": "result", "ansible.builtin.debug": {"var": "bake_image"}},
            ],
            timeout=300,
        )
    print("ARM calls of a bake: %s" % json.dumps(dict(sorted(calls.items()))))

    assert run.rc == 0, run.explain()
    assert run.task("verify")["result"]["verified"] is True
    bake_image = run.task("result")["result"]["bake_image"]
    assert "/providers/Microsoft.Compute/galleries/" in bake_image["id"]
    assert bake_image["keyid"] == (bake_dir / "keyid").read_text()
    gallery, definition, name = parse_resource_id(bake_image["id"])["names"]
    version = azure.compute().gallery_image_versions.get(RESOURCE_GROUP, gallery, definition, name)
    assert version.tags["phoenix:bake-id"] == NAME and version.tags["service"] == "web"
    # The version was made from the builder VM: generalized, then deleted with its parts.
    assert "/virtualMachines/phoenix-builder-%s" % NAME in version.storage_profile.source.virtual_machine_id
    assert calls["VirtualMachines_Generalize"] == 1 and calls["VirtualMachines_Delete"] == 1
    assert calls["NetworkSecurityGroups_Delete"] == 1
    assert (bake_dir / "builder-root/srv/index.html").read_text() == "hello\n"
    # The same role records and attests the SBOM on Azure: in the version's tags, as on AWS.
    assert bake_image["scan"]["sbom"]["components"] == 9
    assert any(key.startswith("phoenix:att:sbom:") for key in version.tags)
    assert any(key.startswith("phoenix:att:vuln:") for key in version.tags)
    assert bake_image["scan"]["vulnerabilities"]["worst"] == "critical"
    gated_result = run.task("gated")["result"]
    assert gated_result["verified"] is False and gated_result["reason"] == "vulnerable"
    assert (
        "PHX-2026-0001 (CVE-2026-10001) in libssl3 3.0.11-1~deb12u2 is critical"
        in gated_result["results"][0]["message"]
    )
    assert leftovers(azure, network, bake_dir) == NOTHING_LEFT


def test_the_builder_module_launches_reuses_removes_and_reaps_builders(azure, network, playbook, bake_dir, base_image):
    key_dir = str(bake_dir / "keys")
    task = builder_task(name="bake-1", base_image_id=base_image, key_dir=key_dir, public_address=True)
    run = playbook(
        [
            task,
            dict(task, name="again"),
            builder_task("stop", name="bake-1", state="stopped"),
            builder_task("absent", name="bake-1", state="absent", key_dir=key_dir),
            builder_task("short-lived", name="bake-2", base_image_id=base_image, key_dir=key_dir, ttl=1),
            {
                **builder_task("reap", state="reaped", key_dir=key_dir),
                "register": "reap",
                # Waits for the expiry of bake-2 (a second after its launch), no longer than 60 s.
                "until": "reap.reaped | length > 0",
                "retries": 120,
                "delay": 0.5,
            },
        ],
        timeout=300,
    )

    assert run.rc == 0, run.explain()
    launched, again = run.task("builder")["result"], run.task("again")["result"]
    assert [action["action"] for action in launched["actions"]] == [
        "launch_builder",
        "create_network_security_group",
        "create_ssh_key",
    ]
    assert launched["builder"]["vm_size"] == "Standard_B2s" and launched["connection"]["user"] == "azureuser"
    assert launched["connection"]["host"].startswith("203.0.113.")
    assert launched["api_calls"]["PUT Microsoft.Compute/virtualMachines"] == 1
    assert again["changed"] is False and again["builder"]["id"] == launched["builder"]["id"]
    assert run.task("stop")["result"]["builder"]["state"] == "stopped"
    removed = run.task("absent")["result"]
    assert [action["action"] for action in removed["actions"]] == [
        "terminate_builder",
        "delete_network_security_group",
        "delete_ssh_key",
    ]
    reaped = run.task("reap")["result"]
    assert [builder["name"] for builder in reaped["reaped"]] == ["bake-2"]
    assert leftovers(azure, network, bake_dir) == NOTHING_LEFT


def golden_versions(azure):
    """The image versions of every definition but the base's, by id."""
    compute = azure.compute()
    return sorted(
        version.id
        for definition in compute.gallery_images.list_by_gallery(RESOURCE_GROUP, GALLERY)
        if definition.name != "debian-base"
        for version in compute.gallery_image_versions.list_by_gallery_image(RESOURCE_GROUP, GALLERY, definition.name)
    )


def test_a_failing_test_publishes_nothing_and_leaves_no_builder(azure, network, playbook, bake_dir, base_image):
    run = playbook([bake_task(bake_dir, base_image, bake_test_tasks=str(bake_dir / "tests-fail.yml"))], timeout=300)

    assert run.rc != 0
    assert "smoke test failed" in run.stdout + run.stderr
    assert golden_versions(azure) == []
    assert leftovers(azure, network, bake_dir) == NOTHING_LEFT


def test_a_failure_after_imaging_deletes_the_unsigned_version(azure, network, playbook, bake_dir, base_image):
    # The first change of a new version's tags is its signature's: the version exists by then, unsigned.
    azure.emu.inject_fault("GalleryImageVersions_Update", status=403, times=1, retry_after=None)

    run = playbook([bake_task(bake_dir, base_image)], timeout=300)

    assert run.rc != 0
    assert azure.emu.calls["GalleryImageVersions_Delete"] == 1
    assert golden_versions(azure) == []
    assert leftovers(azure, network, bake_dir) == NOTHING_LEFT
