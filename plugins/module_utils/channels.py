# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Public face of channels (image_channel, the golden_image lookup), for modules and plugins alike.

Nothing here asks whether it runs in a module or in a lookup on the controller: a caller hands in its
options as a mapping (a module its ``params``; a lookup its options through ``OptionAdapter``).

policy = trusted_policy("trust.yml", images)            # keys and promoters, KMS keys resolved
promote(images, "ami-…", "prod", signer, policy)        # signed promotion statement in the image's tags
withdraw(images, "ami-…", "prod")
golden_image(images, "web", "prod", policy)             # ChannelImage; PhoenixError when none qualifies

Both take ``store=`` (a BlobStore, ``attest.attestation_store(params)``) for the policy's scan gates.
"""

from __future__ import annotations

import os

from ._core.channels import (
    ChannelImage,
    ChannelOutcome,
    channel_image,
    family_images,
    family_of,
    needs_key_service,
    resolve_promoters,
    validate_channel,
    validate_family,
)
from ._core.channels import promote as _promote
from ._core.channels import withdraw as _withdraw
from ._core.errors import InvalidInput, PhoenixError
from .argspec import CONNECTION
from .trust import load_policy

__all__ = [
    "ChannelImage",
    "ChannelOutcome",
    "InvalidInput",
    "OptionAdapter",
    "PhoenixError",
    "family_of",
    "golden_image",
    "promote",
    "trusted_policy",
    "withdraw",
]


def trusted_policy(source, images, key_backend=None):
    """The TrustPolicy from ``source`` (path, mapping or policy) with its keys and promoters usable.

    KMS keys (trusted or promoters) have their public keys fetched through the key service of the cloud of
    ``images`` (an ImageBackend), on the same connection.
    """
    policy = load_policy(source)  # None, "" and {} are refused with the one message of an empty policy
    if needs_key_service(policy) and key_backend is None:
        from .providers import signing_key_backend_for

        key_backend = signing_key_backend_for(images)
    if any(key.public_key is None for key in policy.keys):
        policy.resolve(key_backend)
    resolve_promoters(policy, key_backend)
    return policy


def promote(images, image_id, channel, signer, policy, check_mode=False, store=None):
    """Promote ``image_id`` to ``channel`` with ``signer``, one of the policy's promoters; a ChannelOutcome."""
    return _promote(images, image_id, channel, signer, policy, check_mode=check_mode, store=store)


def withdraw(images, image_id, channel, check_mode=False):
    return _withdraw(images, image_id, channel, check_mode=check_mode)


def golden_image(images, family, channel, policy, store=None):
    """The ChannelImage of ``family`` in ``channel``: newest, validly promoted, satisfying ``policy``.

    One listing of the family's images; raises PhoenixError (code NoChannelImage) when none qualifies.
    """
    validate_family(family)
    validate_channel(channel)
    return channel_image(images.codec, family_images(images, family), family, channel, policy, store=store)


class OptionAdapter:
    """A plugin's options seen as module params: connection options with the modules' environment fallbacks.

    ``get_option(name)`` is the plugin's own accessor; options left unset fall back to the same environment
    variables as the modules' options (AWS_REGION, AWS_DEFAULT_REGION, AWS_ENDPOINT_URL, AWX's
    AWS_ACCESS_KEY, AWS_SECURITY_TOKEN, …), read from ``environ``.
    """

    def __init__(self, get_option, environ=None):
        self._get_option = get_option
        self._environ = os.environ if environ is None else environ

    def get(self, name, default=None):
        try:
            value = self._get_option(name)
        except KeyError:
            value = None
        if value in (None, ""):
            spec = CONNECTION.get(name, {})
            fallback = spec.get("fallback")
            if fallback:
                for variable in fallback[1]:
                    if self._environ.get(variable):
                        return self._environ[variable]
            value = spec.get("default", default)
        return default if value is None else value

    def __getitem__(self, name):
        return self.get(name)

    def connection_params(self):
        """Every connection option, resolved: what providers.py reads."""
        return {name: self.get(name) for name in CONNECTION}
