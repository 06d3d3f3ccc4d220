"""Each shared argument spec piece and its doc fragment describe the same options."""

import importlib
import pkgutil

import pytest
import yaml

from ansible_collections.phoenix.immutable.plugins import modules
from ansible_collections.phoenix.immutable.plugins.module_utils import argspec
from ansible_collections.phoenix.immutable.plugins.module_utils.providers import PROVIDERS

# (spec piece, doc fragment): the shared pieces, then the connection options of every provider.
PAIRS = [(argspec.CLOUD, "phoenix.immutable.cloud"), (argspec.WAIT, "phoenix.immutable.wait")]
PAIRS += [(argspec.POLICY, "phoenix.immutable.policy")]
PAIRS += [(argspec.ATTESTATION_STORE, "phoenix.immutable.attestation_store")]
PAIRS += [(argspec.SIGNING_KEY, "phoenix.immutable.signing_key")]
PAIRS += [(provider.options, provider.doc_fragment) for provider in PROVIDERS.values()]
MODULES = sorted(info.name for info in pkgutil.iter_modules(modules.__path__))


def fragment_options(fragment):
    name = fragment.rsplit(".", 1)[-1]
    module = importlib.import_module("ansible_collections.phoenix.immutable.plugins.doc_fragments." + name)
    return yaml.safe_load(module.ModuleDocFragment.DOCUMENTATION)["options"]


def module_of(name):
    return importlib.import_module("ansible_collections.phoenix.immutable.plugins.modules." + name)


def documented_options(module):
    """A module's options as ansible-doc shows them: its own, then those of its doc fragments."""
    documentation = yaml.safe_load(module.DOCUMENTATION)
    options = dict(documentation.get("options") or {})
    for fragment in documentation.get("extends_documentation_fragment") or []:
        options.update(fragment_options(fragment))
    return documentation, options


def assert_documented_as_specified(spec, documented):
    assert sorted(spec) == sorted(documented)
    for option, rules in spec.items():
        doc = documented[option]
        assert doc.get("type", "str") == rules.get("type", "str"), option
        assert doc.get("default") == rules.get("default"), option
        assert doc.get("choices") == rules.get("choices"), option
        assert doc.get("elements") == rules.get("elements"), option
        assert sorted(doc.get("aliases") or []) == sorted(rules.get("aliases") or []), option


@pytest.mark.parametrize("spec, fragment", PAIRS, ids=[fragment for _spec, fragment in PAIRS])
def test_spec_and_fragment_agree(spec, fragment):
    assert_documented_as_specified(spec, fragment_options(fragment))


@pytest.mark.parametrize("name", MODULES)
def test_every_modules_argspec_and_documentation_agree(name):
    module = module_of(name)
    _documentation, documented = documented_options(module)
    assert_documented_as_specified(module.ARGUMENT_SPEC, documented)


@pytest.mark.parametrize("name", MODULES)
def test_a_module_that_takes_cloud_takes_and_documents_the_options_of_every_provider(name):
    module = module_of(name)
    if "cloud" not in module.ARGUMENT_SPEC:
        pytest.skip("%s talks to no cloud" % name)
    documentation, _documented = documented_options(module)
    fragments = documentation.get("extends_documentation_fragment") or []
    assert "phoenix.immutable.cloud" in fragments
    for provider in PROVIDERS.values():
        assert provider.doc_fragment in fragments, (name, provider.cloud)
        for option, rules in provider.options.items():
            assert module.ARGUMENT_SPEC.get(option) == rules, (name, provider.cloud, option)


def test_connection_is_cloud_and_the_options_of_every_provider():
    expected = dict(argspec.CLOUD)
    for provider in PROVIDERS.values():
        expected.update(provider.options)
    assert expected == argspec.CONNECTION
    assert argspec.AWS_CONNECTION is PROVIDERS["aws"].options


class FakeProvider:
    def __init__(self, cloud, options):
        self.cloud = cloud
        self.options = options


def test_two_providers_claiming_one_option_name_are_refused():
    aws = FakeProvider("aws", {"zone": dict(type="str")})
    gcp = FakeProvider("gcp", {"zone": dict(type="str"), "project": dict(type="str")})
    with pytest.raises(ValueError, match="option 'zone' of provider gcp is already declared by aws"):
        argspec.cloud_options([aws, gcp])


def test_a_provider_may_not_redeclare_the_shared_region():
    with pytest.raises(ValueError, match="option 'region' of provider aws is already declared by cloud"):
        argspec.cloud_options([FakeProvider("aws", {"region": dict(type="str")})])


def test_region_and_endpoint_url_are_shared_and_read_no_environment_themselves():
    # Each provider falls back to its own cloud's variables (AWS_REGION or GCP_REGION): a fallback here
    # would give a GCP task the AWS region of the controller's environment.
    for name in ("region", "endpoint_url"):
        assert argspec.CONNECTION[name] == dict(type="str")
        assert all(name not in provider.options for provider in PROVIDERS.values())


def test_the_gcp_options_fall_back_to_the_one_environment_table():
    from ansible_collections.phoenix.immutable.plugins.module_utils._gcp.environment import ENV_FALLBACKS

    for name, rules in argspec.GCP_CONNECTION.items():
        assert rules["fallback"][1] == list(ENV_FALLBACKS[name]), name
    assert argspec.GCP_CONNECTION["service_account_file"]["fallback"][1] == [
        "GCP_SERVICE_ACCOUNT_FILE",
        "GCE_CREDENTIALS_FILE_PATH",
    ]
    assert set(ENV_FALLBACKS) == set(argspec.GCP_CONNECTION) | {"region", "endpoint_url"}


def test_a_provider_may_not_redeclare_cloud():
    with pytest.raises(ValueError, match="option 'cloud' of provider azure is already declared by cloud"):
        argspec.cloud_options([FakeProvider("azure", {"cloud": dict(type="str")})])


def test_providers_with_distinct_options_are_merged_after_cloud():
    aws = FakeProvider("aws", {"profile": dict(type="str")})
    gcp = FakeProvider("gcp", {"project": dict(type="str")})
    assert list(argspec.cloud_options([aws, gcp])) == ["cloud", "region", "endpoint_url", "profile", "project"]


@pytest.mark.parametrize("variable", ["AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"])
def test_the_session_token_comes_from_either_variable_awx_or_sdk(variable):
    assert variable in argspec.AWS_CONNECTION["session_token"]["fallback"][1]


def test_secrets_are_never_logged():
    assert argspec.AWS_CONNECTION["secret_key"]["no_log"] is True
    assert argspec.AWS_CONNECTION["session_token"]["no_log"] is True
    assert argspec.GCP_CONNECTION["service_account_contents"]["no_log"] is True
    assert argspec.GCP_CONNECTION["access_token"]["no_log"] is True


def test_build_puts_a_modules_own_options_last():
    spec = argspec.build(argspec.CLOUD, argspec.WAIT, wait=dict(type="bool", default=False))
    assert spec["wait"]["default"] is False and "cloud" in spec
