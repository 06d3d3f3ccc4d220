"""What every metadata codec must do, run on the AWS tag codec and on the strict label codec of reference_codec.py.

A codec writes the collection's names and values in one cloud's tags or labels: keys made of parts that parse
back to exactly those parts whatever characters they hold, long values cut into legal chunks within the
cloud's limits, too much refused before any call, and keys it did not write ignored. The last tests sign an
image and promote it to the channel ``pre-prod`` through the core, on an in-memory image backend whose
metadata follows the codec's rules, and read both back.
"""

from __future__ import annotations

import datetime
import json
import os
import random
import re
from collections import Counter
from dataclasses import replace

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import given
from hypothesis import strategies as st
from reference_codec import LEGAL_KEY, LEGAL_VALUE, STRICT_CODEC

from ansible_collections.phoenix.immutable.plugins.module_utils import trust
from ansible_collections.phoenix.immutable.plugins.module_utils._aws.codec import AWS_CODEC
from ansible_collections.phoenix.immutable.plugins.module_utils._core import channels, dsse, signatures
from ansible_collections.phoenix.immutable.plugins.module_utils._core import tags as tagging
from ansible_collections.phoenix.immutable.plugins.module_utils._core.errors import InvalidInput
from ansible_collections.phoenix.immutable.plugins.module_utils._core.keys import LocalSigner
from ansible_collections.phoenix.immutable.plugins.module_utils._core.model import Disk, Image
from ansible_collections.phoenix.immutable.plugins.module_utils._core.signing import sign_image
from ansible_collections.phoenix.immutable.plugins.module_utils._core.statement import (
    build_statement,
    statement_payload,
)
from ansible_collections.phoenix.immutable.plugins.module_utils.channels import golden_image

NOW = datetime.datetime(2026, 11, 25, 12, 0, tzinfo=datetime.UTC)
ANY_TEXT = re.compile(r".+\Z", re.DOTALL)
# (codec, what its keys may be, what its values may be): AWS takes any text, the strict codec only labels.
CODECS = [
    pytest.param((AWS_CODEC, ANY_TEXT, re.compile(r".*\Z", re.DOTALL)), id="aws"),
    pytest.param((STRICT_CODEC, LEGAL_KEY, LEGAL_VALUE), id="strict-labels"),
]
AWKWARD_PARTS = [
    (tagging.MANAGED,),
    (tagging.SOURCE_IMAGE,),
    (tagging.SIGNATURE, "0123456789abcdef", "0"),
    (tagging.PROMOTION, "pre-prod", "0123456789abcdef", "12"),
    (tagging.PROMOTION, "a-b-c", "x_y", "3"),
    (tagging.PROMOTION, "pre", "prod-0123", "0"),
    (tagging.PROMOTION, "x_y", "-", "_"),
    (tagging.PROMOTION, "2026", "42", "7"),
    (tagging.PROMOTION, "a:b", "50%", ""),
]


@pytest.fixture(params=CODECS)
def rules(request):
    return request.param


def assert_legal(tags, rules):
    codec, legal_key, legal_value = rules
    assert len(tags) <= codec.limits.max_tags
    for key, value in tags.items():
        assert legal_key.match(key) and len(key) <= codec.limits.max_key_length, key
        assert legal_value.match(value) and len(value) <= codec.limits.max_value_length, (key, value)


IMAGE = Image(
    cloud="reference",
    id="image-1",
    name="web-1",
    region="region-1",
    state="available",
    created="2026-11-24T09:00:00Z",
    owner="owner-1",
    disks=[Disk("disk-0", "snapshot-1", 10)],
)


def a_real_envelope(size=3000, image=IMAGE):
    """A DSSE envelope of the in-toto statement about ``image``, about ``size`` bytes long, as image_sign stores."""
    claims = {"step-%03d" % n: os.urandom(12).hex() for n in range(size // 40)}
    return dsse.envelope(statement_payload(build_statement(image, claims)), [("cd" * 32, os.urandom(64))])


# -- keys ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("parts", AWKWARD_PARTS, ids="/".join)
def test_a_key_parses_back_to_its_parts(rules, parts):
    codec = rules[0]
    key = codec.key(*parts)
    assert codec.parts(key) == parts
    assert_legal({key: ""}, rules)


def test_keys_of_different_parts_differ(rules):
    codec = rules[0]
    keys = [codec.key(*parts) for parts in AWKWARD_PARTS]
    assert len(set(keys)) == len(keys)


@given(parts=st.lists(st.text(alphabet="ab-_:%0é", max_size=6), min_size=1, max_size=4))
def test_any_parts_round_trip_or_are_refused_as_too_long(parts):
    for codec, legal_key, _legal_value in (CODECS[0].values[0], CODECS[1].values[0]):
        try:
            key = codec.key(*parts)
        except InvalidInput as refused:
            assert "at most" in refused.message
            continue
        assert codec.parts(key) == tuple(parts) and legal_key.match(key)


def test_the_aws_keys_are_those_already_on_images():
    assert AWS_CODEC.key(tagging.MANAGED) == "phoenix:managed"
    assert AWS_CODEC.key(tagging.SIGNATURE, "0123456789abcdef", "0") == "phoenix:sig:0123456789abcdef:0"
    assert AWS_CODEC.key(tagging.PROMOTION, "pre-prod", "0123456789abcdef", "1") == (
        "phoenix:promo:pre-prod:0123456789abcdef:1"
    )


def test_a_key_too_long_for_the_cloud_is_refused(rules):
    codec = rules[0]
    with pytest.raises(InvalidInput, match="at most %d" % codec.limits.max_key_length):
        codec.key(tagging.PROMOTION, "c" * codec.limits.max_key_length, "0")


@pytest.mark.parametrize(
    "foreign",
    [
        "Name",
        "aws:cloudformation:stack-name",
        "phoenix",
        "phoenix-sig-0123456789abcdef-0",
        "phoenix:sig:junk",
        "phoenix_-sig_-junk",
        "phoenix:sig:0123456789abcdef:x",
        "phoenix_-sig_-0123456789abcdef_-x",
        "phoenix_-sig_-0123456789abcdef_-0_zz",
        "service",
    ],
)
def test_keys_the_codec_did_not_write_are_ignored(rules, foreign):
    codec = rules[0]
    assert codec.chunk_groups(tagging.SIGNATURE, {foreign: "x"}, 1) == {}
    assert signatures.stored_signatures(codec, replace(IMAGE, tags={foreign: "x"})) == []
    assert channels.stored_promotions(codec, replace(IMAGE, tags={foreign: "x"})) == {}


# -- values --------------------------------------------------------------------------------------------------


# Fixed bytes (not os.urandom) so that every xdist worker collects the same parameters.
@pytest.mark.parametrize(
    "data",
    [b"\x00", b"\xff", random.Random(7).randbytes(2000), bytes(range(256)) * 8],
    ids=["zero", "ff", "2000-random", "every-byte"],
)
def test_a_long_value_is_stored_in_legal_chunks_and_read_back(rules, data):
    codec = rules[0]
    tags = codec.chunks(tagging.SIGNATURE, ("0123456789abcdef",), data, "image 1")
    assert_legal(tags, rules)
    [(group, chunks)] = codec.chunk_groups(tagging.SIGNATURE, dict(tags, other="x"), 1).items()
    assert group == ("0123456789abcdef",) and sorted(chunks) == list(range(len(tags)))
    assert codec.decode_value([chunks[number][1] for number in sorted(chunks)]) == data


def test_a_real_envelope_round_trips_through_the_signature_tags(rules):
    codec = rules[0]
    envelope = a_real_envelope()
    assert len(json.dumps(envelope)) > 3000
    tags = signatures.envelope_tags(codec, "0123456789abcdef" * 4, envelope)
    assert len(tags) > 1
    assert_legal(tags, rules)
    [stored] = signatures.stored_signatures(codec, replace(IMAGE, tags=dict(tags, service="web")))
    assert stored.error is None and stored.envelope == envelope and stored.key_prefix == "0123456789abcdef"


def test_where_the_codec_cannot_store_statements_one_is_rebuilt_from_the_image_and_binds_to_it(rules):
    codec = rules[0]
    envelope = a_real_envelope(200)
    tags = signatures.envelope_tags(codec, "cd" * 32, envelope)
    [stored] = signatures.stored_signatures(codec, replace(IMAGE, tags=tags))
    assert stored.envelope == envelope
    # The same tags on another image read as a statement about that image, which the signature does not sign.
    other = replace(IMAGE, id="image-2", tags=tags)
    [copied] = signatures.stored_signatures(codec, other)
    copied_payload = dsse.parse(copied.envelope).payload
    if codec.stores_statement:
        assert copied_payload == dsse.parse(envelope).payload
    else:
        assert copied_payload == statement_payload(
            build_statement(
                other,
                json.loads(dsse.parse(envelope).payload)["predicate"]["buildDefinition"]["internalParameters"][
                    "claims"
                ],
            )
        )
        assert b"image-1" not in copied_payload


def test_a_detached_signature_without_an_image_to_rebuild_from_is_unreadable_not_a_crash():
    envelope = a_real_envelope(200)
    tags = signatures.envelope_tags(STRICT_CODEC, "cd" * 32, envelope)
    [stored] = signatures.read_chunked(STRICT_CODEC, tagging.SIGNATURE, 1, tags, "signature tags of key")
    assert stored.envelope is None and "none can be rebuilt" in stored.error


def test_a_value_too_large_for_the_cloud_is_refused_clearly(rules):
    codec = rules[0]
    too_much = os.urandom(codec.limits.max_tags * codec.limits.max_value_length)
    with pytest.raises(InvalidInput, match=r"at most %d tags are allowed" % codec.limits.max_tags) as refused:
        codec.chunks(tagging.SIGNATURE, ("0123456789abcdef",), too_much, "image 1")
    assert "image 1" in refused.value.message and "Nothing was changed" in refused.value.hint


def test_values_that_are_not_the_codecs_encoding_are_a_reason_not_a_crash(rules):
    codec = rules[0]
    tags = signatures.envelope_tags(codec, "ab" * 32, a_real_envelope(300))
    first = min(tags)
    [stored] = signatures.stored_signatures(codec, replace(IMAGE, tags=dict(tags, **{first: "!" + tags[first][1:]})))
    assert stored.envelope is None and "unreadable" in stored.error


# -- through the core, on an image backend that keeps the codec's rules ------------------------------------------


class RuledImages:
    """Images of one region in memory, refusing metadata its codec's cloud would refuse."""

    cloud = "reference"
    region = "region-1"

    def __init__(self, rules):
        self.rules = rules
        self.codec = rules[0]
        self.images = {}
        self.calls = Counter()

    def add(self, image_id, name, created):
        self.images[image_id] = Image(
            cloud=self.cloud,
            id=image_id,
            name=name,
            region=self.region,
            state="available",
            created=created,
            owner="owner-1",
            tags={"service": "web"},
            disks=[Disk("disk-0", "snapshot-%s" % image_id, 10)],
        )

    def get(self, image_id):
        return self.images.get(image_id)

    def search(self, image_ids=None, name_pattern=None, tags=None, owners=None):
        prefix = (name_pattern or "").rstrip("*")
        return [image for image in self.images.values() if image.name.startswith(prefix)]

    def set_tags(self, image, to_set, to_remove):
        self.calls["set_tags"] += 1
        tags = {key: value for key, value in self.images[image.id].tags.items() if key not in to_remove}
        tags.update(to_set)
        assert_legal(tags, self.rules)
        self.images[image.id] = replace(self.images[image.id], tags=tags)


def pem(private_key):
    return (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.fixture(scope="module")
def signers():
    return {name: LocalSigner(ed25519.Ed25519PrivateKey.generate(), name=name) for name in ("build", "release")}


@pytest.fixture
def policy(signers):
    return trust.load_policy(
        {
            "keys": [{"name": "build", "public_key": pem(signers["build"].private_key)}],
            "promoters": [{"name": "release", "public_key": pem(signers["release"].private_key)}],
        }
    )


def test_an_image_signed_and_promoted_to_pre_prod_reads_back(rules, signers, policy):
    images = RuledImages(rules)
    images.add("image-1", "web-1", "2026-11-24T09:00:00Z")
    sign_image(images, "image-1", signers["build"], claims={"tests": "passed"})
    assert trust.verify_image(images, "image-1", policy, now=NOW).verified

    outcome = channels.promote(images, "image-1", "pre-prod", signers["release"], policy, now=NOW)
    assert outcome.changed and outcome.channels == ["pre-prod"]
    image = images.get("image-1")
    assert channels.promoted_channels(images.codec, image) == ["pre-prod"]
    assert channels.check_promotion(images.codec, image, "pre-prod", policy.promoters).valid
    chosen = golden_image(images, "web", "pre-prod", policy)
    assert chosen.image.id == "image-1" and chosen.promotion.promoter == "release"
    again = channels.promote(images, "image-1", "pre-prod", signers["release"], policy, now=NOW)
    assert again.changed is False and images.calls["set_tags"] == 2


def test_withdrawing_channel_pre_leaves_pre_prod(rules, signers, policy):
    images = RuledImages(rules)
    images.add("image-1", "web-1", "2026-11-24T09:00:00Z")
    sign_image(images, "image-1", signers["build"])
    for channel in ("pre", "pre-prod"):
        channels.promote(images, "image-1", channel, signers["release"], policy, now=NOW)
    assert channels.promoted_channels(images.codec, images.get("image-1")) == ["pre", "pre-prod"]

    withdrawn = channels.withdraw(images, "image-1", "pre")
    assert withdrawn.changed and withdrawn.channels == ["pre-prod"]
    assert channels.promoted_channels(images.codec, images.get("image-1")) == ["pre-prod"]
    assert golden_image(images, "web", "pre-prod", policy).image.id == "image-1"


def test_a_signature_too_large_for_the_cloud_changes_nothing(rules, signers):
    images = RuledImages(rules)
    images.add("image-1", "web-1", "2026-11-24T09:00:00Z")
    incompressible = os.urandom(images.codec.limits.max_tags * images.codec.limits.max_value_length).hex()
    with pytest.raises(InvalidInput, match="at most"):
        sign_image(images, "image-1", signers["build"], claims={"blob": incompressible})
    assert images.calls["set_tags"] == 0
