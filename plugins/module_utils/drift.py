# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Public face of drift detection and replacement (fleet_drift) for modules and plugins. No Ansible import.

    result = drift(params, waiter, check_mode=False, report=None)   # {changed, instances, counts, batches, ...}

``report(line)`` is called with one line when the fleet is classified and one per replaced batch (a long wait
adds a line at most every 30 s); modules pass ``module.progress.report``.

The trust policy, when given, is read before any cloud call (a bad or empty policy changes nothing), and each
distinct image is read once (all of them in as few calls as the cloud allows) and judged once. ``params["store"]``
(``{container, prefix}``) is where the full reports of summarised scan attestations are read from when a policy's
``vulnerabilities`` or ``compliance`` cannot be decided on a summary alone.
"""

from __future__ import annotations

from ._core.drift import (
    COMPLIANT,
    REASONS,
    REMEDIATIONS,
    REPLACE,
    REPORT,
    DriftRequest,
    DriftScan,
    validate,
)
from ._core.health import HealthSpec
from .providers import drift_backends, provider
from .trust import policy_given

__all__ = ["COMPLIANT", "REASONS", "REMEDIATIONS", "REPLACE", "REPORT", "DriftRequest", "drift", "request_from_params"]


def request_from_params(params):
    return DriftRequest(
        service=params.get("service"),
        tags=dict(params.get("tags") or {}),
        max_age_days=params.get("max_age_days"),
        remediate=params.get("remediate") or REPORT,
        max_unavailable=params.get("max_unavailable") or "25%",
        terminate_unmanaged=bool(params.get("terminate_unmanaged")),
        trust=policy_given(params.get("policy")),  # {} or "" is given, and refused by load_policy
        health_interval=params.get("health_interval") or 5,
    )


def drift(params, waiter, check_mode=False, report=None):
    request = request_from_params(params)
    validate(request)
    policy = None
    if request.trust:
        from .trust import load_policy

        policy = load_policy(params["policy"])
    cloud = provider(params)
    groups, traffic, instances = drift_backends(cloud)
    verifier = None
    if policy is not None:
        from .attest import attestation_store
        from .trust import verify_images

        store = attestation_store(params, cloud)

        def verifier(images, missing):
            return verify_images(instances, images, policy, missing=missing, store=store)

    scan = DriftScan(groups, traffic, instances, verifier=verifier, waiter=waiter, check_mode=check_mode, report=report)
    health = HealthSpec(target_health=params.get("target_health", True), interval=request.health_interval)
    result = scan.run(request, health=health)
    result["api_calls"] = dict(sorted(instances.api_calls().items()))
    return result
