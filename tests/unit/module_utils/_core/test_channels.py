"""Channels without a cloud: promotion statements, their tags, verification, and choosing a channel's image."""

from __future__ import annotations

import datetime
from dataclasses import replace

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from ansible_collections.phoenix.immutable.plugins.module_utils._aws.codec import AWS_CODEC
from ansible_collections.phoenix.immutable.plugins.module_utils._core import channels
from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import InvalidInput, PhoenixError
from ansible_collections.phoenix.immutable.plugins.module_utils._core.keys import LocalSigner
from ansible_collections.phoenix.immutable.plugins.module_utils._core.model import AVAILABLE, Disk, Image
from ansible_collections.phoenix.immutable.plugins.module_utils._core.policy import parse_policy
from ansible_collections.phoenix.immutable.plugins.module_utils._core.signing import sign_image
from ansible_collections.phoenix.immutable.plugins.module_utils._core.tags import TagLimits
from ansible_collections.phoenix.immutable.plugins.module_utils._core.timeutil import format_utc
from ansible_collections.phoenix.immutable.plugins.module_utils.providers import image_id_patterns

NOW = datetime.datetime(2026, 11, 24, 12, 0, tzinfo=datetime.UTC)


def pem(key):
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.fixture(scope="module")
def signers():
    return {
        name: LocalSigner(ed25519.Ed25519PrivateKey.generate(), name=name) for name in ("build", "release", "other")
    }


def policy_of(signers, trusted=("build",), promoters=("release",), **fields):
    return parse_policy(
        {
            "keys": [{"name": name, "public_key": pem(signers[name].private_key)} for name in trusted],
            "promoters": [{"name": name, "public_key": pem(signers[name].private_key)} for name in promoters],
            **fields,
        },
        image_id_patterns=image_id_patterns(),
    )


class Images:
    cloud = "aws"
    region = "r-1"
    tag_limits = TagLimits(max_tags=50, max_key_length=128, max_value_length=256)
    codec = AWS_CODEC

    def __init__(self, images):
        self.images = {image.id: image for image in images}
        self.writes = 0

    def get(self, image_id):
        return self.images.get(image_id)

    def search(self, image_ids=None, name_pattern=None, tags=None, owners=None):
        prefix = (name_pattern or "").rstrip("*")
        return [image for image in self.images.values() if image.name.startswith(prefix)]

    def set_tags(self, image, to_set, to_remove):
        self.writes += 1
        tags = {key: value for key, value in self.images[image.id].tags.items() if key not in to_remove}
        tags.update(to_set)
        self.images[image.id] = replace(self.images[image.id], tags=tags)


def image(name, days_old):
    return Image(
        cloud="aws",
        id="ami-%s" % name,
        name=name,
        region="r-1",
        state=AVAILABLE,
        created=format_utc(NOW - datetime.timedelta(days=days_old)),
        owner="123456789012",
        disks=[Disk(device="/dev/xvda", snapshot_id="snap-%s" % name, size_gb=8)],
    )


@pytest.fixture
def backend(signers):
    images = Images([image("web-1", 3), image("web-2", 2), image("web-3", 1), image("web-api-1", 0)])
    for image_id in ("ami-web-1", "ami-web-2", "ami-web-3", "ami-web-api-1"):
        sign_image(images, image_id, signers["build"])
    images.writes = 0
    return images


@pytest.mark.parametrize(
    "name, family",
    [("web-2026-11-24-1", "web"), ("web-42", "web"), ("web-api-3", "web-api"), ("web", "web"), ("web-v2", "web-v2")],
)
def test_family_of_an_image_is_its_name_without_the_version(name, family):
    assert channels.family_of(image(name, 1)) == family


def test_promote_stores_a_verifiable_statement_and_is_idempotent(backend, signers):
    policy = policy_of(signers)
    outcome = channels.promote(backend, "ami-web-1", "prod", signers["release"], policy, now=NOW)
    assert outcome.changed and outcome.promoted and outcome.promoter == "release"
    assert outcome.statement["predicate"] == {"channel": "prod", "family": "web"}
    stored = backend.get("ami-web-1").tags
    assert [key for key in stored if key.startswith("phoenix:promo:prod:%s:" % signers["release"].keyid[:16])]
    assert all(len(value) <= 256 for value in stored.values())
    check = channels.check_promotion(AWS_CODEC, backend.get("ami-web-1"), "prod", policy.promoters)
    assert check.valid and check.promoter == "release"

    writes = backend.writes
    again = channels.promote(backend, "ami-web-1", "prod", signers["release"], policy, now=NOW)
    assert again.changed is False and backend.writes == writes


def test_check_mode_plans_without_writing(backend, signers):
    outcome = channels.promote(backend, "ami-web-1", "prod", signers["release"], policy_of(signers), check_mode=True)
    assert outcome.changed and outcome.actions[0]["action"] == "promote"
    assert backend.writes == 0
    assert channels.promoted_channels(AWS_CODEC, backend.get("ami-web-1")) == []


def test_promotion_requires_a_promoter_key_and_a_trusted_image(backend, signers):
    policy = policy_of(signers)
    with pytest.raises(InvalidInput, match="is not one of the promoters"):
        channels.promote(backend, "ami-web-1", "prod", signers["build"], policy)
    backend.images["ami-web-2"] = replace(backend.get("ami-web-2"), tags={})
    with pytest.raises(PhoenixError, match="refusing to promote ami-web-2 to prod.*no signature"):
        channels.promote(backend, "ami-web-2", "prod", signers["release"], policy)
    assert backend.writes == 0


def test_a_policy_without_promoters_is_refused(signers):
    with pytest.raises(InvalidInput, match="names no promoters"):
        channels.resolve_promoters(policy_of(signers, promoters=()))


def test_promotion_tags_copied_to_another_image_do_not_count(backend, signers):
    policy = policy_of(signers)
    channels.promote(backend, "ami-web-1", "prod", signers["release"], policy)
    copied = {key: value for key, value in backend.get("ami-web-1").tags.items() if key.startswith("phoenix:promo:")}
    target = backend.get("ami-web-3")
    backend.images[target.id] = replace(target, tags=dict(target.tags, **copied))
    check = channels.check_promotion(AWS_CODEC, backend.get("ami-web-3"), "prod", policy.promoters)
    assert not check.valid and "descriptor mismatch" in check.detail


def test_a_promotion_to_one_channel_is_not_one_to_another(backend, signers):
    policy = policy_of(signers)
    channels.promote(backend, "ami-web-1", "staging", signers["release"], policy)
    current = backend.get("ami-web-1")
    renamed = {key.replace(":staging:", ":prod:"): value for key, value in current.tags.items()}
    backend.images[current.id] = replace(current, tags=renamed)
    check = channels.check_promotion(AWS_CODEC, backend.get("ami-web-1"), "prod", policy.promoters)
    assert not check.valid and "names channel 'staging'" in check.detail


def test_a_damaged_promotion_is_reported_not_raised(backend, signers):
    policy = policy_of(signers)
    channels.promote(backend, "ami-web-1", "prod", signers["release"], policy)
    current = backend.get("ami-web-1")
    tags = {
        key: (value[:-4] + "AAAA" if key.startswith("phoenix:promo:") else value) for key, value in current.tags.items()
    }
    backend.images[current.id] = replace(current, tags=tags)
    check = channels.check_promotion(AWS_CODEC, backend.get("ami-web-1"), "prod", policy.promoters)
    assert not check.valid and check.reason == channels.PROMOTION_INVALID


def test_withdraw_removes_one_channel(backend, signers):
    policy = policy_of(signers)
    channels.promote(backend, "ami-web-1", "prod", signers["release"], policy)
    channels.promote(backend, "ami-web-1", "staging", signers["release"], policy)
    outcome = channels.withdraw(backend, "ami-web-1", "prod")
    assert outcome.changed and outcome.channels == ["staging"]
    assert channels.promoted_channels(AWS_CODEC, backend.get("ami-web-1")) == ["staging"]
    assert channels.withdraw(backend, "ami-web-1", "prod").changed is False


def test_the_channel_image_is_the_newest_promoted_and_trusted(backend, signers):
    policy = policy_of(signers)
    channels.promote(backend, "ami-web-1", "prod", signers["release"], policy)
    channels.promote(backend, "ami-web-2", "prod", signers["release"], policy)
    channels.promote(backend, "ami-web-api-1", "prod", signers["release"], policy)  # another family, newest
    images = channels.family_images(backend, "web")
    assert [item.id for item in images] == ["ami-web-3", "ami-web-2", "ami-web-1"]
    chosen = channels.channel_image(AWS_CODEC, images, "web", "prod", policy, now=NOW)
    assert chosen.image.id == "ami-web-2"  # web-3 is newer but not promoted

    revoking = policy_of(signers, revoked=["ami-web-2"])
    chosen = channels.channel_image(AWS_CODEC, images, "web", "prod", revoking, now=NOW)
    assert chosen.image.id == "ami-web-1"
    assert [(item.image.id, item.reason) for item in chosen.skipped] == [("ami-web-2", "revoked")]


def test_no_channel_image_fails_naming_each_candidate(backend, signers):
    policy = policy_of(signers)
    channels.promote(backend, "ami-web-1", "prod", signers["release"], policy)
    images = channels.family_images(backend, "web")
    with pytest.raises(PhoenixError, match=r"ami-web-1 \(web-1\): revoked") as raised:
        channels.channel_image(AWS_CODEC, images, "web", "prod", policy_of(signers, revoked=["ami-web-1"]), now=NOW)
    assert raised.value.code == "NoChannelImage"
    with pytest.raises(PhoenixError, match="no image of web is promoted to dev"):
        channels.channel_image(AWS_CODEC, images, "web", "dev", policy, now=NOW)


def test_current_by_channel_is_retentions_unverified_view(backend, signers):
    policy = policy_of(signers)
    channels.promote(backend, "ami-web-1", "prod", signers["release"], policy)
    channels.promote(backend, "ami-web-2", "prod", signers["release"], policy)
    channels.promote(backend, "ami-web-1", "staging", signers["release"], policy)
    current = channels.current_by_channel(AWS_CODEC, list(backend.images.values()))
    assert {channel: item.id for channel, item in current.items()} == {"prod": "ami-web-2", "staging": "ami-web-1"}


@pytest.mark.parametrize("channel", ["", "Prod", "prod!", "-prod", "x" * 33, None])
def test_bad_channel_names_are_refused(channel):
    with pytest.raises(InvalidInput, match="channel"):
        channels.validate_channel(channel)


def test_the_policy_reads_promoters_and_refuses_a_bad_list(signers):
    policy = policy_of(signers, promoters=("release", "other"))
    assert [key.name for key in policy.promoters] == ["release", "other"]
    assert policy.to_dict()["promoters"][0]["name"] == "release"
    with pytest.raises(InvalidInput, match="promoters must list keys"):
        parse_policy(
            {"keys": [{"public_key": pem(signers["build"].private_key)}], "promoters": "release"}, image_id_patterns={}
        )


def test_the_option_adapter_falls_back_to_the_modules_environment_variables(monkeypatch):
    from ansible_collections.phoenix.immutable.plugins.module_utils import providers
    from ansible_collections.phoenix.immutable.plugins.module_utils.channels import OptionAdapter

    options = {"region": None, "endpoint_url": "http://127.0.0.1:5000", "cloud": None}

    def get_option(name):
        return options[name]  # KeyError for an option the plugin does not have

    environ = {"AWS_DEFAULT_REGION": "eu-west-1", "AWS_ACCESS_KEY": "AKIDAWX", "AWS_SECURITY_TOKEN": "token"}
    params = OptionAdapter(get_option, environ).connection_params()
    # region is shared by every cloud and has no fallback of its own: the chosen provider reads its cloud's
    # variables (AWS_REGION unset, then AWS_DEFAULT_REGION), as it does for a module.
    assert params["region"] is None
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert providers.provider(dict(params, secret_key="testing")).connection.region == "eu-west-1"
    assert params["endpoint_url"] == "http://127.0.0.1:5000"  # the option wins over the environment
    assert params["access_key"] == "AKIDAWX" and params["session_token"] == "token"  # AWX's names
    assert params["cloud"] == "aws" and params["profile"] is None
