# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Public face of scan attestations, for modules and plugins. No Ansible import.

Usage:

store = attestation_store(params)                      # a BlobStore from the ``store`` option, or None
result = attest_image(image_backend(params), "ami-…", signer, vuln_scan=scanned["predicate"], store=store)
verdict = verify_image(backend, "ami-…", policy, store=store)   # trust.py: the policy's scan gates
"""

from __future__ import annotations

import dataclasses
import json
import os

from ._core.backends import BLOB_PREFIX
from ._core.canonical import canonical_json
from ._core.errors import InvalidInput, PhoenixError
from ._core.signing import existing_image
from ._scan import attest as attesting
from ._scan import sbom as sboms
from ._scan.attestations import findings_of, sbom_predicate
from .scan import load_sbom

DEFAULT_PREFIX = BLOB_PREFIX


def attestation_store(params, cloud=None):
    """The BlobStore the ``store`` option ({container, prefix}) names, or None when it is not given.

    ``cloud`` is the task's Provider when it has one already, so the store's calls are counted with its others.
    """
    store = params.get("store")
    if not store:
        return None
    if not isinstance(store, dict) or not store.get("container"):
        raise InvalidInput(
            "store must be a mapping naming its container ({container: <bucket or container>, prefix: ...}), not %r"
            % (store,),
            resource="store",
        )
    if cloud is None:
        from .providers import provider

        cloud = provider(params)
    return cloud.blob_store(store["container"], prefix=store.get("prefix") or DEFAULT_PREFIX)


def _document(value, what):
    """A JSON mapping given as itself or as the path of its file."""
    if isinstance(value, dict):
        return value
    path = os.path.expanduser(str(value))
    try:
        with open(path, "rb") as handle:
            document = json.loads(handle.read().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise InvalidInput("cannot read the %s %s: %s" % (what, path, error), resource=path) from None
    if not isinstance(document, dict):
        raise InvalidInput("the %s %s is not a JSON object" % (what, path), resource=path)
    return document


def vuln_predicate_of(value):
    """The vuln/v1 predicate of ``value``: the predicate itself, vuln_scan's whole result, or a file of either."""
    document = _document(value, "vulnerability scan")
    if "predicate" in document and isinstance(document["predicate"], dict):
        document = document["predicate"]
    if findings_of(document) is None or not (document.get("metadata") or {}).get("scanFinishedOn"):
        raise InvalidInput(
            "the vulnerability scan given is not a vuln/v1 predicate with findings and scanFinishedOn",
            resource="vuln_scan",
            hint="Give the predicate phoenix.immutable.vuln_scan returns (result.predicate), or the whole result.",
        )
    return document


def compliance_predicate_of(value):
    document = _document(value, "compliance result")
    if "predicate" in document and isinstance(document["predicate"], dict):
        document = document["predicate"]
    if not document.get("profile") or not isinstance(document.get("failedRules"), list):
        raise InvalidInput(
            "the compliance result given has no profile or failedRules (see attestations.compliance_predicate)",
            resource="compliance",
        )
    return document


def attest_image(
    backend, image_id, signer, sbom=None, vuln_scan=None, compliance=None, store=None, check_mode=False, image=None
):
    """Sign and store each predicate given about the image; returns the module's result (without api_calls).

    ``image``, when the caller has just read it, is attested as it is instead of being read again.
    """
    wanted = []
    if sbom is not None:
        document = load_sbom(sbom)
        digest = sboms.sbom_digest(document)
        predicate = sbom_predicate(
            digest,
            sboms.producer_of(document),
            sboms.library_count(document),
            str((document.get("metadata") or {}).get("timestamp", "")),
            uri=store.url_of(digest) if store is not None else None,
        )
        blobs = [(digest, canonical_json(document), "sbom")] if store is not None else []
        wanted.append((attesting.SBOM, predicate, blobs))
    if vuln_scan is not None:
        wanted.append((attesting.VULN, vuln_predicate_of(vuln_scan), []))
    if compliance is not None:
        wanted.append((attesting.COMPLIANCE, compliance_predicate_of(compliance), []))
    if not wanted:
        raise InvalidInput("nothing to attest: give sbom, vuln_scan or compliance", resource=image_id)
    if image is None or image.id != image_id:
        image = existing_image(backend, image_id)
    outcomes = []
    for kind, predicate, blobs in wanted:
        outcome = attesting.attest(
            backend, image.id, kind, predicate, signer, store=store, blobs=blobs, check_mode=check_mode, image=image
        )
        outcomes.append(outcome)
        if outcome.changed:  # the next kind sizes its tags against the tags as they now are
            tags = {key: value for key, value in image.tags.items() if key not in outcome.tags_removed}
            tags.update({key: "" for key in outcome.tags_set})
            image = dataclasses.replace(image, tags=tags)
    return {
        "changed": any(outcome.changed for outcome in outcomes),
        "image_id": image.id,
        "region": image.region,
        "keyid": signer.keyid,
        "attestations": [outcome.to_dict() for outcome in outcomes],
        "actions": [action for outcome in outcomes for action in outcome.actions],
    }


def image_attester(options, cloud, check_mode=False):
    """What the image module's ``sign.attest`` does to each image before signing it (ImageSigning's ``attest``):
    attest_image with the documents of ``options`` ({sbom, vuln_scan, compliance, store}), or None without any.

    The documents are read once, here, so that a missing or malformed one fails before anything is imaged.
    """
    if not options:
        return None
    documents = {name: options.get(name) for name in ("sbom", "vuln_scan", "compliance")}
    if all(value is None for value in documents.values()):
        raise InvalidInput("sign.attest names nothing to attest: give sbom, vuln_scan or compliance", resource="attest")
    if documents["sbom"] is not None:
        documents["sbom"] = load_sbom(documents["sbom"])
    if documents["vuln_scan"] is not None:
        documents["vuln_scan"] = vuln_predicate_of(documents["vuln_scan"])
    if documents["compliance"] is not None:
        documents["compliance"] = compliance_predicate_of(documents["compliance"])
    store = attestation_store(options, cloud)

    def attest(backend, image, signer):
        return attest_image(backend, image.id, signer, store=store, check_mode=check_mode, image=image, **documents)

    return attest


__all__ = ["PhoenixError", "attest_image", "attestation_store", "image_attester"]
