# Private to this collection.
"""One small method per AWS call a drift scan makes: instances and images read in pages, replacements.

Each goes through the shared retry policy and error translation of ``AwsApi._call``.
"""

from __future__ import annotations

from .api import IMAGE_PAGE, INSTANCE_PAGE, AwsApi

# DescribeInstances and DescribeImages return at most 1,000 per page; EC2 accepts at most 200 values in
# one filter.
FILTER_VALUES = 200
# Instances being terminated (shutting-down) are on their way out: not drift.
SCANNED_STATES = ["pending", "running", "stopping", "stopped"]


def chunks(values, size=FILTER_VALUES):
    values = list(values)
    return [values[start : start + size] for start in range(0, len(values), size)]


class DriftApi(AwsApi):
    def live_instances(self, subnets=None, tags=None):
        """Live instances in any of ``subnets`` with every tag of ``tags``: one call per page (per 200 subnets)."""
        base = [{"Name": "instance-state-name", "Values": list(SCANNED_STATES)}]
        for key, value in sorted((tags or {}).items()):
            base.append({"Name": "tag:%s" % key, "Values": [str(value)]})
        found = []
        for part in chunks(subnets) if subnets else [None]:
            filters = base + ([{"Name": "subnet-id", "Values": part}] if part else [])
            reservations = self._pages(
                "ec2", "describe_instances", "Reservations", Filters=filters, MaxResults=INSTANCE_PAGE
            )
            found.extend(instance for reservation in reservations for instance in reservation.get("Instances", []))
        return found

    def images_by_id(self, image_ids):
        """AMIs of these ids; a filter, not ImageIds, so an id the cloud no longer has is left out, not an error."""
        found = []
        for part in chunks(sorted(set(image_ids))):
            found.extend(
                self._pages(
                    "ec2",
                    "describe_images",
                    "Images",
                    Filters=[{"Name": "image-id", "Values": part}],
                    MaxResults=IMAGE_PAGE,
                )
            )
        return found

    def terminate_in_group(self, instance_id):
        self._call(
            "autoscaling",
            "terminate_instance_in_auto_scaling_group",
            resource=instance_id,
            InstanceId=instance_id,
            ShouldDecrementDesiredCapacity=False,
        )

    def group_instances(self, instance_ids):
        """The Auto Scaling view of these instances: those no group holds are left out."""
        return self._call(
            "autoscaling",
            "describe_auto_scaling_instances",
            resource=", ".join(instance_ids),
            InstanceIds=list(instance_ids),
        ).get("AutoScalingInstances", [])

    def terminate_instances(self, instance_ids):
        for part in chunks(instance_ids, 1000):
            self._call("ec2", "terminate_instances", resource=", ".join(part), InstanceIds=part)
