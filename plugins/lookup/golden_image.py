# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: golden_image
short_description: The newest golden image of a family promoted to a channel and trusted by a policy
version_added: 0.1.0
description:
  - Returns, for each family given, the newest image of that family promoted to O(channel) (see
    M(phoenix.immutable.image_channel)) whose promotion is signed by one of the policy's C(promoters) and
    whose own signatures satisfy the trust policy O(policy). A newer image that is not promoted, whose
    promotion does not verify, or that the policy does not trust (revoked, unsigned, expired, ...) is
    passed over.
  - Fails, naming every candidate and why it was passed over, when no image qualifies.
  - An image's family is its name without the version suffix, so
    C(web-2026-11-24-1) is of family C(web).
  - Results are cached for the play, in the controller's temporary folder of the run, so a play that
    uses the same query in many tasks makes one round of API calls for it.
  - Runs on the controller. Connection options come from the lookup's own options, or from the same
    environment variables as the modules' (an AWX AWS or Google Compute Engine credential's among them);
    C(module_defaults) do not apply to lookups, so give O(cloud=gcp) to the lookup itself.
author:
  - Phoenix maintainers (@phoenix-immutable)
options:
  _terms:
    description: Image families, for example V(web).
    type: list
    elements: str
    required: true
  channel:
    description: The channel, for example V(prod).
    type: str
    required: true
  detail:
    description:
      - V(false) returns the image id; V(true) the image's full model (name, region, created, tags,
        disks, ...) with the channel, the promoter, the trust verdict and the images passed over.
    type: bool
    default: false
  service_account_contents:
    description:
      - The service-account JSON key itself, as a JSON string (a lookup option has no mapping-or-JSON type).
        Never logged.
    type: str
extends_documentation_fragment:
  - phoenix.immutable.cloud
  - phoenix.immutable.aws
  - phoenix.immutable.gcp
  - phoenix.immutable.azure
  - phoenix.immutable.policy
  - phoenix.immutable.attestation_store
notes:
  - O(policy) is required and must list C(promoters).
requirements:
  - cryptography >= 41.0.0
"""

EXAMPLES = r"""
- name: Deploy what prod runs
  phoenix.immutable.blue_green:
    service: web
    image_id: "{{ lookup('phoenix.immutable.golden_image', 'web', channel='prod', policy='trust.yml') }}"
    listener: "{{ listener_arn }}"
    template: web

- name: The whole model of the staging image of two families
  ansible.builtin.debug:
    msg: "{{ query('phoenix.immutable.golden_image', 'web', 'api', channel='staging', policy='trust.yml', detail=true,
              region='eu-west-1') }}"

- name: What prod runs on GCP, with the project and key from GCP_PROJECT and GCP_SERVICE_ACCOUNT_FILE
  ansible.builtin.debug:
    msg: "{{ lookup('phoenix.immutable.golden_image', 'web', channel='prod', policy='trust.yml', cloud='gcp') }}"
"""

RETURN = r"""
_raw:
  description:
    - One entry per family, in order. The image id, or with O(detail=true) a dict with the image's model,
      C(family), C(channel), C(promoted_by), C(promotion_keyid), C(verification) and C(skipped) (newer
      images passed over, each with C(image_id), C(name), C(reason), C(detail)).
  type: list
  elements: raw
"""

import hashlib
import json
import os
import tempfile

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.phoenix.immutable.plugins.module_utils.attest import attestation_store
from ansible_collections.phoenix.immutable.plugins.module_utils.channels import (
    OptionAdapter,
    PhoenixError,
    golden_image,
    trusted_policy,
)
from ansible_collections.phoenix.immutable.plugins.module_utils.providers import image_backend

CACHE_FOLDER = "phoenix-golden-image"
# Options that name who asks and where; the secret ones are never written to the cache key in clear.
SECRET_OPTIONS = ("secret_key", "session_token", "access_token", "service_account_contents", "secret")


def _cache_dir():
    try:
        from ansible import constants

        base = constants.DEFAULT_LOCAL_TMP  # made once per ansible-playbook run, shared with its workers
    except Exception:  # pylint: disable=broad-except
        base = None
    base = base or os.path.join(tempfile.gettempdir(), "phoenix-immutable-%s" % os.getuid())
    path = os.path.join(base, CACHE_FOLDER)
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


def _policy_fingerprint(policy):
    if isinstance(policy, str) and policy:
        path = os.path.abspath(os.path.expanduser(policy))
        try:
            with open(path, "rb") as handle:
                return path + ":" + hashlib.sha256(handle.read()).hexdigest()
        except OSError:
            return path
    return json.dumps(policy, sort_keys=True, default=str)


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        options = OptionAdapter(self.get_option)
        params = options.connection_params()
        params["store"] = self.get_option("store")  # for the policy's scan gates (attest.attestation_store)
        policy_source = self.get_option("policy")
        if isinstance(policy_source, str) and policy_source and not os.path.isabs(os.path.expanduser(policy_source)):
            policy_source = self._loader.path_dwim(policy_source)  # relative to the playbook's folder
        channel = self.get_option("channel")
        detail = self.get_option("detail")
        variables = variables or {}
        scope = {
            "play": str(variables.get("ansible_play_name", "")),
            "hosts": [str(host) for host in variables.get("ansible_play_hosts_all", []) or []],
        }
        found = []
        try:
            policy = store = None
            images = None
            for family in terms:
                key = self._cache_key(scope, family, channel, policy_source, params)
                model = self._cached(key)
                if model is None:
                    if images is None:
                        images = image_backend(params)
                        policy = trusted_policy(policy_source, images)
                        store = attestation_store(params)
                    model = golden_image(images, str(family), channel, policy, store=store).to_dict()
                    self._store(key, model)
                found.append(model if detail else model["id"])
        except PhoenixError as error:
            raise AnsibleLookupError("golden_image: %s" % error) from None
        return found

    @staticmethod
    def _cache_key(scope, family, channel, policy_source, params):
        identity = {name: value for name, value in params.items() if name not in SECRET_OPTIONS}
        identity["secrets"] = hashlib.sha256(
            json.dumps([params.get(name) for name in SECRET_OPTIONS], default=str).encode("utf-8")
        ).hexdigest()
        document = {
            "scope": scope,
            "family": str(family),
            "channel": channel,
            "policy": _policy_fingerprint(policy_source),
            "connection": identity,
        }
        return hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode("utf-8")).hexdigest()

    @staticmethod
    def _cached(key):
        try:
            with open(os.path.join(_cache_dir(), key + ".json"), encoding="utf-8") as handle:
                return json.load(handle)
        except (OSError, ValueError):
            return None

    @staticmethod
    def _store(key, model):
        folder = _cache_dir()
        handle, temporary = tempfile.mkstemp(prefix=".entry-", dir=folder)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(model, out, sort_keys=True, default=str)
            os.replace(temporary, os.path.join(folder, key + ".json"))
        except OSError:
            if os.path.exists(temporary):
                os.unlink(temporary)
