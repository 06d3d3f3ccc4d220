# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Argument spec pieces shared by the modules.

Each piece pairs 1:1 with a doc fragment in plugins/doc_fragments/ (a provider's options with the
provider's ``doc_fragment``); a unit test holds them to the same options, types, defaults, choices and
aliases.
"""

from __future__ import annotations

from ansible.module_utils.basic import env_fallback

from ._core.backends import BLOB_PREFIX
from .providers import PROVIDERS, SUPPORTED_CLOUDS

# Doc fragment phoenix.immutable.cloud. ``region`` and ``endpoint_url`` mean the same on every cloud, so they are
# declared once, with no environment fallback: each provider reads its own cloud's variables when they are unset
# (AWS_REGION, AWS_DEFAULT_REGION, AWS_ENDPOINT_URL; GCP_REGION, GCP_ENDPOINT_URL; on Azure they stand for
# location and resource_manager_url).
CLOUD = dict(
    cloud=dict(type="str", default="aws", choices=list(SUPPORTED_CLOUDS)),
    region=dict(type="str"),
    endpoint_url=dict(type="str"),
)

# Doc fragment phoenix.immutable.aws: the options AwsProvider declares.
AWS_CONNECTION = PROVIDERS["aws"].options
# Doc fragment phoenix.immutable.gcp: the options GcpProvider declares.
GCP_CONNECTION = PROVIDERS["gcp"].options
# Doc fragment phoenix.immutable.azure: the options AzureProvider declares.
AZURE_CONNECTION = PROVIDERS["azure"].options


def cloud_options(providers):
    """CLOUD and the connection options of each provider, refusing two providers that claim one name."""
    spec = dict(CLOUD)
    owner = dict.fromkeys(CLOUD, "cloud")
    for cloud_provider in providers:
        for name, rules in cloud_provider.options.items():
            if name in owner:
                raise ValueError(
                    "option %r of provider %s is already declared by %s" % (name, cloud_provider.cloud, owner[name])
                )
            owner[name] = cloud_provider.cloud
            spec[name] = rules
    return spec


# Doc fragments phoenix.immutable.cloud and the doc_fragment of every provider: what a module that
# talks to a cloud takes, whichever cloud ``cloud`` names.
CONNECTION = cloud_options(PROVIDERS.values())

# Doc fragment phoenix.immutable.wait
WAIT = dict(
    wait=dict(type="bool", default=True),
    wait_timeout=dict(type="int", default=900),
)

# Doc fragment phoenix.immutable.policy
POLICY = dict(
    policy=dict(type="raw"),
)

# Doc fragment phoenix.immutable.signing_key: what signs images and attestations (exactly one of key and kms_key,
# which each module requires itself).
SIGNING_KEY = dict(
    key=dict(type="path", no_log=False, fallback=(env_fallback, ["PHOENIX_SIGNING_KEY"])),
    key_passphrase=dict(type="str", no_log=True, fallback=(env_fallback, ["PHOENIX_SIGNING_KEY_PASSPHRASE"])),
    kms_key=dict(type="str", no_log=False, fallback=(env_fallback, ["PHOENIX_KMS_KEY"])),
)

# Doc fragment phoenix.immutable.attestation_store: where scan attestations keep what the tags cannot hold
# (attest.attestation_store reads it).
ATTESTATION_STORE = dict(
    store=dict(
        type="dict",
        options=dict(
            container=dict(type="str", required=True),
            prefix=dict(type="str", default=BLOB_PREFIX),
        ),
    ),
)


def build(*pieces, **own):
    """A module's argument spec: the shared pieces it uses, then its own options."""
    spec = {}
    for piece in pieces:
        spec.update(piece)
    spec.update(own)
    return spec
