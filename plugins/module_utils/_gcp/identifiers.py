# Private to this collection.
"""The shapes of GCP identifiers the cloud-neutral core is handed, without importing google-auth.

The core handles images and instances by one string id each. On GCP that id is the resource's path
relative to the Compute API root: it names the project and the zone (an instance's name is unique only
in its zone), reads like gcloud's output, and is what a trust policy's ``revoked`` list names.
"""

from __future__ import annotations

import re

# projects/PROJECT/global/images/NAME. Project ids: 6-30 of [a-z0-9-] (older ones may hold a domain and
# a colon); image names: RFC 1035 labels of up to 63 characters.
IMAGE_ID_PATTERN = re.compile(r"^projects/[a-z0-9.:-]+/global/images/[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
INSTANCE_ID_PATTERN = re.compile(
    r"^projects/(?P<project>[a-z0-9.:-]+)/zones/(?P<zone>[a-z0-9-]+)/instances/(?P<name>[a-z]([-a-z0-9]{0,61}[a-z0-9])?)$"
)


def image_id(project, name):
    return "projects/%s/global/images/%s" % (project, name)


def image_name(image_ref):
    """The name of an image id (or of an image's selfLink)."""
    return image_ref.rstrip("/").rsplit("/", 1)[-1]


def instance_id(project, zone, name):
    return "projects/%s/zones/%s/instances/%s" % (project, zone, name)


def parse_instance_id(instance_ref):
    """(project, zone, name) of an instance id or of an instance's selfLink; ValueError for anything else."""
    path = instance_ref.split("/compute/v1/", 1)[-1]
    match = INSTANCE_ID_PATTERN.match(path)
    if match is None:
        raise ValueError("not a GCP instance id (projects/P/zones/Z/instances/NAME): %r" % (instance_ref,))
    return match.group("project"), match.group("zone"), match.group("name")
