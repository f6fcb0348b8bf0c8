"""Throwaway X.509 material generated at every start.

* a CA (written to ``ca.pem``) that clients trust through a CA bundle — TLS verification is never turned off;
* a server certificate for ``127.0.0.1`` and ``localhost`` signed by that CA;
* the application certificate registered for certificate (client assertion) authentication.

EC keys are used for the CA and the server certificate because they are generated instantly; the application
certificate is RSA because Entra client assertions are signed RS256 / PS256.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = dt.timedelta(days=2)


@dataclass(frozen=True)
class KeyPair:
    """A certificate and its private key, both PEM."""

    cert_pem: bytes
    key_pem: bytes

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem)


@dataclass(frozen=True)
class AppCertificate(KeyPair):
    """The certificate registered on an app, with the thumbprints the Entra portal shows."""

    thumbprint: str  # SHA-1 of the DER, upper-case hex (what the portal displays)
    thumbprint_sha256: str  # SHA-256 of the DER, upper-case hex


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Entra ID emulator"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _pem_key(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _self_signed(name: x509.Name, key: Any) -> x509.CertificateBuilder:
    """A certificate builder for `key`, issued by itself, valid from a few minutes ago for the emulator's lifetime."""
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - dt.timedelta(minutes=5))
        .not_valid_after(_now() + _VALIDITY)
    )


def generate_ca() -> KeyPair:
    """A self-signed CA that is valid for two days (enough for any test run or demo)."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        _self_signed(_name("Entra ID emulator throwaway CA"), key)
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return KeyPair(cert.public_bytes(serialization.Encoding.PEM), _pem_key(key))


def issue_server_certificate(ca: KeyPair) -> KeyPair:
    """A TLS server certificate for 127.0.0.1, ::1 and localhost signed by ``ca``."""
    ca_key = serialization.load_pem_private_key(ca.key_pem, password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    ca_cert = ca.certificate
    key = ec.generate_private_key(ec.SECP256R1())
    san = x509.SubjectAlternativeName(
        [
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("::1")),
            x509.DNSName("localhost"),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - dt.timedelta(minutes=5))
        .not_valid_after(_now() + _VALIDITY)
        .add_extension(san, critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return KeyPair(cert.public_bytes(serialization.Encoding.PEM), _pem_key(key))


def generate_app_certificate(common_name: str) -> AppCertificate:
    """A self-signed RSA certificate, as uploaded to an app registration's "Certificates & secrets" page."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = _self_signed(_name(common_name), key).sign(key, hashes.SHA256())
    return AppCertificate(
        cert_pem=cert.public_bytes(serialization.Encoding.PEM),
        key_pem=_pem_key(key),
        thumbprint=cert.fingerprint(hashes.SHA1()).hex().upper(),  # SHA-1: that is what a thumbprint is
        thumbprint_sha256=cert.fingerprint(hashes.SHA256()).hex().upper(),
    )


def write_private(path: Path, data: bytes) -> None:
    """Write a file only the current user can read (private keys, files holding secrets)."""
    path.write_bytes(b"")
    path.chmod(0o600)
    path.write_bytes(data)


def server_ssl_context(server: KeyPair, state_dir: Path) -> ssl.SSLContext:
    """An SSL context for the HTTPS listener (the key is written to the state dir because ssl only loads files)."""
    cert_path = state_dir / "server.pem"
    key_path = state_dir / "server_key.pem"
    cert_path.write_bytes(server.cert_pem)
    write_private(key_path, server.key_pem)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert_path), str(key_path))
    return context
