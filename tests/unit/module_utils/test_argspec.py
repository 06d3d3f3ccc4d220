"""Each shared argument spec piece and its doc fragment describe the same options."""

import importlib

import pytest
import yaml

from ansible_collections.phoenix.immutable.plugins.module_utils import argspec

PAIRS = [("CLOUD", "cloud"), ("AWS_CONNECTION", "aws"), ("WAIT", "wait")]


def fragment_options(name):
    module = importlib.import_module("ansible_collections.phoenix.immutable.plugins.doc_fragments." + name)
    return yaml.safe_load(module.ModuleDocFragment.DOCUMENTATION)["options"]


@pytest.mark.parametrize("constant, fragment", PAIRS)
def test_spec_and_fragment_agree(constant, fragment):
    spec = getattr(argspec, constant)
    documented = fragment_options(fragment)
    assert sorted(spec) == sorted(documented)
    for option, rules in spec.items():
        doc = documented[option]
        assert doc.get("type", "str") == rules.get("type", "str"), option
        assert doc.get("default") == rules.get("default"), option
        assert doc.get("choices") == rules.get("choices"), option
        assert doc.get("elements") == rules.get("elements"), option


@pytest.mark.parametrize("variable", ["AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"])
def test_the_session_token_comes_from_either_variable_awx_or_sdk(variable):
    assert variable in argspec.AWS_CONNECTION["session_token"]["fallback"][1]


def test_secrets_are_never_logged():
    assert argspec.AWS_CONNECTION["secret_key"]["no_log"] is True
    assert argspec.AWS_CONNECTION["session_token"]["no_log"] is True


def test_build_puts_a_modules_own_options_last():
    spec = argspec.build(argspec.CLOUD, argspec.WAIT, wait=dict(type="bool", default=False))
    assert spec["wait"]["default"] is False and "cloud" in spec
