# Private to this collection.
"""One small method per AWS KMS call, through the shared retry policy (see api.AwsApi)."""

from __future__ import annotations

from .api import AwsApi


class KmsApi(AwsApi):
    def describe_key(self, key_id):
        return self._call("kms", "describe_key", resource=key_id, KeyId=key_id)["KeyMetadata"]

    def get_public_key(self, key_id):
        return self._call("kms", "get_public_key", resource=key_id, KeyId=key_id)

    def sign(self, key_id, message, message_type, algorithm):
        response = self._call(
            "kms",
            "sign",
            resource=key_id,
            KeyId=key_id,
            Message=message,
            MessageType=message_type,
            SigningAlgorithm=algorithm,
        )
        return response["Signature"]
