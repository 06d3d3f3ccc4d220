# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Pairs with SIGNING_KEY in plugins/module_utils/argspec.py.
    DOCUMENTATION = r"""
options:
  key:
    description:
      - Path of a PEM private key (Ed25519 or ECDSA P-256, PKCS#8 or traditional format) on the host that
        runs the module.
      - Exactly one of O(key) and O(kms_key) is required.
      - Falls back to the E(PHOENIX_SIGNING_KEY) environment variable, which the AWX credential type
        C(extensions/awx/credential_types/phoenix_signing_key_pem.yml) sets.
    type: path
  key_passphrase:
    description:
      - Passphrase of an encrypted O(key). Never logged. An empty passphrase counts as none.
      - Falls back to the E(PHOENIX_SIGNING_KEY_PASSPHRASE) environment variable.
    type: str
  kms_key:
    description:
      - A cloud KMS key that signs without its private key ever leaving the key service. On AWS a key id,
        key ARN, alias name (C(alias/…)) or alias ARN of an enabled asymmetric key with key spec
        C(ECC_NIST_P256) and usage C(SIGN_VERIFY); it signs with C(ECDSA_SHA_256). A key ARN in another
        region is used in that region. On GCP a Cloud KMS key version, on Azure a Key Vault key's versioned id
        (see the cloud's guide).
      - Falls back to the E(PHOENIX_KMS_KEY) environment variable.
    type: str
"""
