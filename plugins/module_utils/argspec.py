# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Argument spec pieces shared by the modules.

Each constant pairs 1:1 with the doc fragment of the same name in plugins/doc_fragments/; a unit test
holds them to the same options, types, defaults and choices.
"""

from __future__ import annotations

from ansible.module_utils.basic import env_fallback

from .providers import SUPPORTED_CLOUDS

# Doc fragment phoenix.immutable.cloud
CLOUD = dict(
    cloud=dict(type="str", default="aws", choices=list(SUPPORTED_CLOUDS)),
)

# Doc fragment phoenix.immutable.aws
AWS_CONNECTION = dict(
    region=dict(type="str", fallback=(env_fallback, ["AWS_REGION", "AWS_DEFAULT_REGION"])),
    endpoint_url=dict(type="str", fallback=(env_fallback, ["AWS_ENDPOINT_URL"])),
    access_key=dict(type="str", no_log=False, fallback=(env_fallback, ["AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY"])),
    secret_key=dict(type="str", no_log=True, fallback=(env_fallback, ["AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY"])),
    # AWX's AWS credential type injects AWS_SECURITY_TOKEN; the SDKs read AWS_SESSION_TOKEN.
    session_token=dict(type="str", no_log=True, fallback=(env_fallback, ["AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"])),
    profile=dict(type="str", fallback=(env_fallback, ["AWS_PROFILE"])),
    connect_timeout=dict(type="int", default=60),
    read_timeout=dict(type="int", default=60),
)

# Doc fragment phoenix.immutable.wait
WAIT = dict(
    wait=dict(type="bool", default=True),
    wait_timeout=dict(type="int", default=900),
)

# Doc fragment phoenix.immutable.policy
POLICY = dict(
    policy=dict(type="raw"),
)


def build(*pieces, **own):
    """A module's argument spec: the shared pieces it uses, then its own options."""
    spec = {}
    for piece in pieces:
        spec.update(piece)
    spec.update(own)
    return spec
