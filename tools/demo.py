"""`make demo`: the golden-image workflow against local emulators, AWS (playbooks/demo.yml), then GCP
(playbooks/demo_gcp.yml), then Azure (playbooks/demo_azure.yml).

    .venv/bin/python tools/demo.py      (from the repository root; `make demo` does this)

Starts moto on 127.0.0.1 in this process, seeds it (a patched base image and a builder instance
running from it), runs playbooks/demo.yml with real ansible-playbook, showing its output as it goes,
then prints a summary: each task's outcome, the images now in the emulated account in both regions,
and the API calls the playbook made, by action. Then the same for GCP on the GCE emulator
(tests/emulators/gce.py, seeded by tools/demo_gcp.py), and for Azure on the ARM emulator with Key Vault and
Blob Storage (tests/emulators/arm.py, keyvault.py, blob.py behind azure_hosts.py; seeded by tools/demo_azure.py).
The three runs write one audit trail, shown at the end with the cloud of each change. Credentials and
endpoints reach the playbooks through the environment, as AWX credentials would provide them; nothing but
127.0.0.1 is contacted.

Exit status: 0 when the three playbooks succeeded, else non-zero.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "tests"))

from emulators.aws import MotoEmulator  # noqa: E402
from emulators.fleet import seed_service, service_table  # noqa: E402
from harness import PlaybookTimeout, collections_root, run_playbook  # noqa: E402
from harness.playbook import CALLBACK_NAME  # noqa: E402

sys.path.insert(0, str(collections_root()))
from demo_azure import run_azure_part  # noqa: E402
from demo_gcp import run_gcp_part  # noqa: E402

from ansible_collections.phoenix.immutable.plugins.module_utils import audit  # noqa: E402

DEMO_PLAYBOOK = REPO_ROOT / "playbooks" / "demo.yml"
GCP_PLAYBOOK = REPO_ROOT / "playbooks" / "demo_gcp.yml"
AZURE_PLAYBOOK = REPO_ROOT / "playbooks" / "demo_azure.yml"
SECOND_REGION = "us-west-2"
TIMEOUT = 900
# The demo's own audit trail: the audit_log callback writes it, the playbook verifies it at its end.
AUDIT_LOG = REPO_ROOT / ".build" / "demo" / "audit.jsonl"
RULE = "-" * 100


def section(title: str) -> None:
    print("\n%s\n%s\n%s" % (RULE, title, RULE))


def outcome(record: dict[str, Any]) -> str:
    status = record["status"] + (" (ignored)" if record["ignore_errors"] else "")
    result = record["result"]
    detail = result.get("summary") or result.get("msg") or ""
    lines = detail if isinstance(detail, list) else str(detail).splitlines() or [""]
    text = "  %-20s %s" % (status, record["task"])
    if len(lines) == 1 and lines[0]:
        return "%s: %s" % (text, lines[0])
    return "\n".join([text] + ["  %-20s   %s" % ("", line) for line in lines if line])


def images_table(emu: MotoEmulator, regions: list[str]) -> list[str]:
    rows = []
    for region in regions:
        images = emu.client("ec2", region).describe_images(Owners=["self"])["Images"]
        if not images:
            rows.append("  %-10s (no images)" % region)
        for image in sorted(images, key=lambda image: (image.get("CreationDate", ""), image.get("Name", ""))):
            deprecation = image.get("DeprecationTime")
            rows.append(
                "  %-10s %-24s %-36s %-10s %2d tags%s"
                % (
                    region,
                    image["ImageId"],
                    image.get("Name", ""),
                    image["State"],
                    len(image.get("Tags", [])),
                    ", deprecated from %s" % deprecation if deprecation else "",
                )
            )
    return rows


def clouds_of(record: dict[str, Any]) -> set[str]:
    return {resource["cloud"] for resource in record.get("resources") or [] if resource.get("cloud")}


def cloud_column(records: list[dict[str, Any]]) -> list[str]:
    """The cloud of each change: of the resources it names, else of its run (a rollout id names no cloud)."""
    of_run: dict[str, set[str]] = {}
    for record in records:
        of_run.setdefault(record.get("run"), set()).update(clouds_of(record))
    return [",".join(sorted(clouds_of(record) or of_run[record.get("run")])) or "-" for record in records]


def audit_table(path: Path) -> list[str]:
    """Verify the audit log again, outside Ansible, and show who changed what, when."""
    if not path.exists():
        return ["  (no audit log: nothing was changed, or the audit_log callback did not run)"]
    found = audit.verify(path)
    records = audit.read_records(path)
    rows = ["  %-24s  %-5s  %-10s  %-52s  %s" % ("when (UTC)", "cloud", "who", "what", "where")]
    for cloud, (when, who, what, where) in zip(cloud_column(records), audit.summary_rows(records), strict=True):
        rows.append("  %-24s  %-5s  %-10s  %-52s  %s" % (when, cloud, who, what, where))
    verdict = "chain intact" if found.valid else "BROKEN at line %s: %s" % (found.line, found.reason)
    rows.append("  %d lines, %s, head %s" % (found.count, verdict, (found.head or "-")[:16]))
    return rows


def main() -> int:
    for playbook in (DEMO_PLAYBOOK, GCP_PLAYBOOK, AZURE_PLAYBOOK):
        if not playbook.is_file():
            print("error: the demo playbook %s is missing; nothing to run" % playbook.relative_to(REPO_ROOT))
            return 2

    emu = MotoEmulator()
    try:
        emu.start()
        emu.reset()
        seed = emu.seed()
        service = seed_service(emu.client, seed.base_image_id, seed.subnet_ids, seed.vpc_id, service="web", size=2)
        section("AWS emulator at %s (account %s)" % (emu.endpoint_url, seed.account_id))
        print("  base image       %s (%s)" % (seed.base_image_id, seed.base_image_name))
        print("                   made from the vendor image %s" % seed.vendor_image_id)
        print("  builder instance %s, running from the base image" % seed.builder_instance_id)
        print("  regions          %s, %s" % (seed.region, SECOND_REGION))
        print("  web service      listener %s," % service.listener_arn)
        print("                   blue group %s: 2 instances of the base image" % service.group_name)
        emu.reset_calls()

        AUDIT_LOG.parent.mkdir(parents=True, exist_ok=True)
        AUDIT_LOG.unlink(missing_ok=True)  # a fresh emulator, a fresh trail

        section("ansible-playbook %s" % DEMO_PLAYBOOK.relative_to(REPO_ROOT))
        sys.stdout.flush()
        try:
            run = run_playbook(
                DEMO_PLAYBOOK,
                env={
                    **emu.env(),
                    # The harness's result callback and the collection's audit trail.
                    "ANSIBLE_CALLBACKS_ENABLED": "%s,phoenix.immutable.audit_log" % CALLBACK_NAME,
                    "PHOENIX_AUDIT_LOG": str(AUDIT_LOG),
                },
                extra_vars={
                    "demo_region": seed.region,
                    "demo_second_region": SECOND_REGION,
                    "demo_builder_instance_id": seed.builder_instance_id,
                    "demo_base_image_id": seed.base_image_id,
                    "demo_base_image_name": seed.base_image_name,
                    "demo_listener_arn": service.listener_arn,
                    "demo_launch_template": service.launch_template_name,
                },
                stream=True,
                timeout=TIMEOUT,
            )
        except PlaybookTimeout as timeout:
            print("\nerror: the demo playbook did not finish within %ss" % TIMEOUT)
            run = timeout.run
        calls = emu.calls

        section("Summary: %d tasks, ansible-playbook exit status %s" % (len(run.tasks), run.rc))
        for record in run.tasks:
            # The playbook's own steps; a role's inner tasks only when they failed.
            if " : " not in record["task"] or record["status"] in ("failed", "unreachable"):
                print(outcome(record))

        section("State of the (emulated) cloud: images owned by account %s" % seed.account_id)
        print("\n".join(images_table(emu, [seed.region, SECOND_REGION])))

        section("The web service's groups")
        print("\n".join(service_table(emu.client, service)))

        section("API calls made by the playbook: %d" % sum(calls.values()))
        for action, count in sorted(calls.items(), key=lambda item: (-item[1], item[0])):
            print("  %5d  %s" % (count, action))

    finally:
        emu.stop()

    audit_env = {
        "ANSIBLE_CALLBACKS_ENABLED": "%s,phoenix.immutable.audit_log" % CALLBACK_NAME,
        "PHOENIX_AUDIT_LOG": str(AUDIT_LOG),
    }
    gcp = run_gcp_part(GCP_PLAYBOOK, AUDIT_LOG.parent, audit_env=audit_env, section=section, timeout=TIMEOUT)
    section("GCP summary: %d tasks, ansible-playbook exit status %s" % (len(gcp.run.tasks), gcp.run.rc))
    for record in gcp.run.tasks:
        if " : " not in record["task"] or record["status"] in ("failed", "unreachable"):
            print(outcome(record))

    section("State of the (emulated) cloud: images of project %s" % gcp.service.project)
    print("\n".join(gcp.tables["images"]))

    section("The web service's managed instance groups and URL map")
    print("\n".join(gcp.tables["groups"]))

    section("API calls made by the GCP playbook: %d" % sum(gcp.calls.values()))
    for action, count in sorted(gcp.calls.items(), key=lambda item: (-item[1], item[0])):
        print("  %5d  %s" % (count, action))

    azure = run_azure_part(AZURE_PLAYBOOK, AUDIT_LOG.parent, audit_env=audit_env, section=section, timeout=TIMEOUT)
    section("Azure summary: %d tasks, ansible-playbook exit status %s" % (len(azure.run.tasks), azure.run.rc))
    for record in azure.run.tasks:
        if " : " not in record["task"] or record["status"] in ("failed", "unreachable"):
            print(outcome(record))

    section("State of the (emulated) cloud: image versions of gallery %s" % azure.service.gallery)
    print("\n".join(azure.tables["images"]))

    section("The web service's scale sets and load balancer pool")
    print("\n".join(azure.tables["groups"]))

    section("API calls made by the Azure playbook: %d" % sum(azure.calls.values()))
    for action, count in sorted(azure.calls.items(), key=lambda item: (-item[1], item[0])):
        print("  %5d  %s" % (count, action))

    section("Audit trail of the three clouds: %s" % AUDIT_LOG.relative_to(REPO_ROOT))
    print("\n".join(audit_table(AUDIT_LOG)))
    print("  the GCP run's lines, put into Cloud Storage by the audit_log callback:")
    print("\n".join(gcp.tables["audit"]))
    print("  the Azure run's lines, put into Blob Storage by the audit_log callback:")
    print("\n".join(azure.tables["audit"]))

    status = 0
    for cloud, rc in (("", run.rc), ("GCP ", gcp.run.rc), ("Azure ", azure.run.rc)):
        if rc != 0:
            print("\nThe %sdemo playbook FAILED (exit status %s)." % (cloud, rc))
            status = status or (rc if rc > 0 else 1)
        else:
            print("\nThe %sdemo playbook succeeded." % cloud)
    return status


if __name__ == "__main__":
    sys.exit(main())
