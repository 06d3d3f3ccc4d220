# Private to this collection.
"""Auto Scaling groups and the launch template versions they launch, behind the cloud-neutral GroupBackend.

A launch is ``<launch template id>:<version>``: a new version of the service's launch template (the base)
with only the image changed, marked with the rollout's id in its description.
"""

from __future__ import annotations

import hashlib

from .._core.backends import GroupBackend
from .._core.errors import InvalidInput, PhoenixError
from .codec import AWS_CODEC, AWS_TAG_LIMITS
from .fleet_api import FleetApi
from .fleet_transformations import group_from_asg, launch_ref, parse_launch

GONE_VERSION_CODES = ("launchTemplateVersionDoesNotExist", "InvalidLaunchTemplateVersion.NotFound")
MISSING_TEMPLATE_CODES = (
    "InvalidLaunchTemplateId.NotFound",
    "InvalidLaunchTemplateName.NotFoundException",
    "InvalidLaunchTemplateId.Malformed",
    "InvalidLaunchTemplateId.VersionNotFound",
)
# Application Load Balancer target group names allow 32 characters: <service>-a leaves 30 for the service.
MAX_SERVICE_NAME = 30


def launch_marker(rollout_id, image_id):
    """The description of the version made for a rollout: how a retry finds it."""
    return "phoenix rollout %s: image %s" % (rollout_id, image_id)


def check_service_name(service):
    service = service or ""
    if (
        not (0 < len(service) <= MAX_SERVICE_NAME)
        or not all(ch.isalnum() or ch == "-" for ch in service)
        or service[0] == "-"
    ):
        raise InvalidInput(
            "service %r must be 1 to %d letters, digits or hyphens, not starting with a hyphen"
            % (service, MAX_SERVICE_NAME),
            resource=service,
            hint="Group and target names are <service>-a / <service>-b and load balancers allow 32 characters.",
        )


class AwsGroupBackend(GroupBackend):
    cloud = "aws"
    tag_limits = AWS_TAG_LIMITS
    codec = AWS_CODEC

    def __init__(self, connection, region=None):
        self.connection = connection
        self.region = region or connection.region
        self.api = FleetApi(connection, self.region)
        self._template_ids = {}
        self._defaults = {}
        self._images = {}
        self._listings = {}

    def groups(self, with_members=True):
        # DescribeAutoScalingGroups carries each group's instances: nothing to skip.
        return [group_from_asg(asg) for asg in self.api.describe_groups()]

    def get(self, name, with_members=True):
        found = self.api.describe_groups([name])
        return group_from_asg(found[0]) if found else None

    def check_service_name(self, service):
        check_service_name(service)

    # -- the base and its launches -------------------------------------------------------------------

    def _template_id(self, template):
        if template.startswith("lt-"):
            return template
        if template not in self._template_ids:
            # The versions by the template's name, in one call: each carries the template's id.
            try:
                found = self.api.describe_versions(name=template)
            except PhoenixError as error:
                if error.code in MISSING_TEMPLATE_CODES:
                    found = []
                else:
                    raise
            if not found:
                raise self._no_template(template)
            template_id = found[0]["LaunchTemplateId"]
            for version in found:
                self._learn(template_id, version)
            self._listings[template_id] = found
            self._template_ids[template] = template_id
        return self._template_ids[template]

    def _no_template(self, template):
        return InvalidInput(
            "launch template %r does not exist in %s" % (template, self.region),
            resource=template,
            hint="Give the id (lt-...) or name of the base template the service's groups launch from.",
        )

    def _versions(self, template_id, versions=None):
        found = self.api.describe_versions(template_id, versions)
        for version in found:
            self._learn(template_id, version)
        if versions is None:
            self._listings[template_id] = found
        return found

    def _learn(self, template_id, version):
        # Every version names its template: a listing read by id resolves the base given by name too.
        if version.get("LaunchTemplateName"):
            self._template_ids.setdefault(version["LaunchTemplateName"], template_id)
        if version.get("DefaultVersion"):
            self._defaults[template_id] = str(version["VersionNumber"])
        if "LaunchTemplateData" in version:
            self._images[launch_ref(template_id, version["VersionNumber"])] = version["LaunchTemplateData"].get(
                "ImageId"
            )

    def _listing(self, template_id):
        """Every version of the template, read once per task: a rollout adds at most its own to it."""
        if template_id not in self._listings:
            try:
                self._versions(template_id)
            except PhoenixError as error:
                if error.code in MISSING_TEMPLATE_CODES:
                    raise self._no_template(template_id) from None
                raise
        return self._listings[template_id]

    def _default_version(self, template_id):
        if template_id not in self._defaults:
            self._listing(template_id)
            if template_id not in self._defaults:
                raise self._no_template(template_id)
        return self._defaults[template_id]

    def resolve_base(self, base):
        template_id = self._template_id(base)
        self._default_version(template_id)
        return template_id

    def base_launch(self, base):
        template_id = self._template_id(base)
        return launch_ref(template_id, self._default_version(template_id))

    def image_of(self, group):
        if not group.launch:
            return None
        if group.launch not in self._images:
            template_id, version = parse_launch(group.launch)
            if version.startswith("$"):
                [found] = self._versions(template_id, [version])
                return (found.get("LaunchTemplateData") or {}).get("ImageId")
            self._listing(template_id)
        return self._images.get(group.launch)

    @staticmethod
    def _marked(versions, rollout_id):
        prefix = launch_marker(rollout_id, "")
        return sorted(
            (v for v in versions if (v.get("VersionDescription") or "").startswith(prefix)),
            key=lambda v: int(v["VersionNumber"]),
        )

    def prepare_launch(self, base, image_id, rollout_id):
        template_id = self._template_id(base)
        versions = self._listing(template_id)
        found = self._marked(versions, rollout_id)
        if not found:
            description = launch_marker(rollout_id, image_id)
            [default] = [v for v in versions if v.get("DefaultVersion")]
            # The whole data of the base version with only the image changed (moto's SourceVersion does not merge).
            data = dict(default.get("LaunchTemplateData") or {})
            data["ImageId"] = image_id
            token = hashlib.sha256(description.encode("utf-8")).hexdigest()
            # A retry after a lost answer finds the version by its marker first (FleetApi._create): one version.
            made = self.api.create_version(template_id, data, description, token=token)
            made = dict(made, LaunchTemplateData=data)
            self._learn(template_id, made)
            versions.append(made)
            found = [made]
        # Two for one rollout only if an earlier run's create was applied twice: the first one stays.
        for extra in found[1:]:
            self._delete_version(template_id, extra["VersionNumber"])
        return launch_ref(template_id, found[0]["VersionNumber"])

    def prepared_launches(self, base, rollout_id):
        template_id = self._template_id(base)
        # Read afresh: what an earlier run made for this rollout must all be found to be discarded.
        return [
            launch_ref(template_id, v["VersionNumber"])
            for v in self._marked(self._versions(template_id), rollout_id)
            if not v.get("DefaultVersion")
        ]

    def discard_launch(self, launch):
        template_id, version = parse_launch(launch)
        if not template_id or self._default_version(template_id) == str(version):
            return
        self._delete_version(template_id, version)

    def _delete_version(self, template_id, version):
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

    # -- the group -----------------------------------------------------------------------------------

    def launch(self, name, launch, size):
        self.api.update_group(name, template=parse_launch(launch), size=size)

    def resize(self, name, size):
        self.api.update_group(name, size=size)

    def delete(self, name):
        try:
            self.api.delete_group(name)
        except PhoenixError as error:
            # Auto Scaling answers a missing group with a plain ValidationError: whether it is gone is asked,
            # not read from the message.
            if error.code != "ValidationError" or self.get(name) is not None:
                raise

    def api_calls(self):
        return self.connection.api_calls()
