import importlib
import os
import subprocess
import sys

import pytest
from harness import collections_root

from ansible_collections.phoenix.immutable.plugins.module_utils import argspec, audit, providers
from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import InvalidInput, MissingDependency
from ansible_collections.phoenix.immutable.plugins.module_utils._core.provider import Provider

CONNECTION = "ansible_collections.phoenix.immutable.plugins.module_utils._aws.connection"
# What a provider must make (the interface a GCP or Azure provider implements).
FACTORIES = {
    "images",
    "builders",
    "signing_keys",
    "key_service",
    "groups",
    "traffic",
    "health",
    "instances",
    "audit_store",
    "rollout_store",
}
AWS_PARAMS = {"cloud": "aws", "region": "us-east-1", "access_key": "testing", "secret_key": "testing"}
# Every public way to reach a backend by ``cloud``.
ENTRY_POINTS = [
    providers.provider,
    providers.image_backend,
    providers.builder_backends,
    providers.signing_key_backend,
    providers.fleet_backends,
    providers.retention_backends,
    providers.drift_backends,
    lambda params: audit.audit_store(params, "audit-trail"),
]


@pytest.mark.parametrize("entry_point", ENTRY_POINTS)
def test_an_unsupported_cloud_is_refused(entry_point):
    with pytest.raises(InvalidInput, match="cloud 'openstack' is not supported; supported: aws, gcp, azure") as raised:
        entry_point({"cloud": "openstack"})
    assert raised.value.resource == "openstack"
    assert raised.value.hint == "Set the cloud option to one of: aws, gcp, azure."


def test_images_of_a_cloud_without_a_provider_have_no_key_service():
    class OpenStackImages:
        cloud = "openstack"

    with pytest.raises(InvalidInput, match="cloud 'openstack' has no key service adapter for signing yet"):
        providers.signing_key_backend_for(OpenStackImages())


def test_the_provider_map_names_each_provider_by_its_cloud_and_is_the_choice_of_cloud():
    assert providers.SUPPORTED_CLOUDS == tuple(providers.PROVIDERS) == ("aws", "gcp", "azure")
    for cloud, provider_class in providers.PROVIDERS.items():
        assert provider_class.cloud == cloud
        assert provider_class.doc_fragment == "phoenix.immutable.%s" % cloud
    assert argspec.CLOUD["cloud"]["choices"] == list(providers.PROVIDERS)


def test_the_provider_interface_is_every_backend_a_workflow_needs():
    assert Provider.__abstractmethods__ == FACTORIES


@pytest.mark.parametrize("cloud", sorted(providers.PROVIDERS))
def test_every_provider_implements_the_interface(cloud):
    provider_class = providers.PROVIDERS[cloud]
    assert issubclass(provider_class, Provider)
    assert not provider_class.__abstractmethods__
    assert provider_class.options, "a provider declares its connection options"


def test_without_a_factory_a_provider_cannot_be_made():
    class HalfProvider(Provider):
        cloud = "half"

        def images(self, region=None):
            return None

    with pytest.raises(TypeError, match="abstract"):
        HalfProvider()  # pylint: disable=abstract-class-instantiated


def test_every_aws_backend_shares_the_providers_connection():
    aws = providers.provider(AWS_PARAMS)
    assert isinstance(aws, providers.AwsProvider)
    backends = [aws.images(), aws.builders(), aws.signing_keys(), aws.groups(), aws.traffic(), aws.health()]
    backends.append(aws.instances())
    assert all(backend.connection is aws.connection for backend in backends)
    assert aws.images("eu-west-1").region == "eu-west-1" and aws.signing_keys("eu-west-1").region == "eu-west-1"
    assert aws.key_service(aws.connection, "eu-west-1").connection is aws.connection


def test_the_aws_audit_store_is_an_s3_bucket_on_the_providers_connection():
    aws = providers.provider(AWS_PARAMS)
    store = aws.audit_store("audit-trail", prefix="web/", lock_mode="COMPLIANCE", retention_days=7)
    assert type(store).__name__ == "S3AuditStore"
    assert (store.bucket, store.prefix, store.lock_mode, store.retention_days) == (
        "audit-trail",
        "web/",
        "COMPLIANCE",
        7,
    )
    assert store.api.connection is aws.connection and store.api.region == "us-east-1"


def test_the_audit_store_is_found_through_the_provider_of_the_cloud():
    store = audit.audit_store(dict(AWS_PARAMS, region="eu-central-1"), "audit-trail")
    assert type(store).__name__ == "S3AuditStore"
    assert (store.bucket, store.prefix, store.lock_mode, store.retention_days) == (
        "audit-trail",
        "phoenix-audit/",
        None,
        None,
    )
    assert store.api.region == "eu-central-1"


@pytest.mark.parametrize("variable", ["AWS_REGION", "AWS_DEFAULT_REGION"])
def test_the_aws_region_comes_from_the_environment_when_the_shared_option_is_unset(monkeypatch, variable):
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, "eu-north-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    aws = providers.provider(dict(AWS_PARAMS, region=None))
    assert aws.connection.region == "eu-north-1"
    assert aws.connection.endpoint_url == "http://127.0.0.1:1"
    # A region given wins over the environment, as with Ansible's env_fallback.
    assert providers.provider(dict(AWS_PARAMS, region="ap-south-1")).connection.region == "ap-south-1"


def test_the_aws_region_variables_are_read_in_order(monkeypatch):
    monkeypatch.setenv("AWS_REGION", "eu-north-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    assert providers.provider(dict(AWS_PARAMS, region=None)).connection.region == "eu-north-1"


GCP_PARAMS = {"cloud": "gcp", "project": "acme-golden", "auth_kind": "accesstoken", "access_token": "ya29.test"}


def test_the_gcp_groups_and_rollout_store_are_on_the_providers_connection():
    from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.groups import GcpGroupBackend
    from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.rollout_store import GcpRolloutStore

    gcp = providers.provider(GCP_PARAMS)
    groups, store = gcp.groups(), gcp.rollout_store()
    assert isinstance(groups, GcpGroupBackend) and isinstance(store, GcpRolloutStore)
    assert groups.connection is gcp.connection and store.connection is gcp.connection


def test_the_gcp_provider_reads_its_own_environment_for_the_shared_options(monkeypatch):
    monkeypatch.setenv("AWS_REGION", "eu-north-1")
    monkeypatch.setenv("GCP_REGION", "europe-west4")
    monkeypatch.setenv("GCP_ENDPOINT_URL", "http://127.0.0.1:1/compute/v1")
    gcp = providers.provider(dict(GCP_PARAMS, region=None, endpoint_url=None))
    assert gcp.connection.region == "europe-west4"
    assert gcp.connection.endpoint_url == "http://127.0.0.1:1/compute/v1/"


def test_image_ids_of_every_cloud_are_told_apart():
    patterns = providers.image_id_patterns()
    assert patterns["aws"].match("ami-0123456789abcdef0") and not patterns["gcp"].match("ami-0123456789abcdef0")
    assert patterns["gcp"].match("projects/acme-golden/global/images/web-1")


def test_the_aws_rollout_store_is_on_the_providers_connection():
    rollout_store = pytest.importorskip("ansible_collections.phoenix.immutable.plugins.module_utils._aws.rollout_store")
    aws = providers.provider(AWS_PARAMS)
    assert isinstance(aws.rollout_store(), rollout_store.AwsRolloutStore)


def test_the_provider_map_imports_no_adapter_until_a_backend_is_asked_for():
    probe = (
        "import sys\n"
        "from ansible_collections.phoenix.immutable.plugins.module_utils import argspec, providers\n"
        "print(sorted(name for name in sys.modules if '._aws' in name or name.split('.')[0] in "
        "('boto3', 'botocore', 'google', 'requests', 'azure') or any(('.%s' % adapter) in name and not "
        "name.endswith(('.%s.environment' % adapter, '.%s' % adapter)) for adapter in ('_gcp', '_azure'))))"
    )
    env = dict(os.environ, PYTHONPATH=str(collections_root()))
    found = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]"


def test_without_boto3_the_aws_adapter_says_which_library_is_missing(monkeypatch):
    for name in [name for name in sys.modules if name == "boto3" or name.startswith(("boto3.", "botocore"))]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "boto3", None)
    monkeypatch.setitem(sys.modules, "botocore", None)
    connection = importlib.reload(importlib.import_module(CONNECTION))
    try:
        with pytest.raises(MissingDependency) as raised:
            connection.AwsConnection(region="us-east-1")
        assert raised.value.library == "boto3"
        assert raised.value.cloud == "aws"
    finally:
        monkeypatch.undo()
        importlib.reload(connection)


def test_the_core_imports_no_sdk_and_no_ansible():
    core = importlib.import_module("ansible_collections.phoenix.immutable.plugins.module_utils._core")
    from pathlib import Path

    for path in Path(core.__file__).parent.glob("*.py"):
        text = path.read_text()
        for forbidden in ("boto3", "botocore", "google", "azure", "ansible.module_utils"):
            assert "import %s" % forbidden not in text and "from %s" % forbidden not in text, (path, forbidden)
