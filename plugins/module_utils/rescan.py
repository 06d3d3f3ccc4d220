# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Public face of the fleet re-check (image_rescan), for modules and plugins. No Ansible import.

    result = rescan(params, check_mode=False)   # {changed, images, rescanned, kept, not_rescanned, counts, ...}

What is read before any cloud call: the trust policy (its keys decide which SBOM attestations are believed),
``max_age_days`` and the OSV feed (loaded once for every image). The images in use are found as fleet_drift
finds them (the instances of a service's groups and their subnets, or those carrying ``tags``, and what the
groups launch now), or given as ``image_ids``; all are read in as few calls as the cloud allows, from one
connection whose calls the result counts. The logic is ``_scan/rescan.py``.
"""

from __future__ import annotations

from ._core.drift import DriftRequest, DriftScan
from ._core.errors import InvalidInput, PhoenixError
from ._scan.rescan import rescan_images, summary, validate_max_age
from .attest import attestation_store
from .providers import drift_backends, provider
from .scan import feed_scanner

__all__ = ["rescan"]


def _signer(params, images):
    from .trust import local_signer

    if params.get("key"):
        return local_signer(params["key"], params.get("key_passphrase") or None)
    if params.get("kms_key"):
        from .providers import signing_key_backend_for

        return signing_key_backend_for(images).signer(params["kms_key"])
    raise InvalidInput("image_rescan signs the fresh scans: give key or kms_key", resource="key")


def images_in_use(cloud, params):
    """``(models, missing ids, {image id: [instance ids]})`` of the images to re-check."""
    groups, traffic, instances = drift_backends(cloud)
    wanted = list(dict.fromkeys(params.get("image_ids") or []))
    users = {image_id: [] for image_id in wanted}
    models = {}
    if not wanted:
        scan = DriftScan(groups, traffic, instances).scan(
            DriftRequest(service=params.get("service"), tags=dict(params.get("tags") or {}))
        )
        models = dict(scan.images)
        for entry in scan.report:
            if entry["image_id"]:
                users.setdefault(entry["image_id"], []).append(entry["id"])
            if entry["wanted_image"]:
                users.setdefault(entry["wanted_image"], [])  # what its group launches next is in use too
    unread = [image_id for image_id in users if image_id not in models]
    if unread:
        models.update((image.id, image) for image in instances.images(sorted(unread)))
    missing = sorted(image_id for image_id in users if image_id not in models)
    return [models[image_id] for image_id in sorted(users) if image_id in models], missing, users


def rescan(params, check_mode=False):
    from .trust import load_policy, resolved_policy

    policy = load_policy(params.get("policy"))  # None, "" and {} are refused before any call
    validate_max_age(params.get("max_age_days"))
    if params.get("image_ids") and (params.get("service") or params.get("tags")):
        raise InvalidInput(
            "image_ids names the images to re-check; service and tags find them instead: give one or the other",
            resource="image_ids",
        )
    if not params.get("store"):
        raise InvalidInput(
            "image_rescan reads each image's SBOM from the attestation store: give store",
            resource="store",
            hint="The store image_attest put the SBOM documents in (store: {container: ...}).",
        )
    scanner = feed_scanner(params["osv"])
    cloud = provider(params)
    images = cloud.images()
    signer = _signer(params, images)
    policy = resolved_policy(images, policy)
    store = attestation_store(params, cloud)
    models, missing, users = images_in_use(cloud, params)
    done = rescan_images(
        policy,
        images,
        models,
        missing,
        scanner,
        signer,
        store,
        max_age_days=params.get("max_age_days"),
        check_mode=check_mode,
    )
    result = summary(done)
    for entry in result["images"]:
        entry["instances"] = sorted(users.get(entry["image_id"], []))
    result["keyid"] = signer.keyid
    result["warnings"] = []
    if not any(key.keyid == signer.keyid for key in policy.keys):
        result["warnings"].append(
            "the signing key %s… is not one of the policy's keys: the gate will not believe the scans signed now"
            % signer.keyid[:16]
        )
    result["api_calls"] = dict(sorted(images.api_calls().items()))
    if params.get("fail_on_unscannable") and result["not_rescanned"]:
        problems = "; ".join("%s: %s" % (item["image_id"], item["reason"]) for item in result["not_rescanned"])
        raise PhoenixError(
            "%d image(s) in use could not be re-checked: %s" % (len(result["not_rescanned"]), problems),
            code="NotRescanned",
            hint="The others were re-checked (see images). Attest an SBOM with a trusted key and a store "
            "(phoenix.immutable.image_attest) on each, or replace them with images that have one.",
            details={key: value for key, value in result.items() if key != "warnings"},
        )
    return result
