# Private to this collection.
"""One small method per AWS call a drift scan makes: instances and images read in pages, replacements.

Each goes through the shared retry policy and error translation of ``AwsApi._call``. The reads are
generators: a page is handed on as it arrives, so a scan holds one page of AWS's answer at a time, not all
of them. What a scan costs (AWS's page caps):

- ``ec2:DescribeInstances``: one call per page of at most 1,000 instances (``MaxResults``), per block of
  200 subnets (one filter takes at most 200 values);
- ``ec2:DescribeImages``: one call per 200 distinct images (an ``image-id`` filter of at most 200 values,
  so never more than one page of 1,000);
- ``autoscaling:DescribeAutoScalingGroups`` (the group backend): one call per page of at most 100 groups,
  AWS's cap for ``MaxRecords``.
"""

from __future__ import annotations

from .api import INSTANCE_PAGE, AwsApi

# EC2 accepts at most 200 values in one filter.
FILTER_VALUES = 200
# Instances being terminated (shutting-down) are on their way out: not drift.
SCANNED_STATES = ["pending", "running", "stopping", "stopped"]
# AWS's range for DescribeInstances' MaxResults.
MIN_PAGE, MAX_PAGE = 5, 1000


def chunks(values, size=FILTER_VALUES):
    values = list(values)
    return [values[start : start + size] for start in range(0, len(values), size)]


class DriftApi(AwsApi):
    def __init__(self, connection, region, instance_page=INSTANCE_PAGE):
        super().__init__(connection, region)
        if not MIN_PAGE <= instance_page <= MAX_PAGE:
            raise ValueError("instance_page must be %d to %d, not %r" % (MIN_PAGE, MAX_PAGE, instance_page))
        self.instance_page = instance_page

    def _stream(self, service, operation, key, resource=None, **kwargs):
        """The items under ``key``, a page (one retried call) at a time; only the current page is held."""
        while True:
            page = self._call(service, operation, resource=resource, **kwargs)
            yield from page.get(key, [])
            token = page.get("NextToken")
            if not token:
                return
            kwargs["NextToken"] = token

    def live_instances(self, subnets=None, tags=None):
        """Live instances in any of ``subnets`` with every tag of ``tags``, as they arrive page by page."""
        base = [{"Name": "instance-state-name", "Values": list(SCANNED_STATES)}]
        for key, value in sorted((tags or {}).items()):
            base.append({"Name": "tag:%s" % key, "Values": [str(value)]})
        for part in chunks(subnets) if subnets else [None]:
            filters = base + ([{"Name": "subnet-id", "Values": part}] if part else [])
            for reservation in self._stream(
                "ec2", "describe_instances", "Reservations", Filters=filters, MaxResults=self.instance_page
            ):
                yield from reservation.get("Instances", [])

    def images_by_id(self, image_ids):
        """AMIs of these ids, 200 ids a call; a filter, not ImageIds, so an id the cloud no longer has is left
        out, not an error that fails the other 199. Deprecated images another account shares are included."""
        for part in chunks(sorted(set(image_ids))):
            yield from self._stream(
                "ec2",
                "describe_images",
                "Images",
                Filters=[{"Name": "image-id", "Values": part}],
                IncludeDeprecated=True,
                MaxResults=MAX_PAGE,
            )

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
