import importlib
import sys

import pytest

from ansible_collections.phoenix.immutable.plugins.module_utils import providers
from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import InvalidInput, MissingDependency

CONNECTION = "ansible_collections.phoenix.immutable.plugins.module_utils._aws.connection"


def test_an_unsupported_cloud_is_refused():
    with pytest.raises(InvalidInput, match="cloud 'openstack' is not supported; supported: aws"):
        providers.image_backend({"cloud": "openstack"})


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
