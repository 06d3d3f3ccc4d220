# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Public face of blue/green and canary rollouts for modules and plugins. No Ansible import.

    result = swap(params, check_mode=False, progress=None)  # {changed, rollout, diff, api_calls}; raises PhoenixError

The trust gate runs first: with ``verify`` (a trust policy) an image that fails it is refused before
anything is read from or created in the fleet, failing closed. An empty ``verify`` ({} or "") is an
error; only leaving it out skips the gate, and the result says ``verified: false``.
"""

from __future__ import annotations

from ._core.errors import InvalidInput, PhoenixError
from ._core.health import HealthSpec
from ._core.rollout import Rollout
from ._core.rollout_model import DEFAULTS, RolloutBusy, RolloutFailed, RolloutSpec, validate
from .providers import fleet_backends, provider

__all__ = [
    "DEFAULTS",
    "PhoenixError",
    "Rollout",
    "RolloutBusy",
    "RolloutFailed",
    "RolloutSpec",
    "rollout_info",
    "spec_from_params",
    "swap",
]

DEPLOYED = "deployed"
ROLLED_BACK = "rolled_back"


# The AWS names of the options, as blue_green's argument spec accepts them, for callers without a module.
ALIASES = {"listener_arn": "listener", "launch_template": "template", "timeout": "wait_timeout"}


def spec_from_params(params):
    """The RolloutSpec of a task's parameters; an option left out takes its one default (DEFAULTS)."""
    params = dict(params)
    for alias, name in ALIASES.items():
        if params.get(name) is None and params.get(alias) is not None:
            params[name] = params[alias]

    def option(name):
        value = params.get(name)
        return DEFAULTS[name] if value is None else value

    health = params.get("health") or {}
    defaults = HealthSpec()
    return RolloutSpec(
        service=params["service"],
        frontend=params.get("listener"),
        base=params.get("template"),
        image_id=params.get("image_id"),
        subnets=params.get("subnets") or None,
        size=params.get("size"),
        strategy=option("strategy"),
        steps=list(option("canary_steps")),
        step_seconds=option("step_seconds"),
        health=HealthSpec(
            target_health=health.get("target_health", defaults.target_health),
            probe_url=health.get("probe_url"),
            probe_timeout=health.get("probe_timeout") or defaults.probe_timeout,
            healthy_for_seconds=health.get("healthy_for_seconds") or defaults.healthy_for_seconds,
            alarms=list(health.get("alarms") or []),
            interval=health.get("interval") or defaults.interval,
        ),
        timeout=option("wait_timeout"),
        on_failure=option("on_failure"),
        keep_blue_seconds=option("keep_blue_seconds"),
        supersede=option("supersede"),
        lease_seconds=option("lease_seconds"),
    )


class _TrustGate:
    """Checks an image against the policy given in ``verify``; refuses, failing closed, before any change."""

    def __init__(self, params, cloud):
        """``cloud``: the task's Provider, so the gate's reads share its connection (one token, one count)."""
        self.params = params
        self.cloud = cloud
        self.policy = None
        self.images = None
        self.store = None  # the BlobStore of the ``store`` option, for the policy's scan gates
        self.verdicts = []
        from .trust import load_policy, policy_given

        # Only a verify left out skips the gate (RV(verified) false); an empty one ({} or "") is refused.
        if policy_given(params.get("verify")):
            self.policy = load_policy(params["verify"])

    def __call__(self, image_id):
        if self.policy is None:
            return
        from .trust import verify_image

        if self.images is None:
            from .attest import attestation_store

            self.images = self.cloud.images()
            self.store = attestation_store(self.params, self.cloud)
        verdict = verify_image(self.images, image_id, self.policy, store=self.store)
        self.verdicts.append(verdict.to_dict())
        if not verdict.verified:
            raise PhoenixError(
                "image %s fails the trust policy given in verify: %s; nothing was created"
                % (image_id, getattr(verdict, "message", None) or verdict.reason),
                resource=image_id,
                code="UntrustedImage",
                hint="Refusing (fail closed). Sign the image with a trusted key, or fix the policy.",
                details={"verification": verdict.to_dict()},
            )


def _calls(groups):
    """The task's calls: every backend of a task shares its provider's connection, which counts them all."""
    return dict(sorted(groups.api_calls().items()))


def rollout_info(params):
    """{rollout, api_calls}: the service's rollout as the cloud holds it now; nothing is changed."""
    spec = spec_from_params(params)
    validate(spec, deploying=False)
    groups, traffic, alarms, store = fleet_backends(params)
    groups.check_service_name(spec.service)
    view = Rollout(spec, groups, traffic, alarms, store, check_mode=True).status()
    return {"changed": False, "rollout": view, "api_calls": _calls(groups)}


def swap(params, check_mode=False, progress=None):
    """``progress``: a _core.progress.Progress that gets one line per phase or step (None: no lines)."""
    state = params.get("state") or DEPLOYED
    spec = spec_from_params(params)
    validate(spec, deploying=state == DEPLOYED)
    cloud = provider(params)
    gate = _TrustGate(params, cloud)  # Rollout calls it before its first fleet call: an untrusted image changes nothing
    groups, traffic, alarms, store = fleet_backends(cloud)
    groups.check_service_name(spec.service)
    alarms.check_alarm_names(spec.health.alarms)
    report = progress.report if progress is not None else None
    rollout = Rollout(spec, groups, traffic, alarms, store, check_mode=check_mode, verify=gate, report=report)
    try:
        if state == DEPLOYED:
            result = rollout.deployed()
        elif state == ROLLED_BACK:
            result = rollout.rolled_back()
        else:
            raise InvalidInput("state must be deployed or rolled_back, not %r" % state)
    except PhoenixError as error:
        calls = _calls(groups)
        error.details = dict(error.details or {})
        error.details.setdefault("rollout", dict(rollout.record))
        error.details["rollout"]["api_calls"] = calls
        error.details["api_calls"] = calls
        error.details.setdefault("changed", rollout.changed)
        raise
    calls = _calls(groups)
    result["rollout"]["api_calls"] = calls
    result["api_calls"] = calls
    if gate.verdicts:
        result["verification"] = gate.verdicts
    # True only when a trust policy was given and checked every image this run deployed; false says the
    # trust gate was left out (no verify) or had no image to check.
    result["verified"] = bool(gate.verdicts) and all(verdict["verified"] for verdict in gate.verdicts)
    return result
