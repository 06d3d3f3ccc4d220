# Private to this collection.
"""Auto Scaling groups and launch template versions behind the cloud-neutral GroupBackend."""

from __future__ import annotations

import hashlib

from .._core.backends import GroupBackend
from .._core.errors import InvalidInput, PhoenixError
from .fleet_api import FleetApi
from .fleet_transformations import group_from_asg, version_from_aws
from .codec import AWS_CODEC, AWS_TAG_LIMITS

GONE_VERSION_CODES = ("launchTemplateVersionDoesNotExist", "InvalidLaunchTemplateVersion.NotFound")


class AwsGroupBackend(GroupBackend):
    cloud = "aws"
    tag_limits = AWS_TAG_LIMITS
    codec = AWS_CODEC

    def __init__(self, connection, region=None):
        self.connection = connection
        self.region = region or connection.region
        self.api = FleetApi(connection, self.region)
        self._template_ids = {}

    def groups(self):
        return [group_from_asg(asg) for asg in self.api.describe_groups()]

    def get(self, name):
        found = self.api.describe_groups([name])
        return group_from_asg(found[0]) if found else None

    def create_empty(self, name, template, subnets, tags):
        try:
            self.api.create_group(name, template[0], template[1], subnets, tags)
        except PhoenixError as error:
            if error.code == "AlreadyExists":
                return False
            raise
        return True

    def _template_id(self, template):
        if template.startswith("lt-"):
            return template
        if template not in self._template_ids:
            try:
                found = self.api.describe_launch_templates(template)
            except PhoenixError as error:
                if "NotFound" in (error.code or ""):
                    found = []
                else:
                    raise
            if not found:
                raise InvalidInput(
                    "launch template %r does not exist in %s" % (template, self.region),
                    resource=template,
                    hint="Give the id (lt-...) or name of the base template the service's groups launch from.",
                )
            self._template_ids[template] = found[0]["LaunchTemplateId"]
        return self._template_ids[template]

    def template_version(self, template, version=None):
        template_id = self._template_id(template)
        try:
            [found] = self.api.describe_versions(template_id, [version or "$Default"])
        except PhoenixError as error:
            if "NotFound" in (error.code or "") and version is None:
                raise InvalidInput(
                    "launch template %r does not exist in %s" % (template, self.region), resource=template
                ) from None
            raise
        return version_from_aws(found)

    def template_versions(self, template):
        return [version_from_aws(version) for version in self.api.describe_versions(self._template_id(template))]

    def create_template_version(self, base, image_id, description):
        """``description`` is unique to the rollout: it is the version's marker and, hashed, its client token."""
        template_id = self._template_id(base)
        [default] = self.api.describe_versions(template_id, ["$Default"])
        # The whole data of the base version with only the image changed (moto's SourceVersion does not merge).
        data = dict(default.get("LaunchTemplateData") or {})
        data["ImageId"] = image_id
        token = hashlib.sha256(description.encode("utf-8")).hexdigest()
        return version_from_aws(self.api.create_version(template_id, data, description, token=token))

    def delete_template_version(self, template_id, version):
        response = self.api.delete_versions(template_id, [version])
        for failure in response.get("UnsuccessfullyDeletedLaunchTemplateVersions") or []:
            error = failure.get("ResponseError") or {}
            if error.get("Code") not in GONE_VERSION_CODES:
                raise PhoenixError(
                    "cannot delete version %s of launch template %s in %s: %s"
                    % (version, template_id, self.region, error.get("Message") or error.get("Code")),
                    resource=template_id,
                    code=error.get("Code"),
                    cloud="aws",
                )

    def launch(self, name, template, target, size):
        group = self.get(name)
        if group is not None and target not in group.targets:
            self.api.attach_target_groups(name, [target])
        self.api.update_group(name, template=template, size=size)

    def resize(self, name, size):
        self.api.update_group(name, size=size)

    def set_tags(self, name, tags):
        self.api.create_or_update_group_tags(name, tags)

    def remove_tags(self, name, keys):
        if keys:
            self.api.delete_group_tags(name, keys)

    def delete(self, name):
        try:
            self.api.delete_group(name)
        except PhoenixError as error:
            if error.code == "ValidationError" and "not found" in error.message.lower():
                return
            raise

    def api_calls(self):
        return self.connection.api_calls()
