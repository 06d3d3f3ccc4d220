"""The phoenix.immutable.golden_image lookup through ansible-playbook against the moto server.

The lookup runs on the controller: it reads its connection from the AWS_* environment the `playbook`
fixture passes (module_defaults do not reach lookups). Images are signed and promoted with the real
modules first, then read back through the lookup; call counts come from the emulator.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from emulators.lifecycle import Keys, make_images, write_policy


@pytest.fixture
def keys(tmp_path):
    return Keys(tmp_path)


@pytest.fixture
def policy(tmp_path, keys):
    return write_policy(tmp_path, keys, trusted=["build"], promoters=["release"])


def sign(image_id, keys):
    return {
        "name": "sign %s" % image_id,
        "phoenix.immutable.image_sign": {"image_id": image_id, "key": keys.private("build")},
    }


def promote(image_id, channel, policy, keys):
    return {
        "name": "promote %s to %s" % (image_id, channel),
        "phoenix.immutable.image_channel": {
            "image_id": image_id,
            "channel": channel,
            "policy": policy,
            "key": keys.private("release"),
        },
    }


def lookup(title, expression):
    return {"name": title, "ansible.builtin.debug": {"msg": "{{ %s }}" % expression}}


@pytest.fixture
def channels(aws, playbook, keys, policy):
    """web-1 (oldest) in prod and canary; web-2 signed, promoted nowhere; web-3 (newest) in staging only."""
    made = make_images(aws, ["web-1", "web-2", "web-3", "webapp-9"], [30, 20, 10, 1])
    run = playbook(
        [sign(made[name], keys) for name in ("web-1", "web-2", "web-3", "webapp-9")]
        + [
            promote(made["web-1"], "prod", policy, keys),
            promote(made["web-1"], "canary", policy, keys),
            promote(made["web-3"], "staging", policy, keys),
            promote(made["webapp-9"], "prod", policy, keys),
        ]
    )
    assert run.rc == 0, run.explain()
    aws.emu.reset_calls()
    return made


def test_returns_the_promoted_image_not_a_newer_unpromoted_one(aws, playbook, policy, channels):
    run = playbook(
        [
            lookup("prod", "lookup('phoenix.immutable.golden_image', 'web', channel='prod', policy='%s')" % policy),
            lookup(
                "staging", "lookup('phoenix.immutable.golden_image', 'web', channel='staging', policy='%s')" % policy
            ),
            lookup(
                "detail",
                "lookup('phoenix.immutable.golden_image', 'web', channel='prod', policy='%s', detail=true,"
                " region='us-east-1')" % policy,
            ),
        ]
    )
    assert run.rc == 0, run.explain()
    assert run.task("prod")["result"]["msg"] == channels["web-1"]  # web-2 and web-3 are newer, not in prod
    assert run.task("staging")["result"]["msg"] == channels["web-3"]
    model = run.task("detail")["result"]["msg"]
    assert model["id"] == channels["web-1"] and model["name"] == "web-1" and model["family"] == "web"
    assert model["channel"] == "prod" and model["promoted_by"] == "release"
    assert model["verification"]["verified"] is True
    assert model["tags"]["phoenix:promo:prod:" + model["promotion_keyid"][:16] + ":0"]
    # The image's newest state, read back: still web-1 is the only web image promoted to prod.
    images = aws.client("ec2").describe_images(Owners=["self"], Filters=[{"Name": "name", "Values": ["web-*"]}])
    promoted = [
        image["Name"]
        for image in images["Images"]
        if any(tag["Key"].startswith("phoenix:promo:prod:") for tag in image.get("Tags", []))
    ]
    assert promoted == ["web-1"]


def test_fails_on_a_channel_whose_only_image_was_revoked(aws, playbook, tmp_path, keys, channels):
    revoking = write_policy(
        tmp_path, keys, trusted=["build"], promoters=["release"], name="revoking.yml", revoked=[channels["web-1"]]
    )
    run = playbook(
        [lookup("canary", "lookup('phoenix.immutable.golden_image', 'web', channel='canary', policy='%s')" % revoking)]
    )
    assert run.rc != 0
    message = run.task("canary")["result"]["msg"]
    assert "no image of web promoted to canary satisfies the trust policy" in message
    assert "%s (web-1): revoked" % channels["web-1"] in message


def test_fails_clearly_on_a_channel_nothing_was_promoted_to(aws, playbook, policy, channels):
    run = playbook(
        [lookup("none", "lookup('phoenix.immutable.golden_image', 'web', channel='dev', policy='%s')" % policy)]
    )
    assert run.rc != 0
    assert "no image of web is promoted to dev" in run.task("none")["result"]["msg"]


def test_a_promotion_by_a_key_that_is_no_longer_a_promoter_does_not_count(aws, playbook, tmp_path, keys, channels):
    rotated = write_policy(tmp_path, keys, trusted=["build"], promoters=["new-release"], name="rotated.yml")
    run = playbook(
        [lookup("rotated", "lookup('phoenix.immutable.golden_image', 'web', channel='prod', policy='%s')" % rotated)]
    )
    assert run.rc != 0
    assert "not by a promoter of the policy" in run.task("rotated")["result"]["msg"]


def test_results_are_cached_for_the_play_one_round_per_distinct_query(aws, playbook, policy, channels):
    prod = "lookup('phoenix.immutable.golden_image', 'web', channel='prod', policy='%s')" % policy
    staging = "lookup('phoenix.immutable.golden_image', 'web', channel='staging', policy='%s')" % policy
    run = playbook([lookup("prod %d" % number, prod) for number in range(4)] + [lookup("staging", staging)])
    assert run.rc == 0, run.explain()
    assert {run.task("prod %d" % number)["result"]["msg"] for number in range(4)} == {channels["web-1"]}
    assert aws.calls["ec2:DescribeImages"] == 2, aws.calls


def test_the_demo_tasks_promote_read_back_and_retire(aws, playbook, tmp_path, keys):
    """playbooks/tasks/demo_lifecycle.yml, with the facts the demo gives it made here."""
    keys.public("build")  # tmp_path/build.pub, where the demo keeps it
    made = make_images(aws, ["web-golden-1", "web-golden-1-next", "web-golden-1-imposter"], [3, 2, 1])
    claims = {"tests": "passed", "scan": "passed"}
    run = playbook(
        [
            {
                "name": "sign %s" % name,
                "phoenix.immutable.image_sign": {
                    "image_id": made[name],
                    "key": keys.private("build"),
                    "claims": claims,
                },
            }
            for name in ("web-golden-1", "web-golden-1-next")
        ]
        + [
            {
                "name": "facts",
                "ansible.builtin.set_fact": {
                    "demo_workspace": {"path": str(tmp_path)},
                    "demo_golden": {"id": made["web-golden-1"], "name": "web-golden-1"},
                    "demo_next": {"id": made["web-golden-1-next"], "name": "web-golden-1-next"},
                    "demo_region": aws.seed.region,
                },
            },
            {
                "name": "lifecycle",
                "ansible.builtin.include_tasks": str(
                    Path(__file__).resolve().parents[2] / "playbooks/tasks/demo_lifecycle.yml"
                ),
            },
        ]
    )
    assert run.rc == 0, run.explain()
    retired = [record for record in run.tasks if record["task"].endswith("Retire what nothing uses")][0]["result"]
    # web-golden-1-imposter is the newest (kept by rank); web-golden-1 is prod's, -next staging's: nothing goes.
    assert retired["pruned"] == [] and len(retired["kept"]) == 3
    reasons = {entry["name"]: entry["reasons"] for entry in retired["kept"]}
    assert reasons["web-golden-1"] == ["current image of channel prod"]
    assert reasons["web-golden-1-next"] == ["current image of channel staging"]


def test_a_relative_policy_path_is_read_from_the_playbooks_folder(aws, playbook, tmp_path, policy, channels):
    assert Path(policy) == tmp_path / "trust.yml"
    book = tmp_path / "read.yml"
    book.write_text(
        yaml.safe_dump(
            [
                {
                    "name": "read",
                    "hosts": "localhost",
                    "gather_facts": False,
                    "tasks": [
                        lookup(
                            "prod",
                            "lookup('phoenix.immutable.golden_image', 'web', channel='prod', policy='trust.yml')",
                        )
                    ],
                }
            ]
        ),
        encoding="utf-8",
    )
    run = playbook(book)
    assert run.rc == 0, run.explain()
    assert run.task("prod")["result"]["msg"] == channels["web-1"]
