# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Pairs with POLICY in plugins/module_utils/argspec.py.
    DOCUMENTATION = r"""
options:
  policy:
    description:
      - The trust policy an image must satisfy, as the path of a YAML or JSON policy file or as the policy
        itself (a mapping).
      - Fields are C(keys) (trusted keys, each with C(public_key) as a PEM path or inline PEM, or C(kms_key)
        as a KMS key id, ARN or alias with an optional C(region), and an optional C(name)), C(threshold)
        (distinct trusted keys whose valid signatures are required, default 1), C(required_claims) (claim
        name to the required value or a list of accepted values), C(max_age_days), C(allowed_owners)
        (account ids, quoted) and C(revoked) (image ids or descriptor sha256 digests).
      - Relative key paths are read from the policy file's folder (for a mapping, from the working
        directory of the module). An unknown field, an unreadable key or a threshold the keys cannot meet
        fails the task before any image is read.
      - The format, with a commented example, is in the collection's C(docs/signing.md).
    type: raw
"""
