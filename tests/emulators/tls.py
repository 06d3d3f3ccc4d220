"""TLS for the emulators: a throwaway certificate authority and a server certificate for 127.0.0.1.

azure-core refuses to send a bearer token over plain HTTP, so the Azure emulator serves HTTPS. The client
trusts it the honest way: `TestCertificates.ca_bundle` is a PEM file holding only the test CA, passed as
`connection_verify` (azure-core) or `ca_bundle` (the collection's option); verification stays on.

`TestCertificates.create(folder)` makes a P-256 CA and a server certificate it signs, valid for
``IP:127.0.0.1``, ``DNS:localhost`` and the Azure data planes' host names (`DATA_PLANE_NAMES`, served by
`emulators.azure_hosts` through its proxy), writes them under ``folder`` and returns their paths;
`in_folder(folder)` finds them again; `server_context()` is an `ssl.SSLContext` that serves with them.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["TestCertificates"]

# Long enough for any test run, short enough that a leaked bundle is worthless soon.
VALIDITY = datetime.timedelta(days=2)
# A clock a little behind the emulator's host must still accept the certificates.
BACKDATE = datetime.timedelta(minutes=10)
# Key Vault's and Blob Storage's hosts (<vault>.vault.azure.net, <account>.blob.core.windows.net): the Azure
# SDK checks a vault's challenge against its host name, so those are served under their real names.
DATA_PLANE_NAMES = ("*.vault.azure.net", "*.blob.core.windows.net")


@dataclass(frozen=True)
class TestCertificates:
    """Where the test CA (``ca_bundle``) and the server's certificate and key were written."""

    __test__ = False  # a helper, not a pytest test class

    ca_bundle: Path
    certificate: Path
    private_key: Path

    @classmethod
    def create(cls, folder: Path | str, *, common_name: str = "phoenix emulator") -> TestCertificates:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        now = datetime.datetime.now(datetime.UTC)
        not_before, not_after = now - BACKDATE, now + VALIDITY

        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "%s test CA" % common_name)])
        ca_certificate = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )

        server_key = ec.generate_private_key(ec.SECP256R1())
        server_certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(ca_name)
            .public_key(server_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
                    + [x509.DNSName(name) for name in DATA_PLANE_NAMES]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )

        ca_bundle = folder / "ca.pem"
        ca_bundle.write_bytes(ca_certificate.public_bytes(serialization.Encoding.PEM))
        certificate = folder / "server.pem"
        certificate.write_bytes(server_certificate.public_bytes(serialization.Encoding.PEM))
        private_key = folder / "server.key"
        private_key.touch(mode=0o600)
        private_key.write_bytes(
            server_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        return cls(ca_bundle, certificate, private_key)

    @classmethod
    def in_folder(cls, folder: Path | str) -> TestCertificates:
        """The certificates `create` wrote under ``folder`` (another server of the same emulator serves with them)."""
        folder = Path(folder)
        return cls(folder / "ca.pem", folder / "server.pem", folder / "server.key")

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.certificate, self.private_key)
        return context
