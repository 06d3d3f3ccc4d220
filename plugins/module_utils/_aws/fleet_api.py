# Private to this collection.
"""One small method per AWS call a rollout makes (Auto Scaling, EC2 launch templates, ELBv2, CloudWatch).

Each goes through the shared retry policy and error translation of ``AwsApi._call``; nothing here
interprets results beyond unwrapping pages.
"""

from __future__ import annotations

from .._core.errors import PhoenixError
from .api import GROUP_PAGE, AwsApi, _camel
from .errors import error_code, is_transient, to_phoenix

GROUP_RESOURCE_TYPE = "auto-scaling-group"


class FleetApi(AwsApi):
    def _marker_pages(self, service, operation, key, resource=None, **kwargs):
        """Pages of the services that page with Marker/NextMarker (ELBv2)."""
        items = []
        while True:
            page = self._call(service, operation, resource=resource, **kwargs)
            items.extend(page.get(key, []))
            if not page.get("NextMarker"):
                return items
            kwargs["Marker"] = page["NextMarker"]

    def _create(self, service, operation, find, resource=None, exists_codes=(), **kwargs):
        """A create that is safe to retry after a lost answer (applied by the cloud, its answer lost).

        Before each retry ``find()`` looks for what an earlier attempt made (by the name or the marker
        the create gives it) and returns it, in the create's answer shape, instead of creating it again.
        An error in ``exists_codes`` (the name is taken) after a lost answer is answered by ``find()`` too.
        """
        method = getattr(self._client(service), operation)
        attempts = []

        def attempt():
            if attempts:
                found = find()
                if found is not None:
                    return found
            attempts.append(operation)
            return method(**kwargs)

        try:
            return self.connection.retry_policy.run(attempt, is_transient)
        except Exception as error:
            if exists_codes and error_code(error) in exists_codes:
                found = find()
                if found is not None:
                    return found
            translated = to_phoenix(error, _camel(operation), self.region, resource)
            if translated is None:
                raise
            raise translated from None

    # -- Auto Scaling ----------------------------------------------------------------------------

    def describe_groups(self, names=None):
        # MaxRecords: AWS's cap (100) rather than its default (50), with names too (it also lifts the 50-name cap).
        kwargs = {"AutoScalingGroupNames": list(names)} if names else {}
        kwargs["MaxRecords"] = GROUP_PAGE
        return self._pages(
            "autoscaling", "describe_auto_scaling_groups", "AutoScalingGroups", resource=_join(names), **kwargs
        )

    def create_group(self, name, template_id, version, subnets, tags, target_groups=()):
        kwargs = {"TargetGroupARNs": list(target_groups)} if target_groups else {}
        self._call(
            "autoscaling",
            "create_auto_scaling_group",
            resource=name,
            AutoScalingGroupName=name,
            LaunchTemplate={"LaunchTemplateId": template_id, "Version": str(version)},
            MinSize=0,
            MaxSize=0,
            DesiredCapacity=0,
            VPCZoneIdentifier=",".join(subnets),
            Tags=_group_tags(name, tags),
            **kwargs,
        )

    def update_group(self, name, template=None, size=None):
        kwargs = {}
        if template is not None:
            kwargs["LaunchTemplate"] = {"LaunchTemplateId": template[0], "Version": str(template[1])}
        if size is not None:
            kwargs.update(MinSize=size, MaxSize=size, DesiredCapacity=size)
        self._call(
            "autoscaling",
            "update_auto_scaling_group",
            resource=name,
            retry_not_found=True,
            AutoScalingGroupName=name,
            **kwargs,
        )

    def attach_target_groups(self, name, target_group_arns):
        self._call(
            "autoscaling",
            "attach_load_balancer_target_groups",
            resource=name,
            AutoScalingGroupName=name,
            TargetGroupARNs=list(target_group_arns),
        )

    def detach_target_groups(self, name, target_group_arns):
        self._call(
            "autoscaling",
            "detach_load_balancer_target_groups",
            resource=name,
            AutoScalingGroupName=name,
            TargetGroupARNs=list(target_group_arns),
        )

    def create_or_update_group_tags(self, name, tags):
        self._call("autoscaling", "create_or_update_tags", resource=name, Tags=_group_tags(name, tags))

    def delete_group_tags(self, name, keys):
        tags = [{"ResourceId": name, "ResourceType": GROUP_RESOURCE_TYPE, "Key": key} for key in keys]
        self._call("autoscaling", "delete_tags", resource=name, Tags=tags)

    def delete_group(self, name):
        self._call(
            "autoscaling", "delete_auto_scaling_group", resource=name, AutoScalingGroupName=name, ForceDelete=True
        )

    # -- EC2 launch templates ----------------------------------------------------------------------

    def describe_versions(self, template_id=None, versions=None, name=None):
        """Versions of the template with this id or, with ``name``, this name (each carries the template's id)."""
        kwargs = {"Versions": [str(v) for v in versions]} if versions else {"MaxResults": 200}
        kwargs.update({"LaunchTemplateName": name} if name else {"LaunchTemplateId": template_id})
        return self._pages(
            "ec2",
            "describe_launch_template_versions",
            "LaunchTemplateVersions",
            resource=name or template_id,
            **kwargs,
        )

    def create_version(self, template_id, data, description, token=None):
        """A new version; ``description`` is the caller's unique marker, ``token`` the API's client token."""

        def find():
            found = [v for v in self.describe_versions(template_id) if v.get("VersionDescription") == description]
            return {"LaunchTemplateVersion": found[0]} if found else None

        kwargs = {"ClientToken": token} if token else {}
        return self._create(
            "ec2",
            "create_launch_template_version",
            find,
            resource=template_id,
            LaunchTemplateId=template_id,
            LaunchTemplateData=data,
            VersionDescription=description,
            **kwargs,
        )["LaunchTemplateVersion"]

    def delete_versions(self, template_id, versions):
        return self._call(
            "ec2",
            "delete_launch_template_versions",
            resource=template_id,
            LaunchTemplateId=template_id,
            Versions=[str(v) for v in versions],
        )

    # -- ELBv2 -------------------------------------------------------------------------------------

    def describe_listener(self, listener_arn):
        return self._call("elbv2", "describe_listeners", resource=listener_arn, ListenerArns=[listener_arn])[
            "Listeners"
        ][0]

    def modify_listener_actions(self, listener_arn, actions):
        self._call("elbv2", "modify_listener", resource=listener_arn, ListenerArn=listener_arn, DefaultActions=actions)

    def describe_target_groups(self, arns=None, names=None):
        kwargs = {}
        if arns:
            kwargs["TargetGroupArns"] = list(arns)
        if names:
            kwargs["Names"] = list(names)
        return self._marker_pages("elbv2", "describe_target_groups", "TargetGroups", _join(arns or names), **kwargs)

    def create_target_group(self, **kwargs):
        """A new target group; its name is unique in the account and region, so a retry finds it by name."""
        name = kwargs.get("Name")

        def find():
            try:
                found = self.describe_target_groups(names=[name])
            except PhoenixError as error:
                if error.code == "TargetGroupNotFound":
                    return None
                raise
            return {"TargetGroups": found} if found else None

        return self._create(
            "elbv2", "create_target_group", find, resource=name, exists_codes=("DuplicateTargetGroupName",), **kwargs
        )["TargetGroups"][0]

    def delete_target_group(self, arn):
        self._call("elbv2", "delete_target_group", resource=arn, TargetGroupArn=arn)

    def describe_target_health(self, arn):
        return self._call("elbv2", "describe_target_health", resource=arn, TargetGroupArn=arn)[
            "TargetHealthDescriptions"
        ]

    # -- CloudWatch --------------------------------------------------------------------------------

    def describe_alarms(self, names):
        response = self._call("cloudwatch", "describe_alarms", resource=_join(names), AlarmNames=list(names))
        return response.get("MetricAlarms", []) + response.get("CompositeAlarms", [])


def _group_tags(name, tags):
    return [
        {
            "ResourceId": name,
            "ResourceType": GROUP_RESOURCE_TYPE,
            "Key": key,
            "Value": value,
            "PropagateAtLaunch": False,
        }
        for key, value in sorted(tags.items())
    ]


def _join(values):
    return ", ".join(values) if values else None
