"""The ARM emulator's Entra ID: app registrations, the endpoints azure-identity calls, and token checks.

`ClientSecretCredential(tenant, client, secret, authority=..., disable_instance_discovery=True)` reads
``/{tenant}/v2.0/.well-known/openid-configuration``, then posts the client-credentials grant to the
``token_endpoint`` it names. Refusals carry Entra ID's body: ``error``, ``error_description`` starting with the
``AADSTS`` code, ``error_codes``, trace and correlation ids. ARM calls are then checked by `authenticate`.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from emulators.arm_api import Answer, ArmError, Request

if TYPE_CHECKING:
    from emulators.arm import ArmEmulator

# The audiences ARM accepts in a token (management.azure.com and the older management.core.windows.net).
ARM_AUDIENCES = (
    "https://management.azure.com/",
    "https://management.azure.com",
    "https://management.core.windows.net/",
    "https://management.core.windows.net",
)
TOKEN_LIFETIME = 3599


@dataclass(frozen=True)
class ClientApp:
    """An app registration of the tenant: what `ClientSecretCredential` is given."""

    client_id: str
    client_secret: str


class EntraId:
    """One tenant of Entra ID: its app registrations and the tokens it granted (token -> tenant, audience, expiry)."""

    def __init__(self, emu: ArmEmulator, tenant_id: str) -> None:
        self.emu = emu
        self.tenant_id = tenant_id
        self.apps: dict[str, ClientApp] = {}
        self.tokens: dict[str, tuple[str, str, float]] = {}

    def register_client(self, client_id: str | None = None, client_secret: str | None = None) -> ClientApp:
        """A new app registration in the emulator's tenant, with a client secret."""
        app = ClientApp(client_id or str(uuid.uuid4()), client_secret or "emu~" + secrets.token_urlsafe(30))
        with self.emu.lock:
            self.apps[app.client_id] = app
        return app

    def issue_token(self, audience: str = "https://management.azure.com/", lifetime: int = TOKEN_LIFETIME) -> str:
        """A bearer token as the token endpoint grants it: JWT-shaped, opaque to clients as Entra ID's are."""
        now = int(time.time())
        claims = {
            "aud": audience,
            "iss": "https://sts.windows.net/%s/" % self.tenant_id,
            "tid": self.tenant_id,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "jti": secrets.token_hex(8),
        }
        token = (
            ".".join(
                base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=")
                for part in ({"typ": "JWT", "alg": "RS256"}, claims)
            )
            + "."
            + secrets.token_urlsafe(32)
        )
        with self.emu.lock:
            self.tokens[token] = (self.tenant_id, audience, now + lifetime)
        return token

    def expire_tokens(self) -> None:
        """Make every token granted so far expired: the next call with one is answered 401."""
        with self.emu.lock:
            self.tokens = {token: (tenant, audience, 0.0) for token, (tenant, audience, _expiry) in self.tokens.items()}

    @staticmethod
    def aad_error(status: int, error: str, code: int, description: str) -> Answer:
        trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
        stamp = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())
        return Answer(
            status,
            {
                "error": error,
                "error_description": "AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s"
                % (code, description, trace, correlation, stamp),
                "error_codes": [code],
                "timestamp": stamp,
                "trace_id": trace,
                "correlation_id": correlation,
                "error_uri": "https://login.microsoftonline.com/error?code=%d" % code,
            },
        )

    def _unknown_tenant(self, tenant: str) -> Answer:
        return self.aad_error(
            400,
            "invalid_tenant",
            90002,
            "Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the "
            "correct cloud." % tenant,
        )

    def openid_configuration(self, request: Request) -> Answer:
        tenant = request.match["tenant"]
        if tenant.lower() != self.tenant_id:
            return self._unknown_tenant(tenant)
        base = "%s/%s" % (self.emu.authority_url, self.tenant_id)
        return Answer(
            200,
            {
                "token_endpoint": base + "/oauth2/v2.0/token",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "jwks_uri": "%s/discovery/v2.0/keys" % base,
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "issuer": base + "/v2.0",
                "request_uri_parameter_supported": False,
                "authorization_endpoint": base + "/oauth2/v2.0/authorize",
                "device_authorization_endpoint": base + "/oauth2/v2.0/devicecode",
                "end_session_endpoint": base + "/oauth2/v2.0/logout",
                "tenant_region_scope": "EU",
                "cloud_instance_name": "microsoftonline.com",
            },
        )

    def token(self, request: Request) -> Answer:
        tenant = request.match["tenant"]
        form = request.body if isinstance(request.body, dict) else {}
        if tenant.lower() != self.tenant_id:
            return self._unknown_tenant(tenant)
        if form.get("grant_type") != "client_credentials":
            return self.aad_error(
                400,
                "unsupported_grant_type",
                70003,
                "The app requested an unsupported grant type '%s'." % form.get("grant_type", ""),
            )
        client_id = form.get("client_id", "")
        with self.emu.lock:
            app = self.apps.get(client_id)
        if app is None:
            return self.aad_error(
                400,
                "unauthorized_client",
                700016,
                "Application with identifier '%s' was not found in the directory '%s'. This can happen if the "
                "application has not been installed by the administrator of the tenant or consented to by any user "
                "in the tenant. You may have sent your authentication request to the wrong tenant."
                % (client_id, tenant),
            )
        if not secrets.compare_digest(form.get("client_secret", ""), app.client_secret):
            return self.aad_error(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret "
                "value, not the client secret ID, for a secret added to app '%s'." % client_id,
            )
        scope = form.get("scope", "")
        if not scope.endswith("/.default") or " " in scope.strip():
            return self.aad_error(
                400,
                "invalid_scope",
                1002012,
                "The provided value for scope %s is not valid. Client credential flows must have a scope value with "
                "/.default suffixed to the resource identifier (application ID URI)." % scope,
            )
        audience = scope[: -len(".default")]
        return Answer(
            200,
            {
                "token_type": "Bearer",
                "expires_in": TOKEN_LIFETIME,
                "ext_expires_in": TOKEN_LIFETIME,
                "access_token": self.issue_token(audience),
            },
        )

    def authenticate(self, headers: dict[str, str]) -> None:
        value = headers.get("authorization", "")
        challenge = 'Bearer authorization_uri="%s/%s", error="invalid_token", error_description="%s"'
        if not value.lower().startswith("bearer "):
            raise ArmError(
                401,
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.",
                headers={
                    "WWW-Authenticate": challenge
                    % (
                        self.emu.authority_url,
                        self.tenant_id,
                        "The authentication failed because of missing 'Authorization' header.",
                    )
                },
            )
        with self.emu.lock:
            grant = self.tokens.get(value[len("bearer ") :].strip())
        refusal = None
        if grant is None:
            refusal = ("InvalidAuthenticationToken", "The access token is invalid.")
        elif grant[2] < time.time():
            refusal = (
                "ExpiredAuthenticationToken",
                "The access token expiry UTC time '%s' is earlier than current UTC time '%s'."
                % (
                    time.strftime("%m/%d/%Y %H:%M:%S", time.gmtime(grant[2])),
                    time.strftime("%m/%d/%Y %H:%M:%S", time.gmtime()),
                ),
            )
        elif grant[1] not in ARM_AUDIENCES:
            refusal = (
                "InvalidAuthenticationTokenAudience",
                "The access token has been obtained for wrong audience or resource '%s'. It should exactly match with "
                "one of the allowed audiences '%s'." % (grant[1], "','".join(ARM_AUDIENCES)),
            )
        if refusal is not None:
            raise ArmError(
                401,
                refusal[0],
                refusal[1],
                headers={"WWW-Authenticate": challenge % (self.emu.authority_url, self.tenant_id, refusal[1])},
            )
