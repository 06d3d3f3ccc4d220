# Private to this collection.
"""AMIs behind the cloud-neutral ImageBackend interface."""

from __future__ import annotations

import uuid

from .._core import tags as tagging
from .._core.backends import ImageBackend
from .._core.errors import PhoenixError
from .._core.model import PENDING, Image, ImageUser
from .._core.timeutil import format_utc
from .api import AwsApi
from .codec import AWS_CODEC, AWS_TAG_LIMITS
from .transformations import BUILDER_STATES, image_from_ami

ENABLED_OPT_IN = ("opt-in-not-required", "opted-in")
MISSING_IMAGE_CODES = ("InvalidAMIID.NotFound", "InvalidAMIID.Unavailable")
DUPLICATE_NAME_CODE = "InvalidAMIName.Duplicate"
SOURCE_INSTANCE_TAG = AWS_CODEC.key(tagging.SOURCE_INSTANCE)
COPIED_FROM_TAG = AWS_CODEC.key(tagging.COPIED_FROM)


class AwsImageBackend(ImageBackend):
    cloud = "aws"
    tag_limits = AWS_TAG_LIMITS
    codec = AWS_CODEC

    def __init__(self, connection, region=None):
        super().__init__(region or connection.region)
        self.connection = connection
        self.api = AwsApi(connection, self.region)

    def in_region(self, region):
        backend = AwsImageBackend(self.connection, region)
        # Its client is made now, by the caller, not in a worker thread that copies to that region.
        self.connection.client("ec2", region)
        return backend

    def enabled_regions(self):
        return [
            item["RegionName"]
            for item in self.api.describe_regions()
            if item.get("OptInStatus", "opt-in-not-required") in ENABLED_OPT_IN
        ]

    def _images(self, amis):
        return [image_from_ami(ami, self.region) for ami in amis]

    def get(self, image_id, retry_not_found=False):
        try:
            amis = self.api.describe_images(image_ids=[image_id], retry_not_found=retry_not_found)
        except PhoenixError as error:
            if error.code in MISSING_IMAGE_CODES:
                return None
            raise
        images = self._images(amis)
        return images[0] if images else None

    def find_by_name(self, name):
        amis = self.api.describe_images(owners=["self"], filters=[{"Name": "name", "Values": [name]}])
        return [image for image in self._images(amis) if image.name == name]

    def search(self, image_ids=None, name_pattern=None, tags=None, owners=None):
        filters = []
        if name_pattern:
            filters.append({"Name": "name", "Values": [name_pattern]})
        for key, value in sorted((tags or {}).items()):
            filters.append({"Name": "tag:%s" % key, "Values": [value]})
        if not owners and not image_ids:
            owners = ["self"]
        return self._images(self.api.describe_images(image_ids=image_ids, owners=owners, filters=filters))

    def source_of(self, instance_id):
        return self.source_instance(instance_id)[1]

    def source_instance(self, instance_id):
        instances = self.api.describe_instances(instance_ids=[instance_id])
        if not instances:
            raise PhoenixError(
                "builder instance %s not found in %s" % (instance_id, self.region),
                resource=instance_id,
                code="InvalidInstanceID.NotFound",
                cloud="aws",
            )
        instance = instances[0]
        return BUILDER_STATES.get(instance.get("State", {}).get("Name", ""), "starting"), instance.get("ImageId")

    def stop_source(self, instance_id):
        return BUILDER_STATES.get(self.api.stop_instance(instance_id), "stopping")

    def check_family(self, family, resource):
        self.check_tags({self.codec.key(tagging.FAMILY): family}, resource)

    def create(self, name, instance_id, description, tags, no_reboot, family=None):
        # EC2 has no image families: the family is a tag of ours, read back as the image's family.
        if family:
            tags = dict(tags, **{self.codec.key(tagging.FAMILY): family})
        # CreateImage takes no client token. A retry after an answer that was lost (the image was made)
        # meets the name taken, and a call that failed for good may have been carried out all the same:
        # the image of that name made of this instance with our tags is the one we asked for.
        try:
            image_id = self.api.create_image(instance_id, name, description, no_reboot, tags)
        except PhoenixError as error:
            return self._made_after_all(error, name, SOURCE_INSTANCE_TAG, tags.get(SOURCE_INSTANCE_TAG))
        return self.get(image_id, retry_not_found=True) or _placeholder(image_id, name, self.region)

    def copy_from(self, image, tags):
        # The copy is tagged as it is made (CopyImage carries no tags from the source); one client token
        # for every attempt of this copy, so that a retry after a lost answer returns the same copy.
        token = "phoenix-copy-%s" % uuid.uuid4().hex
        try:
            image_id = self.api.copy_image(image.id, image.region, image.name, image.description, tags, token)
        except PhoenixError as error:
            return self._made_after_all(error, image.name, COPIED_FROM_TAG, tags.get(COPIED_FROM_TAG))
        return self.get(image_id, retry_not_found=True) or _placeholder(image_id, image.name, self.region)

    def _made_after_all(self, error, name, marker, value):
        """The image of this name that carries our marker, made by the failed call; else the error stands."""
        try:
            found = [image for image in self.find_by_name(name) if value and image.tags.get(marker) == value]
        except PhoenixError:
            raise error from None
        if len(found) == 1:
            return found[0]
        if error.code != DUPLICATE_NAME_CODE:
            raise error
        raise PhoenixError(
            "cannot make image %r in %s: the name is taken by an image this run did not make (%s)"
            % (name, self.region, error.message),
            resource=name,
            code=error.code,
            cloud="aws",
            hint="Choose another name, or delete the other image with state: absent.",
        ) from None

    def set_tags(self, image, to_set, to_remove):
        if to_set:
            self.api.create_tags([image.id], to_set)
        if to_remove:
            self.api.delete_tags([image.id], to_remove)

    def users(self, image):
        users = [
            ImageUser("instance", instance["InstanceId"], instance.get("State", {}).get("Name", ""))
            for instance in self.api.instances_launched_from(image.id)
        ]
        launching = set()
        for version in self.api.template_versions_launching(image.id):
            key = (version["LaunchTemplateId"], version["VersionNumber"])
            # The image-id filter narrows the listing; the version's own data decides (an emulator, or a
            # filter a region does not honour, must not make every template a user of every image).
            if version.get("LaunchTemplateData", {}).get("ImageId") != image.id:
                continue
            if key not in launching:
                launching.add(key)
                users.append(
                    ImageUser(
                        "launch template",
                        version["LaunchTemplateId"],
                        "%s version %s" % (version.get("LaunchTemplateName", ""), version["VersionNumber"]),
                    )
                )
        configurations = {
            configuration["LaunchConfigurationName"]
            for configuration in self.api.describe_launch_configurations()
            if configuration.get("ImageId") == image.id
        }
        users.extend(ImageUser("launch configuration", name) for name in sorted(configurations))
        for group in self.api.describe_auto_scaling_groups():
            if self._group_launches(group, image.id, launching, configurations):
                users.append(ImageUser("Auto Scaling group", group["AutoScalingGroupName"]))
        return users

    def _group_launches(self, group, image_id, launching, configurations):
        if group.get("LaunchConfigurationName") in configurations:
            return True
        specification = group.get("LaunchTemplate") or (
            group.get("MixedInstancesPolicy", {}).get("LaunchTemplate", {}).get("LaunchTemplateSpecification")
        )
        if not specification:
            return False
        template_id = specification.get("LaunchTemplateId")
        version = specification.get("Version") or "$Default"
        if template_id is None:
            return False
        if version in ("$Latest", "$Default"):
            # Resolving the alias needs one more call; any version of that template that launches the
            # image and is default or latest was already found above.
            return any(found_id == template_id for found_id, _number in launching) and self._alias_launches(
                template_id, version, image_id
            )
        versions = self.api.describe_template_versions(template_id, [version])
        return any(item.get("LaunchTemplateData", {}).get("ImageId") == image_id for item in versions)

    def _alias_launches(self, template_id, alias, image_id):
        versions = self.api.describe_template_versions(template_id, [alias])
        return any(item.get("LaunchTemplateData", {}).get("ImageId") == image_id for item in versions)

    def delete(self, image):
        try:
            self.api.deregister_image(image.id)
        except PhoenixError as error:
            # Deregistered already: by a retry whose first answer was lost, or by another run meanwhile.
            # Its snapshots are still ours to delete.
            if error.code not in MISSING_IMAGE_CODES:
                raise
        for snapshot_id in image.snapshot_ids:
            try:
                self.api.delete_snapshot(snapshot_id)
            except PhoenixError as error:
                if error.code != "InvalidSnapshot.NotFound":
                    raise PhoenixError(
                        "%s was deregistered but its snapshot %s could not be deleted: %s"
                        % (image.id, snapshot_id, error.message),
                        resource=snapshot_id,
                        code=error.code,
                        cloud="aws",
                        hint="Delete the snapshot by hand or run again with the image id.",
                    ) from None

    def set_deprecation(self, image, deprecate_at):
        if deprecate_at is None:
            self.api.disable_image_deprecation(image.id)
        else:
            self.api.enable_image_deprecation(image.id, format_utc(deprecate_at))

    def api_calls(self):
        return self.connection.api_calls()


def _placeholder(image_id, name, region):
    return Image(cloud="aws", id=image_id, name=name, region=region, state=PENDING, created="", owner="")
