"""fleet_drift never takes over another service: instances of another service's group (tag
`phoenix:service`) in the same subnets are not "unmanaged" to a scan of this service, and are never
terminated or replaced by it."""

from __future__ import annotations

from emulators.drift import adopt
from emulators.fleet import seed_service


def test_a_scan_of_one_service_leaves_another_service_instances_alone(aws, playbook, service):
    other = seed_service(aws.client, aws.seed.base_image_id, aws.seed.subnet_ids, aws.seed.vpc_id, service="other")
    adopt(aws, service)
    adopt(aws, other)
    autoscaling = aws.client("autoscaling")
    [group] = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[other.group_name])["AutoScalingGroups"]
    theirs = sorted(instance["InstanceId"] for instance in group["Instances"])
    assert theirs and set(other.subnet_ids) == set(service.subnet_ids)  # one network, two services

    task = {"service": "web", "remediate": "replace", "terminate_unmanaged": True, "health_interval": 0.2}
    run = playbook([{"name": "drift", "phoenix.immutable.fleet_drift": task}])
    assert run.rc == 0, run.explain()
    result = run.task("drift")["result"]
    scanned = {entry["id"] for entry in result["instances"]}
    assert not scanned & set(theirs), "the scan of web judged other's instances"
    assert not set(result["terminated_unmanaged"]) & set(theirs)
    assert not set(result["replaced"]) & set(theirs)
    states = {
        instance["InstanceId"]: instance["State"]["Name"]
        for reservation in aws.client("ec2").describe_instances(InstanceIds=theirs)["Reservations"]
        for instance in reservation["Instances"]
    }
    assert states == dict.fromkeys(theirs, "running")
