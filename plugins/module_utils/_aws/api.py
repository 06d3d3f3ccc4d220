# Private to this collection.
"""One small method per AWS API call, each through the shared retry policy and error translation.

Nothing here interprets results beyond unwrapping pages; ``transformations`` turns them into the model.
"""

from __future__ import annotations

from .errors import is_transient, to_phoenix

# Instances in these states still hold on to their image (a stopped one can start again).
LIVE_INSTANCE_STATES = ["pending", "running", "shutting-down", "stopping", "stopped"]
# Page sizes: the largest each API accepts, so a large account is read in few calls, each well inside the
# read timeout. EC2 refuses MaxResults together with explicit ids (InstanceIds, ImageIds).
INSTANCE_PAGE = 1000
IMAGE_PAGE = 1000
GROUP_PAGE = 100


class AwsApi:
    def __init__(self, connection, region):
        self.connection = connection
        self.region = region

    def _client(self, service):
        return self.connection.client(service, self.region)

    def _call(self, service, operation, resource=None, retry_not_found=False, **kwargs):
        method = getattr(self._client(service), operation)

        def attempt():
            return method(**kwargs)

        try:
            return self.connection.retry_policy.run(
                attempt, lambda error: is_transient(error, retry_not_found=retry_not_found)
            )
        except Exception as error:
            translated = to_phoenix(error, _camel(operation), self.region, resource)
            if translated is None:
                raise
            raise translated from None

    def _pages(self, service, operation, key, resource=None, **kwargs):
        """Every item under ``key`` across all pages; each page is one retried call."""
        items = []
        token_in, token_out = "NextToken", "NextToken"
        while True:
            page = self._call(service, operation, resource=resource, **kwargs)
            items.extend(page.get(key, []))
            token = page.get(token_out)
            if not token:
                return items
            kwargs[token_in] = token

    # -- EC2: images -----------------------------------------------------------------------------

    def describe_images(self, image_ids=None, owners=None, filters=None, retry_not_found=False):
        kwargs = {}
        if image_ids:
            kwargs["ImageIds"] = list(image_ids)
        if owners:
            kwargs["Owners"] = list(owners)
        if filters:
            kwargs["Filters"] = filters
        if not image_ids:
            kwargs["MaxResults"] = IMAGE_PAGE
        resource = ", ".join(image_ids) if image_ids else None
        return self._pages(
            "ec2", "describe_images", "Images", resource=resource, retry_not_found=retry_not_found, **kwargs
        )

    def create_image(self, instance_id, name, description, no_reboot, tags):
        response = self._call(
            "ec2",
            "create_image",
            resource=instance_id,
            InstanceId=instance_id,
            Name=name,
            Description=description,
            NoReboot=no_reboot,
            TagSpecifications=[{"ResourceType": "image", "Tags": _tag_list(tags)}],
        )
        return response["ImageId"]

    def copy_image(self, source_image_id, source_region, name, description, tags, client_token):
        # The client token makes a retry after a lost answer return the same copy, not a second one;
        # the tags are written with the copy, so no copy exists untagged.
        response = self._call(
            "ec2",
            "copy_image",
            resource=source_image_id,
            SourceImageId=source_image_id,
            SourceRegion=source_region,
            Name=name,
            Description=description,
            ClientToken=client_token,
            TagSpecifications=[{"ResourceType": "image", "Tags": _tag_list(tags)}],
        )
        return response["ImageId"]

    def create_tags(self, resource_ids, tags, retry_not_found=False):
        self._call(
            "ec2",
            "create_tags",
            resource=", ".join(resource_ids),
            retry_not_found=retry_not_found,
            Resources=list(resource_ids),
            Tags=_tag_list(tags),
        )

    def delete_tags(self, resource_ids, keys):
        self._call(
            "ec2",
            "delete_tags",
            resource=", ".join(resource_ids),
            Resources=list(resource_ids),
            Tags=[{"Key": key} for key in keys],
        )

    def deregister_image(self, image_id):
        self._call("ec2", "deregister_image", resource=image_id, ImageId=image_id)

    def delete_snapshot(self, snapshot_id):
        self._call("ec2", "delete_snapshot", resource=snapshot_id, SnapshotId=snapshot_id)

    def enable_image_deprecation(self, image_id, deprecate_at):
        self._call("ec2", "enable_image_deprecation", resource=image_id, ImageId=image_id, DeprecateAt=deprecate_at)

    def disable_image_deprecation(self, image_id):
        self._call("ec2", "disable_image_deprecation", resource=image_id, ImageId=image_id)

    def describe_regions(self):
        return self._call("ec2", "describe_regions")["Regions"]

    # -- EC2: what uses an image -----------------------------------------------------------------

    def describe_instances(self, instance_ids=None, filters=None):
        kwargs = {"InstanceIds": list(instance_ids)} if instance_ids else {"MaxResults": INSTANCE_PAGE}
        if filters:
            kwargs["Filters"] = filters
        reservations = self._pages(
            "ec2",
            "describe_instances",
            "Reservations",
            resource=", ".join(instance_ids) if instance_ids else None,
            **kwargs,
        )
        return [instance for reservation in reservations for instance in reservation.get("Instances", [])]

    def stop_instance(self, instance_id):
        """Stop it; returns its state name as StopInstances answered (``stopping``, ``stopped``)."""
        response = self._call("ec2", "stop_instances", resource=instance_id, InstanceIds=[instance_id])
        return _current_state(response.get("StoppingInstances"))

    def instances_launched_from(self, image_id):
        return self.describe_instances(
            filters=[
                {"Name": "image-id", "Values": [image_id]},
                {"Name": "instance-state-name", "Values": LIVE_INSTANCE_STATES},
            ]
        )

    def template_versions_launching(self, image_id):
        """Default and latest versions of every launch template that launch this image, in one call."""
        return self._pages(
            "ec2",
            "describe_launch_template_versions",
            "LaunchTemplateVersions",
            Versions=["$Latest", "$Default"],
            Filters=[{"Name": "image-id", "Values": [image_id]}],
        )

    def describe_template_versions(self, template_id, versions):
        return self._pages(
            "ec2",
            "describe_launch_template_versions",
            "LaunchTemplateVersions",
            resource=template_id,
            LaunchTemplateId=template_id,
            Versions=list(versions),
        )

    # -- Auto Scaling ----------------------------------------------------------------------------

    def describe_auto_scaling_groups(self):
        return self._pages("autoscaling", "describe_auto_scaling_groups", "AutoScalingGroups", MaxRecords=GROUP_PAGE)

    def describe_launch_configurations(self):
        return self._pages(
            "autoscaling", "describe_launch_configurations", "LaunchConfigurations", MaxRecords=GROUP_PAGE
        )


def _tag_list(tags):
    return [{"Key": key, "Value": value} for key, value in sorted(tags.items())]


def _current_state(changes):
    """The state name in a Start/Stop/TerminateInstances answer for one instance ("" if it names none)."""
    return ((changes or [{}])[0].get("CurrentState") or {}).get("Name", "")


def _camel(operation):
    return "".join(part.capitalize() for part in operation.split("_"))
