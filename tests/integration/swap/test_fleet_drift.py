"""phoenix.immutable.fleet_drift through ansible-playbook against the moto server.

Every drift reason comes from a real case made through boto3: instances launched by hand from an unsigned,
a revoked, an imposter (signature copied from another image) and a deprecated image, a group instance
backdated past max_age_days, and an instance of the wrong image attached to the group. The replacement test
drifts a group of a few hundred instances and checks, by polling moto in a thread while ansible-playbook
runs, that the group never has fewer healthy instances than max_unavailable allows, that it ends compliant,
and that the hand-launched unmanaged instance is untouched until terminate_unmanaged.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import yaml
from emulators.drift import (
    adopt,
    attach_rogue,
    backdate_instance,
    deprecate_past,
    group_health,
    instance_states,
    launch,
)
from emulators.fleet import seed_service

MODULE = "phoenix.immutable.fleet_drift"


def drift_task(title="drift", **options):
    return {"name": title, MODULE: options}


def result_of(run, title="drift"):
    return run.task(title)["result"]


def by_id(result):
    return {entry["id"]: entry for entry in result["instances"]}


def new_image(aws, name, tags=None):
    ec2 = aws.client("ec2")
    image_id = ec2.create_image(InstanceId=aws.seed.builder_instance_id, Name=name)["ImageId"]
    if tags:
        ec2.create_tags(Resources=[image_id], Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
    return image_id


def image_tags(aws, image_id):
    [image] = aws.client("ec2").describe_images(ImageIds=[image_id])["Images"]
    return {tag["Key"]: tag["Value"] for tag in image.get("Tags", [])}


def point_group_at(aws, seed, image_id):
    """What a finished blue_green leaves: a template version of `image_id` the group launches, and its tags."""
    ec2 = aws.client("ec2")
    version = ec2.create_launch_template_version(
        LaunchTemplateId=seed.launch_template_id,
        LaunchTemplateData={"ImageId": image_id, "InstanceType": "t3.micro", "UserData": "IyEvYmluL3NoCg=="},
    )["LaunchTemplateVersion"]["VersionNumber"]
    aws.client("autoscaling").update_auto_scaling_group(
        AutoScalingGroupName=seed.group_name,
        LaunchTemplate={"LaunchTemplateId": seed.launch_template_id, "Version": str(version)},
    )
    adopt(aws, seed, image_id)


@pytest.fixture
def policy_with_revocation(tmp_path, trust):
    """The swap tests' policy (trusting the key that signed golden.second), revoking one more image."""

    def write(revoked):
        document = yaml.safe_load(Path(trust).read_text(encoding="utf-8"))
        document["revoked"] = list(revoked)
        path = tmp_path / "drift-policy.yml"
        path.write_text(yaml.safe_dump(document), encoding="utf-8")
        return str(path)

    return write


def test_each_reason_from_a_real_case(aws, playbook, golden, trust, policy_with_revocation):
    seed = seed_service(aws.client, golden.second, aws.seed.subnet_ids, aws.seed.vpc_id, size=4)
    adopt(aws, seed)
    subnet = seed.subnet_ids[0]
    signature = {k: v for k, v in image_tags(aws, golden.second).items() if k.startswith("phoenix:sig")}
    assert signature, "golden.second carries its signature in tags"
    revoked_image = new_image(aws, "web-revoked", signature)
    imposter_image = new_image(aws, "web-imposter", signature)
    deprecated_image = new_image(aws, "web-deprecated")
    deprecate_past(aws, deprecated_image, days=3)
    policy = policy_with_revocation([revoked_image])

    [unsigned] = launch(aws, golden.first, subnet)
    [revoked] = launch(aws, revoked_image, subnet)
    [imposter] = launch(aws, imposter_image, subnet)
    [deprecated] = launch(aws, deprecated_image, subnet)
    members = group_health(aws, seed.group_name)[2]
    old = members[0]
    backdate_instance(aws, old, days=45)
    rogue = attach_rogue(aws.client, seed.group_name, golden.first, subnet)
    aws.emu.reset_calls()

    run = playbook([drift_task(service="web", policy=policy, max_age_days=30)])
    assert run.rc == 0, run.explain()
    result = result_of(run)
    assert result["changed"] is False and result["replaced"] == []
    found = by_id(result)
    assert set(found[unsigned]["reasons"]) == {"wrong_image", "unsigned_image", "unmanaged"}
    assert set(found[revoked]["reasons"]) == {"wrong_image", "revoked_image", "unmanaged"}
    assert set(found[imposter]["reasons"]) == {"wrong_image", "untrusted_image", "unmanaged"}
    assert "descriptor mismatch" in " ".join(found[imposter]["details"])
    assert set(found[deprecated]["reasons"]) == {"wrong_image", "unsigned_image", "deprecated_image", "unmanaged"}
    assert found[old]["reasons"] == ["over_age"]
    assert set(found[rogue]["reasons"]) == {"wrong_image", "unsigned_image"}
    assert found[rogue]["group"] == seed.group_name and found[rogue]["wanted_image"] == golden.second
    for member in members[1:]:
        assert found[member]["compliant"] is True, found[member]
    # The seed's builder runs in the same subnet: an instance no group of ours launched.
    assert found[aws.seed.builder_instance_id]["reasons"] == ["wrong_image", "unsigned_image", "unmanaged"]
    counts = result["counts"]
    assert counts["compliant"] == 3
    assert counts["unmanaged"] == 5 and counts["over_age"] == 1 and counts["revoked_image"] == 1
    assert counts["untrusted_image"] == 1 and counts["deprecated_image"] == 1 and counts["wrong_image"] == 6
    assert result["images"][revoked_image]["trust_reason"] == "revoked"
    assert result["images"][golden.second]["verified"] is True
    # Report only: nothing was terminated, and the scan cost one page of instances and one read of images.
    assert set(instance_states(aws, [unsigned, revoked, imposter, deprecated, old, rogue]).values()) == {"running"}
    calls = result["api_calls"]
    assert calls["ec2:DescribeInstances"] == 1 and calls["ec2:DescribeImages"] == 1, calls
    assert calls["autoscaling:DescribeAutoScalingGroups"] == 1, calls
    assert not any("Terminate" in call for call in calls), calls


def test_a_bad_input_fails_before_any_call(aws, playbook, service):
    aws.emu.reset_calls()
    run = playbook([drift_task(service="web", max_unavailable="0")])
    assert run.rc != 0
    assert "max_unavailable must be a whole number" in run.task("drift")["result"]["msg"]
    assert not aws.emu.calls
    run = playbook([drift_task(service="nope")])
    assert run.rc != 0
    assert "service 'nope' has no instance group of this collection" in run.task("drift")["result"]["msg"]


def test_replace_keeps_the_group_serving_and_leaves_unmanaged_alone(aws, playbook, golden):
    # Four batches of a quarter each; the scan's paging at scale is bench_drift's and test_drift_pages'.
    size = 40
    batch = size // 4
    seed = seed_service(aws.client, aws.seed.base_image_id, aws.seed.subnet_ids, aws.seed.vpc_id, size=size)
    point_group_at(aws, seed, golden.second)  # every instance now runs a stale image
    [stranger] = launch(aws, golden.first, seed.subnet_ids[1], tags={"team": "someone-else"})

    plan = playbook([drift_task(service="web", remediate="replace", max_unavailable="25%")], check=True)
    assert plan.rc == 0, plan.explain()
    planned = result_of(plan)
    assert planned["changed"] is True and planned["replaced"] == []
    assert [len(planned_batch["instances"]) for planned_batch in planned["batches"]] == [batch] * 4
    # 42 instances and 3 distinct images: one page of each, whatever the count.
    assert planned["api_calls"]["ec2:DescribeInstances"] == 1 and planned["api_calls"]["ec2:DescribeImages"] == 1
    assert group_health(aws, seed.group_name)[1] == size  # check mode changed nothing
    scan_line = "drift: %d instances in 1 group, %d drifted (wrong image %d, unmanaged 2)" % ((size + 2,) * 3)
    assert planned["progress"] == [scan_line]

    lowest, stop = [size], threading.Event()

    def watch():
        while not stop.is_set():
            desired, healthy, _ids = group_health(aws, seed.group_name)
            lowest[0] = min(lowest[0], healthy)
            stop.wait(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        run = playbook([drift_task(service="web", remediate="replace", max_unavailable="25%", health_interval=0.2)])
    finally:
        stop.set()
        watcher.join(timeout=10)
    assert run.rc == 0, run.explain()
    result = result_of(run)
    assert result["changed"] is True
    assert result["counts"]["wrong_image"] == size + 2  # the stranger and the seed's builder run other images too
    assert len(result["replaced"]) == size and stranger not in result["replaced"]
    assert result["unmanaged"] == sorted([stranger, aws.seed.builder_instance_id])
    assert lowest[0] >= size - batch, lowest
    assert instance_states(aws, [stranger])[stranger] == "running"
    # One line for the scan and one per batch, in the task's result and on the controller as they came; a
    # wait that lasted (a loaded machine) may add "waiting" lines between them.
    progress = [line for line in result["progress"] if ", waiting " not in line]
    assert progress[0] == scan_line, result["progress"]
    for number, line in enumerate(progress[1:], start=1):
        assert line.startswith(
            "%s: replace batch %d/4 (%d instances: %s → %s), %d/%d healthy in "
            % (seed.group_name, number, batch, aws.seed.base_image_id, golden.second, size, size)
        ), line
        assert line.endswith(" s") and line in run.stdout
    assert len(progress) == 5, result["progress"]

    again = playbook([drift_task(service="web", remediate="replace", max_unavailable="25%")])
    assert again.rc == 0, again.explain()
    second = result_of(again)
    assert second["changed"] is False and second["batches"] == []
    assert second["progress"] == ["drift: %d instances in 1 group, 2 drifted (wrong image 2, unmanaged 2)" % (size + 2)]
    assert second["counts"]["compliant"] == size
    desired, healthy, ids = group_health(aws, seed.group_name)
    assert desired == healthy == size
    images = set()
    for reservation in aws.client("ec2").describe_instances(InstanceIds=ids)["Reservations"]:
        images.update(instance["ImageId"] for instance in reservation["Instances"])
    assert images == {golden.second}

    last = playbook([drift_task(service="web", remediate="replace", terminate_unmanaged=True)])
    assert last.rc == 0, last.explain()
    final = result_of(last)
    assert sorted(final["terminated_unmanaged"]) == sorted([stranger, aws.seed.builder_instance_id])
    assert instance_states(aws, [stranger])[stranger] in ("shutting-down", "terminated")


def test_the_demo_drift_step_finds_and_replaces_the_rogue(aws, playbook, golden, trust, tmp_path):
    """playbooks/tasks/demo_drift.yml with what the demo gives it: a web service serving a signed image."""
    seed = seed_service(aws.client, golden.second, aws.seed.subnet_ids, aws.seed.vpc_id, size=2)
    adopt(aws, seed)
    run = playbook(
        [
            {
                "name": "facts",
                "ansible.builtin.set_fact": {
                    "demo_region": aws.seed.region,
                    "demo_base_image_id": aws.seed.base_image_id,
                    "demo_policy": trust,
                },
            },
            {
                "name": "drift",
                "ansible.builtin.include_tasks": str(
                    Path(__file__).resolve().parents[3] / "playbooks/tasks/demo_drift.yml"
                ),
            },
        ]
    )
    assert run.rc == 0, run.explain()
    rogue = run.task("Keep the rogue's id")["result"]["ansible_facts"]["demo_rogue_id"]
    assert rogue.startswith("i-")
    assert instance_states(aws, [rogue])[rogue] == "terminated"
    desired, healthy, ids = group_health(aws, seed.group_name)
    assert desired == healthy == 3 and rogue not in ids
    images = set()
    for reservation in aws.client("ec2").describe_instances(InstanceIds=ids)["Reservations"]:
        images.update(instance["ImageId"] for instance in reservation["Instances"])
    assert images == {golden.second}


def test_the_drift_playbook_replaces_and_a_second_run_changes_nothing(aws, playbook, golden):
    """playbooks/drift.yml as a scheduled AWX job runs it: the role, its variables, the environment's endpoint."""
    seed = seed_service(aws.client, golden.second, aws.seed.subnet_ids, aws.seed.vpc_id, size=3)
    adopt(aws, seed)
    old = group_health(aws, seed.group_name)[2][0]
    backdate_instance(aws, old, days=10)
    book = Path(__file__).resolve().parents[3] / "playbooks/drift.yml"
    options = {
        "drift_service": "web",
        "drift_region": aws.seed.region,
        "drift_remediate": "replace",
        "drift_max_age_days": 7,
        "drift_health_interval": 0.2,
    }
    run = playbook(book, extra_vars=options)
    assert run.rc == 0, run.explain()
    result = run.task("phoenix.immutable.drift : Publish the result as drift_result")["result"]["ansible_facts"][
        "drift_result"
    ]
    assert result["replaced"] == [old] and result["counts"]["over_age"] == 1
    assert instance_states(aws, [old])[old] == "terminated"
    again = playbook(book, extra_vars={**options, "drift_fail_on_drift": False})
    assert again.rc == 0, again.explain()
    assert (
        again.task("phoenix.immutable.drift : Replace the drifted instances, a batch at a time")["status"] == "skipped"
    )
    assert again.stats["localhost"]["changed"] == 0
