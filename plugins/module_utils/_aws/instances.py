# Private to this collection.
"""EC2 instances behind the cloud-neutral InstanceBackend a drift scan reads and replaces through."""

from __future__ import annotations

from .._core.backends import InstanceBackend
from .._core.errors import PhoenixError
from .api import INSTANCE_PAGE
from .codec import AWS_CODEC
from .drift_api import DriftApi
from .fleet_transformations import observed_from_instance
from .transformations import image_from_ami

GONE_INSTANCE_CODES = ("InvalidInstanceID.NotFound",)


class AwsInstanceBackend(InstanceBackend):
    cloud = "aws"
    codec = AWS_CODEC

    def __init__(self, connection, region=None, instance_page=INSTANCE_PAGE):
        self.connection = connection
        self.region = region or connection.region
        self.api = DriftApi(connection, self.region, instance_page=instance_page)

    def instances(self, subnets=None, tags=None):
        """Observed instances, each made as its page arrives (the SDK's page is dropped after it)."""
        return (observed_from_instance(instance) for instance in self.api.live_instances(subnets, tags))

    def images(self, image_ids):
        return [image_from_ami(ami, self.region) for ami in self.api.images_by_id(image_ids)]

    def replace_in_group(self, group, instance_id):
        try:
            self.api.terminate_in_group(instance_id)
        except PhoenixError as error:
            # Already gone from the group (terminated meanwhile): the group replaces it on its own. Auto Scaling
            # says so with a plain ValidationError: whether the instance is still in a group is asked.
            if error.code in GONE_INSTANCE_CODES:
                return
            if error.code == "ValidationError" and not self.api.group_instances([instance_id]):
                return
            raise

    def terminate(self, instance_ids):
        self.api.terminate_instances(instance_ids)

    def api_calls(self):
        return self.connection.api_calls()
