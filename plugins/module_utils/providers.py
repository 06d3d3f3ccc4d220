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


IMAGE_BACKENDS = {"aws": _aws_images}


def image_backend(params):
    cloud = params.get("cloud") or "aws"
    factory = IMAGE_BACKENDS.get(cloud)
    if factory is None:
        raise InvalidInput("cloud %r is not supported; supported: %s" % (cloud, ", ".join(SUPPORTED_CLOUDS)))
    return factory(params)
