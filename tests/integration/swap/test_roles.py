"""playbooks/deploy.yml and playbooks/rollback.yml (the deploy and rollback roles) on moto, as AWX runs them."""

from __future__ import annotations

from pathlib import Path

PLAYBOOKS = Path(__file__).resolve().parents[3] / "playbooks"
VERIFY = "Verify the image against the trust policy (fail closed)"
SWAP = "Swap the service's group for one of the image, blue/green or canary"


def task(run, name):
    """The record of a role's task, whatever prefix the callback gives role tasks."""
    [found] = [record for record in run.tasks if record["task"].split(" : ")[-1] == name]
    return found


def test_deploy_then_rollback_playbooks(playbook, service, golden, trust, fleet, probe):
    common = {"deploy_service": service.service, "deploy_listener_arn": service.listener_arn}
    common["deploy_launch_template"] = service.launch_template_name
    fast = {"deploy_step_seconds": 0, "deploy_keep_blue_seconds": 0, "deploy_health": {"interval": 0.2}}

    refused = playbook(
        PLAYBOOKS / "deploy.yml", extra_vars={**common, **fast, "deploy_image_id": golden.first, "deploy_policy": trust}
    )
    assert refused.rc != 0
    assert task(refused, VERIFY)["status"] == "failed"
    assert set(fleet().groups) == {"web-blue"}

    extra = {**common, **fast, "deploy_image_id": golden.second, "deploy_policy": trust}
    extra["deploy_health"] = {"interval": 0.2, "probe_url": probe.url}
    deployed = playbook(PLAYBOOKS / "deploy.yml", extra_vars=extra)
    assert deployed.rc == 0, deployed.explain()
    swap = task(deployed, SWAP)["result"]
    assert [p["weight"] for p in swap["rollout"]["phases"] if p["phase"] == "shift"] == [10, 50, 100]
    assert fleet().serving() == {"web-a": 100}

    again = playbook(PLAYBOOKS / "deploy.yml", extra_vars=extra)
    assert again.rc == 0, again.explain()
    assert task(again, SWAP)["status"] == "ok"

    back = {
        "rollback_service": service.service,
        "rollback_listener_arn": service.listener_arn,
        "rollback_launch_template": service.launch_template_name,
        "rollback_keep_blue_seconds": 0,
        "rollback_health": {"interval": 0.2},
    }
    rolled = playbook(PLAYBOOKS / "rollback.yml", extra_vars=back)
    assert rolled.rc == 0, rolled.explain()
    state = fleet()
    assert state.serving() == {"web-b": 100}
    assert state.groups["web-b"]["images"] == {service.image_id} and set(state.groups) == {"web-b"}
