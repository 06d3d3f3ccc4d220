"""Import only what the task uses: a swap without verify never loads the signing code's library
(cryptography), and the connections of one task share one SDK session, so that each botocore file (the
endpoints, each service's model) is read once per process however many backends the task makes."""

import os
import subprocess
import sys

import pytest
from harness import collections_root

from ansible_collections.phoenix.immutable.plugins.module_utils import providers
from ansible_collections.phoenix.immutable.plugins.module_utils._aws import connection as aws
from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import InvalidInput

PARAMS = {"region": "us-east-1", "access_key": "testing", "secret_key": "testing"}
PACKAGE = "ansible_collections.phoenix.immutable.plugins"


def loaded_after(code):
    """The top-level packages in sys.modules of a fresh interpreter after running ``code``."""
    probe = code + "\nprint(' '.join(sorted({name.split('.')[0] for name in sys.modules})))"
    env = dict(os.environ, PYTHONPATH=str(collections_root()))
    for name in [name for name in env if name.startswith("AWS_")]:
        env.pop(name)
    found = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert found.returncode == 0, found.stderr
    return set(found.stdout.split())


# What blue_green runs for a swap without verify, up to its first cloud call: its imports, the trust gate's
# "was verify given?" and the fleet backends with a client of each fleet service.
SWAP_WITHOUT_VERIFY = f"""
import sys
from {PACKAGE}.modules import blue_green
from {PACKAGE}.module_utils import providers, swap
from {PACKAGE}.module_utils.trust import policy_given
assert not policy_given(None)
groups, traffic, health, store = providers.fleet_backends({PARAMS!r})
for service in ("ec2", "autoscaling", "elbv2"):
    groups.connection.client(service)
"""


def test_a_swap_without_verify_does_not_import_cryptography():
    assert "cryptography" not in loaded_after(SWAP_WITHOUT_VERIFY)


def test_loading_a_trust_policy_does_import_it(tmp_path):
    # The probe above can see the library: with a policy to check, the same chain loads it.
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    public = tmp_path / "release.pub"
    public.write_bytes(
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    policy = tmp_path / "policy.yml"
    policy.write_text("keys:\n  - name: release\n    public_key: %s\n" % public, encoding="utf-8")
    code = "\nfrom %s.module_utils.trust import load_policy\nload_policy(%r)\n" % (PACKAGE, str(policy))
    assert "cryptography" in loaded_after(SWAP_WITHOUT_VERIFY + code)


def test_the_trust_module_still_offers_every_name_it_exports():
    from ansible_collections.phoenix.immutable.plugins.module_utils import trust

    for name in trust.__all__:
        assert getattr(trust, name) is not None, name
    with pytest.raises(AttributeError):
        trust.no_such_name  # noqa: B018


def test_connections_with_the_same_options_share_one_session_but_count_their_own_calls():
    first, second = providers.AwsProvider(PARAMS).connection, providers.AwsProvider(PARAMS).connection
    assert first.session is second.session
    one, other = first.client("ec2"), second.client("ec2")
    assert one is not other
    # The service model is read and parsed once: both clients are built on the same description.
    assert one.meta.service_model._service_description is other.meta.service_model._service_description
    first._count("ec2", "before-send.ec2.DescribeImages")
    assert first.api_calls() == {"ec2:DescribeImages": 1}
    assert second.api_calls() == {}


def test_other_credentials_or_environment_get_another_session(monkeypatch):
    base = aws.AwsConnection(**PARAMS)
    assert aws.AwsConnection(region="us-east-1", access_key="other", secret_key="testing").session is not base.session
    assert aws.AwsConnection(region="eu-west-1", access_key="testing", secret_key="testing").session is not base.session
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "3")
    assert aws.AwsConnection(**PARAMS).session is not base.session


def test_a_region_no_partition_has_is_still_refused_on_a_shared_session():
    aws.AwsConnection(**PARAMS)
    with pytest.raises(InvalidInput, match="not an AWS region name"):
        aws.AwsConnection(region="mars-north-1", access_key="testing", secret_key="testing")
    connection = aws.AwsConnection(**PARAMS)
    with pytest.raises(InvalidInput, match="not an AWS region name"):
        connection.client("ec2", "mars-north-1")
