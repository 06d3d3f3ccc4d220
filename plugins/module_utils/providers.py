# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The provider map: the one place where ``cloud:`` picks an adapter (one provider class per cloud).

Adapters are imported only when chosen, so a user of one cloud never needs another cloud's SDK.
Adding a cloud means adding its entry here and its adapter package, not touching the workflow.
"""

from __future__ import annotations

import os

from ansible.module_utils.basic import env_fallback

from ._azure.environment import ENV_FALLBACKS as AZURE_ENV_FALLBACKS
from ._core.errors import InvalidInput
from ._core.provider import Provider
from ._gcp.environment import ENV_FALLBACKS as GCP_ENV_FALLBACKS

# The shared ``region`` and ``endpoint_url`` options (argspec.CLOUD) have no environment fallback of their own:
# each cloud reads its own variables when they are not given.
AWS_REGION_VARIABLES = ("AWS_REGION", "AWS_DEFAULT_REGION")
AWS_ENDPOINT_URL_VARIABLES = ("AWS_ENDPOINT_URL",)


def _from_environment(value, variables, environ=None):
    """``value``, or the first of ``variables`` set in the environment (as Ansible's env_fallback reads them)."""
    if value is not None:
        return value
    environ = os.environ if environ is None else environ
    return next((environ[variable] for variable in variables if variable in environ), None)


def _aws_connection(params):
    from ._aws.connection import AwsConnection

    return AwsConnection(
        region=_from_environment(params.get("region"), AWS_REGION_VARIABLES),
        endpoint_url=_from_environment(params.get("endpoint_url"), AWS_ENDPOINT_URL_VARIABLES),
        access_key=params.get("access_key"),
        secret_key=params.get("secret_key"),
        session_token=params.get("session_token"),
        profile=params.get("profile"),
        connect_timeout=params.get("connect_timeout"),
        read_timeout=params.get("read_timeout"),
    )


class AwsProvider(Provider):
    """Every AWS backend, on one connection, so the calls of a task are counted together.

    Each backend class takes ``(connection, region=None)``; a region other than the connection's is for
    copies and KMS keys of other regions.
    """

    cloud = "aws"
    doc_fragment = "phoenix.immutable.aws"
    options = dict(
        access_key=dict(type="str", no_log=False, fallback=(env_fallback, ["AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY"])),
        secret_key=dict(type="str", no_log=True, fallback=(env_fallback, ["AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY"])),
        # AWX's AWS credential type injects AWS_SECURITY_TOKEN; the SDKs read AWS_SESSION_TOKEN.
        session_token=dict(
            type="str", no_log=True, fallback=(env_fallback, ["AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"])
        ),
        profile=dict(type="str", fallback=(env_fallback, ["AWS_PROFILE"])),
        connect_timeout=dict(type="int", default=60),
        read_timeout=dict(type="int", default=60),
    )

    def __init__(self, params):
        self.connection = _aws_connection(params)

    def images(self, region=None):
        from ._aws.images import AwsImageBackend

        return AwsImageBackend(self.connection, region)

    def builders(self):
        from ._aws.builders import AwsBuilderBackend

        return AwsBuilderBackend(self.connection)

    def signing_keys(self, region=None):
        return self.key_service(self.connection, region)

    @staticmethod
    def key_service(connection, region=None):
        from ._aws.kms import AwsKmsKeys

        return AwsKmsKeys(connection, region)

    def groups(self):
        from ._aws.groups import AwsGroupBackend

        return AwsGroupBackend(self.connection)

    def traffic(self):
        from ._aws.traffic import AwsTrafficBackend

        return AwsTrafficBackend(self.connection)

    def health(self):
        from ._aws.health import AwsHealthBackend

        return AwsHealthBackend(self.connection)

    def instances(self):
        from ._aws.instances import AwsInstanceBackend

        return AwsInstanceBackend(self.connection)

    def audit_store(self, container, prefix="phoenix-audit/", lock_mode=None, retention_days=None):
        """An S3 bucket (``container``), with versioning and, where the bucket has it, S3 Object Lock."""
        from ._aws.audit_store import AuditStoreApi, S3AuditStore

        return S3AuditStore(
            AuditStoreApi(self.connection, self.connection.region),
            container,
            prefix=prefix,
            lock_mode=lock_mode,
            retention_days=retention_days,
        )

    def rollout_store(self):
        from ._aws.rollout_store import AwsRolloutStore

        return AwsRolloutStore(self.connection)


def _gcp_options():
    """GcpProvider.options: each option's environment fallback from the one table in ``_gcp/environment.py``."""
    rules = dict(
        project=dict(type="str"),
        auth_kind=dict(type="str", choices=["serviceaccount", "application", "accesstoken"]),
        service_account_file=dict(type="path"),
        service_account_contents=dict(type="jsonarg", no_log=True),
        access_token=dict(type="str", no_log=True),
        scopes=dict(type="list", elements="str"),
        token_uri=dict(type="str", no_log=False),
        zone=dict(type="str"),
        kms_endpoint_url=dict(type="str"),
        storage_endpoint_url=dict(type="str"),
    )
    for name, spec in rules.items():
        spec["fallback"] = (env_fallback, list(GCP_ENV_FALLBACKS[name]))
    return rules


class GcpProvider(Provider):
    """Every GCP backend, on one GcpConnection (one AuthorizedSession, its calls counted together).

    Connection options left unset fall back to
    the environment in ``GcpConnection.from_params`` (the shared ``region`` and ``endpoint_url`` too).
    """

    cloud = "gcp"
    doc_fragment = "phoenix.immutable.gcp"
    options = _gcp_options()

    def __init__(self, params):
        from ._gcp.connection import GcpConnection

        self.connection = GcpConnection.from_params(params)

    def images(self, region=None):
        from ._gcp.images import GcpImageBackend

        return GcpImageBackend(self.connection, region)

    def builders(self):
        from ._gcp.builders import GcpBuilderBackend

        return GcpBuilderBackend(self.connection)

    def signing_keys(self, region=None):
        return self.key_service(self.connection, region)

    @staticmethod
    def key_service(connection, region=None):
        from ._gcp.kms import GcpKmsKeys

        return GcpKmsKeys(connection, region)

    def groups(self):
        from ._gcp.groups import GcpGroupBackend

        return GcpGroupBackend(self.connection, traffic=self.traffic)

    def traffic(self):
        from ._gcp.traffic import GcpTrafficBackend

        return GcpTrafficBackend(self.connection)

    def health(self):
        from ._gcp.health import GcpHealthBackend

        return GcpHealthBackend(self.connection)

    def instances(self):
        from ._gcp.instances import GcpInstanceBackend

        return GcpInstanceBackend(self.connection)

    def audit_store(self, container, prefix="phoenix-audit/", lock_mode=None, retention_days=None):
        """A GCS bucket (``container``), with its retention policy where the bucket has one."""
        from ._gcp.audit_store import GcsAuditStore

        return GcsAuditStore(
            self.connection, container, prefix=prefix, lock_mode=lock_mode, retention_days=retention_days
        )

    def rollout_store(self):
        from ._gcp.rollout_store import GcpRolloutStore

        return GcpRolloutStore(self.connection, traffic=self.traffic)


def _azure_options():
    """AzureProvider.options: each option's environment fallback from the one table in ``_azure/environment.py``."""
    rules = dict(
        subscription_id=dict(type="str"),
        tenant=dict(type="str"),
        client_id=dict(type="str"),
        secret=dict(type="str", no_log=True),
        cloud_environment=dict(type="str", choices=["AzureCloud", "AzureChinaCloud", "AzureUSGovernment"]),
        resource_group=dict(type="str"),
        location=dict(type="str"),
        resource_manager_url=dict(type="str"),
        authority_host=dict(type="str"),
        ca_bundle=dict(type="path"),
        gallery=dict(type="str"),
        key_vault_url=dict(type="str", no_log=False),
        polling_interval=dict(type="float"),
    )
    for name, spec in rules.items():
        spec["fallback"] = (env_fallback, list(AZURE_ENV_FALLBACKS[name]))
    return rules


class AzureProvider(Provider):
    """Every Azure backend, on one AzureConnection (one credential, its clients' requests counted together).

    Connection options left unset fall back to the environment (``_azure/environment.py``); the shared
    ``region`` and ``endpoint_url`` stand for ``location`` and ``resource_manager_url``.
    """

    cloud = "azure"
    doc_fragment = "phoenix.immutable.azure"
    options = _azure_options()

    def __init__(self, params):
        from ._azure.connection import AzureConnection

        self.connection = AzureConnection.from_params(params)

    def images(self, region=None):
        from ._azure.images import AzureImageBackend

        return AzureImageBackend(self.connection, region)

    def builders(self):
        from ._azure.builders import AzureBuilderBackend

        return AzureBuilderBackend(self.connection)

    def signing_keys(self, region=None):
        return self.key_service(self.connection, region)

    @staticmethod
    def key_service(connection, region=None):
        from ._azure.kms import AzureKeyVaultKeys

        return AzureKeyVaultKeys(connection, region)

    def groups(self):
        from ._azure.groups import AzureGroupBackend

        return AzureGroupBackend(self.connection, traffic=self.traffic)

    def traffic(self):
        from ._azure.traffic import AzureTrafficBackend

        return AzureTrafficBackend(self.connection)

    def health(self):
        from ._azure.health import AzureHealthBackend

        return AzureHealthBackend(self.connection)

    def instances(self):
        from ._azure.instances import AzureInstanceBackend

        return AzureInstanceBackend(self.connection)

    def audit_store(self, container, prefix="phoenix-audit/", lock_mode=None, retention_days=None):
        """A blob container (``container``), with its immutability policy where the container has one."""
        from ._azure.audit_store import BlobAuditStore

        return BlobAuditStore(
            self.connection, container, prefix=prefix, lock_mode=lock_mode, retention_days=retention_days
        )

    def rollout_store(self):
        from ._azure.rollout_store import AzureRolloutStore

        return AzureRolloutStore(self.connection, traffic=self.traffic)


# The provider map: one entry per cloud.
PROVIDERS = {"aws": AwsProvider, "gcp": GcpProvider, "azure": AzureProvider}
SUPPORTED_CLOUDS = tuple(PROVIDERS)


def image_id_patterns():
    """{cloud: compiled pattern of its image ids} for every supported cloud, importing no SDK.

    A trust policy's ``revoked`` entries are told apart by these (see ``_core.policy.parse_policy``).
    """
    from ._aws.identifiers import IMAGE_ID_PATTERN as aws_image_id
    from ._azure.identifiers import IMAGE_ID_PATTERN as azure_image_id
    from ._gcp.identifiers import IMAGE_ID_PATTERN as gcp_image_id

    return {"aws": aws_image_id, "gcp": gcp_image_id, "azure": azure_image_id}


def provider(params):
    """The provider of the cloud named by ``params["cloud"]`` (default aws), connected with ``params``."""
    cloud = params.get("cloud") or "aws"
    factory = PROVIDERS.get(cloud)
    if factory is None:
        raise InvalidInput(
            "cloud %r is not supported; supported: %s" % (cloud, ", ".join(SUPPORTED_CLOUDS)),
            resource=cloud,
            hint="Set the cloud option to one of: %s." % ", ".join(SUPPORTED_CLOUDS),
        )
    return factory(params)


# What each workflow needs, from one provider (so on one connection).


def image_backend(params):
    return provider(params).images()


def builder_backends(params):
    """(BuilderBackend, ImageBackend)."""
    cloud = provider(params)
    return cloud.builders(), cloud.images()


def signing_key_backend_for(images):
    """The SigningKeyBackend of the cloud of ``images`` (an ImageBackend), on its connection and in its region."""
    factory = PROVIDERS.get(images.cloud)
    if factory is None:
        raise InvalidInput("cloud %r has no key service adapter for signing yet" % (images.cloud,))
    return factory.key_service(images.connection, images.region)


def signing_key_backend(params):
    return provider(params).signing_keys()


def fleet_backends(params):
    """(GroupBackend, TrafficBackend, HealthBackend, RolloutStore), from connection params or a Provider made."""
    cloud = params if isinstance(params, Provider) else provider(params)
    return cloud.groups(), cloud.traffic(), cloud.health(), cloud.rollout_store()


def retention_backends(params):
    """(ImageBackend, GroupBackend, BuilderBackend)."""
    cloud = provider(params)
    return cloud.images(), cloud.groups(), cloud.builders()


def drift_backends(params):
    """(GroupBackend, TrafficBackend, InstanceBackend), from connection params or a Provider already made."""
    cloud = params if isinstance(params, Provider) else provider(params)
    return cloud.groups(), cloud.traffic(), cloud.instances()
