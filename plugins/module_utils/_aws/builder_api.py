# Private to this collection.
"""The EC2 calls a builder needs, one small method each, through the shared retry policy (see api.py)."""

from __future__ import annotations

from .api import AwsApi, _current_state, _tag_list

BUILDER_INSTANCE_STATES = ["pending", "running", "shutting-down", "stopping", "stopped", "terminated"]


class BuilderApi(AwsApi):
    def describe_subnets(self, subnet_ids=None, filters=None):
        kwargs = {}
        if subnet_ids:
            kwargs["SubnetIds"] = list(subnet_ids)
        if filters:
            kwargs["Filters"] = filters
        return self._pages("ec2", "describe_subnets", "Subnets", resource=", ".join(subnet_ids or []) or None, **kwargs)

    def instances_tagged(self, key, value=None):
        return self.describe_instances(
            filters=[
                {"Name": "tag-key" if value is None else "tag:%s" % key, "Values": [key if value is None else value]},
                {"Name": "instance-state-name", "Values": BUILDER_INSTANCE_STATES},
            ]
        )

    def instance_status_ok(self, instance_id):
        statuses = self._call(
            "ec2", "describe_instance_status", resource=instance_id, retry_not_found=True, InstanceIds=[instance_id]
        ).get("InstanceStatuses", [])
        return any(
            status.get("InstanceStatus", {}).get("Status") in ("ok", "not-applicable")
            and status.get("SystemStatus", {}).get("Status") in ("ok", "not-applicable")
            for status in statuses
        )

    def run_instance(
        self, image_id, instance_type, subnet_id, security_group_ids, key_name, public_address, tags, client_token
    ):
        interface = {
            "DeviceIndex": 0,
            "SubnetId": subnet_id,
            "Groups": list(security_group_ids),
            "AssociatePublicIpAddress": bool(public_address),
        }
        kwargs = dict(
            ImageId=image_id,
            InstanceType=instance_type,
            MinCount=1,
            MaxCount=1,
            # Every attempt of this launch carries the same token: a retry after a lost answer gets the
            # instance the first attempt started, not a second one.
            ClientToken=client_token,
            NetworkInterfaces=[interface],
            TagSpecifications=[
                {"ResourceType": "instance", "Tags": _tag_list(tags)},
                {"ResourceType": "volume", "Tags": _tag_list(tags)},
            ],
        )
        if key_name:
            kwargs["KeyName"] = key_name
        return self._call("ec2", "run_instances", resource=image_id, **kwargs)["Instances"][0]

    def terminate_instance(self, instance_id):
        """Terminate it; returns its state name as TerminateInstances answered (``shutting-down``, ``terminated``)."""
        response = self._call("ec2", "terminate_instances", resource=instance_id, InstanceIds=[instance_id])
        return _current_state(response.get("TerminatingInstances"))

    def create_security_group(self, name, description, vpc_id, tags):
        return self._call(
            "ec2",
            "create_security_group",
            resource=name,
            GroupName=name,
            Description=description,
            VpcId=vpc_id,
            TagSpecifications=[{"ResourceType": "security-group", "Tags": _tag_list(tags)}],
        )["GroupId"]

    def allow_ssh(self, group_id, cidrs):
        self._call(
            "ec2",
            "authorize_security_group_ingress",
            resource=group_id,
            retry_not_found=True,
            GroupId=group_id,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": 22,
                    "ToPort": 22,
                    "IpRanges": [{"CidrIp": cidr, "Description": "phoenix builder SSH"} for cidr in cidrs],
                }
            ],
        )

    def security_groups_tagged(self, key, value=None):
        return self._pages(
            "ec2",
            "describe_security_groups",
            "SecurityGroups",
            Filters=[
                {"Name": "tag-key" if value is None else "tag:%s" % key, "Values": [key if value is None else value]}
            ],
        )

    def delete_security_group(self, group_id):
        self._call("ec2", "delete_security_group", resource=group_id, GroupId=group_id)

    def create_key_pair(self, name, tags):
        return self._call(
            "ec2",
            "create_key_pair",
            resource=name,
            KeyName=name,
            KeyType="ed25519",
            TagSpecifications=[{"ResourceType": "key-pair", "Tags": _tag_list(tags)}],
        )

    def key_pairs_tagged(self, key, value=None):
        return self._call(
            "ec2",
            "describe_key_pairs",
            Filters=[
                {"Name": "tag-key" if value is None else "tag:%s" % key, "Values": [key if value is None else value]}
            ],
        ).get("KeyPairs", [])

    def delete_key_pair(self, name):
        self._call("ec2", "delete_key_pair", resource=name, KeyName=name)
