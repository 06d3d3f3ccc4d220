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
        (account ids, quoted), C(revoked) and C(promoters).
      - C(revoked) lists image ids (such as C(ami-0123456789abcdef0)), image descriptor digests and signing
        keyids (each a sha256 of 64 hex digits, optionally C(sha256:)). A revoked image or descriptor fails
        verification; a signature by a revoked key never counts, so an image signed only by it is refused
        as V(revoked). An entry of any other shape fails the task, never ignored.
      - Relative key paths are read from the policy file's folder (for a mapping, from the working
        directory of the module). An unknown field, an unreadable key or a threshold the keys cannot meet
        fails the task before any image is read.
      - An empty policy (V({}), V("")) or one that trusts no key (no C(keys), an empty C(keys) list, or C(keys) as
        a mapping rather than a list) fails the task with one message; it never means "verify nothing".
      - The format, with a commented example, is in the collection's C(docs/signing.md).
    type: raw
"""
