# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Pairs with ATTESTATION_STORE in plugins/module_utils/argspec.py.
    DOCUMENTATION = r"""
options:
  store:
    description:
      - The object store in which scan attestations keep what does not fit in an image's tags, each object
        addressed by its sha256 as C(<prefix>sha256/<hex>). An S3 bucket (AWS), a Cloud Storage bucket (GCP),
        or a blob container (Azure, as C(https://<account>.blob.core.windows.net/<container>) or
        C(<account>/<container>)).
      - M(phoenix.immutable.image_attest) puts there the full report of a scan whose attestation is stored
        as a summary, the SBOM document, and on GCP every attestation's statement (labels hold only its
        signature and the statement's digest), so on GCP attesting needs it.
      - When verifying, it is read only when the policy has C(vulnerabilities) or C(compliance) and an
        image's attestation is a summary that cannot decide alone, or is kept in the store (GCP). Without
        it such an image is refused (fail closed, reason V(incomplete scan)); what is read is believed
        only if its sha256 is the signed digest.
    type: dict
    suboptions:
      container:
        description: The bucket or container.
        type: str
        required: true
      prefix:
        description: The key prefix of the objects.
        type: str
        default: phoenix-attestations/
"""
