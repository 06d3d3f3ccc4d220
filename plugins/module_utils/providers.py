# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The provider map: the one place where ``cloud:`` picks an adapter.

Adapters are imported only when chosen, so a user of one cloud never needs another cloud's SDK.
Adding a cloud means adding its entry here and its adapter package, not touching the workflow.
"""

from __future__ import annotations

from ._core.errors import InvalidInput

SUPPORTED_CLOUDS = ("aws",)


def _aws_connection(params):
    from ._aws.connection import AwsConnection

    return AwsConnection(
        region=params.get("region"),
        endpoint_url=params.get("endpoint_url"),
        access_key=params.get("access_key"),
        secret_key=params.get("secret_key"),
        session_token=params.get("session_token"),
        profile=params.get("profile"),
    )


def _aws_images(params):
    from ._aws.images import AwsImageBackend

    return AwsImageBackend(_aws_connection(params))


def _aws_builders(params):
    from ._aws.builders import AwsBuilderBackend
    from ._aws.images import AwsImageBackend

    connection = _aws_connection(params)
    return AwsBuilderBackend(connection), AwsImageBackend(connection)


def _aws_fleet(params):
    from ._aws.groups import AwsGroupBackend
    from ._aws.health import AwsHealthBackend
    from ._aws.traffic import AwsTrafficBackend

    connection = _aws_connection(params)
    return AwsGroupBackend(connection), AwsTrafficBackend(connection), AwsHealthBackend(connection)


IMAGE_BACKENDS = {"aws": _aws_images}
BUILDER_BACKENDS = {"aws": _aws_builders}


def _choose(factories, params):
    cloud = params.get("cloud") or "aws"
    factory = factories.get(cloud)
    if factory is None:
        raise InvalidInput("cloud %r is not supported; supported: %s" % (cloud, ", ".join(SUPPORTED_CLOUDS)))
    return factory(params)


def image_backend(params):
    return _choose(IMAGE_BACKENDS, params)


def builder_backends(params):
    """(BuilderBackend, ImageBackend) of one cloud sharing one connection, so their calls are counted together."""
    return _choose(BUILDER_BACKENDS, params)


def _aws_signing_keys_for(images):
    from ._aws.kms import AwsKmsKeys

    return AwsKmsKeys(images.connection, images.region)


# Signing keys of a cloud's key service, sharing the connection (and call count) of an image backend.
SIGNING_KEY_BACKENDS_FOR_IMAGES = {"aws": _aws_signing_keys_for}


def signing_key_backend_for(images):
    """The SigningKeyBackend of the cloud of ``images`` (an ImageBackend), on the same connection."""
    factory = SIGNING_KEY_BACKENDS_FOR_IMAGES.get(images.cloud)
    if factory is None:
        raise InvalidInput("cloud %r has no key service adapter for signing yet" % (images.cloud,))
    return factory(images)


def signing_key_backend(params):
    return signing_key_backend_for(image_backend(params))


FLEET_BACKENDS = {"aws": _aws_fleet}


def fleet_backends(params):
    """(GroupBackend, TrafficBackend, HealthBackend) of one cloud sharing one connection: calls counted together."""
    return _choose(FLEET_BACKENDS, params)


def _aws_retention(params):
    from ._aws.builders import AwsBuilderBackend
    from ._aws.groups import AwsGroupBackend
    from ._aws.images import AwsImageBackend

    connection = _aws_connection(params)
    return AwsImageBackend(connection), AwsGroupBackend(connection), AwsBuilderBackend(connection)


RETENTION_BACKENDS = {"aws": _aws_retention}


def retention_backends(params):
    """(ImageBackend, GroupBackend, BuilderBackend) of one cloud sharing one connection: calls counted together."""
    return _choose(RETENTION_BACKENDS, params)


def _aws_drift(params):
    from ._aws.groups import AwsGroupBackend
    from ._aws.instances import AwsInstanceBackend
    from ._aws.traffic import AwsTrafficBackend

    connection = _aws_connection(params)
    return AwsGroupBackend(connection), AwsTrafficBackend(connection), AwsInstanceBackend(connection)


DRIFT_BACKENDS = {"aws": _aws_drift}


def drift_backends(params):
    """(GroupBackend, TrafficBackend, InstanceBackend) of one cloud sharing one connection: calls counted together."""
    return _choose(DRIFT_BACKENDS, params)
