"""The webhook's PKI, pure: a long-lived CA, short-lived serving certificates, and when
to renew them.

The CA stays the same across serving-certificate renewals, so the `caBundle` the
API server trusts keeps verifying both the old and the new certificate while
replicas switch over: a renewal never fails an admission request.  Keys are
ECDSA P-256: fast to make on a small machine, accepted by every API server.
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_VALIDITY = datetime.timedelta(days=3650)
LEAF_VALIDITY = datetime.timedelta(days=90)
RENEW_FRACTION = 2 / 3  # renew once this much of a certificate's life has passed
MAX_BACKDATE = datetime.timedelta(minutes=5)  # tolerate clocks a little behind ours


@dataclass(frozen=True)
class Bundle:
    """PEM texts as kept in the Secret: `ca_crt` may hold older CAs after the current
    one (still trusted while they are valid); `ca_key` is empty when another party
    (cert-manager) issues the certificates."""

    ca_crt: str
    ca_key: str
    tls_crt: str
    tls_key: str


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _window(
    now: datetime.datetime,
    validity: datetime.timedelta,
) -> tuple[datetime.datetime, datetime.datetime]:
    return now - min(MAX_BACKDATE, validity / 10), now + validity


def new_ca(
    common_name: str,
    *,
    validity: datetime.timedelta = CA_VALIDITY,
    now: datetime.datetime | None = None,
) -> tuple[str, str]:
    """A self-signed CA: (certificate PEM, key PEM)."""
    key = _key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    start, end = _window(now or _now(), validity)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return _cert_pem(cert), _key_pem(key)


def new_leaf(
    ca_crt: str,
    ca_key: str,
    hosts: Sequence[str],
    *,
    validity: datetime.timedelta = LEAF_VALIDITY,
    now: datetime.datetime | None = None,
) -> tuple[str, str]:
    """A serving certificate for `hosts` (DNS names or IP addresses) signed by the first
    CA in `ca_crt`: (certificate PEM, key PEM)."""
    ca = x509.load_pem_x509_certificates(ca_crt.encode())[0]
    signer = serialization.load_pem_private_key(ca_key.encode(), password=None)
    if not isinstance(signer, ec.EllipticCurvePrivateKey):
        raise ValueError("the CA key is not an ECDSA key")
    key = _key()
    start, end = _window(now or _now(), validity)
    cert = (
        x509.CertificateBuilder()
        # Clients check the SANs; the CN is informative and limited to 64 characters.
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0][:64])]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName(_sans(hosts)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False
        )
        .sign(signer, hashes.SHA256())
    )
    return _cert_pem(cert), _key_pem(key)


def _sans(hosts: Sequence[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys(hosts):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def issue(
    hosts: Sequence[str],
    *,
    ca: tuple[str, str] | None = None,
    leaf_validity: datetime.timedelta = LEAF_VALIDITY,
    now: datetime.datetime | None = None,
) -> Bundle:
    """A bundle with a serving certificate from `ca` (cert, key), or from a new CA."""
    ca_crt, ca_key = ca or new_ca("kubedirector-webhook-ca", now=now)
    tls_crt, tls_key = new_leaf(ca_crt, ca_key, hosts, validity=leaf_validity, now=now)
    return Bundle(ca_crt, ca_key, tls_crt, tls_key)


def not_after(cert_pem: str) -> datetime.datetime:
    """When the first certificate in `cert_pem` expires."""
    return x509.load_pem_x509_certificates(cert_pem.encode())[0].not_valid_after_utc


def due(cert_pem: str, now: datetime.datetime | None = None) -> bool:
    """Whether the first certificate in `cert_pem` has lived `RENEW_FRACTION` of its life."""
    cert = x509.load_pem_x509_certificates(cert_pem.encode())[0]
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    return (now or _now()) >= start + (end - start) * RENEW_FRACTION


def renewal_reason(
    bundle: Bundle, hosts: Sequence[str], now: datetime.datetime | None = None
) -> str | None:
    """Why the bundle's serving certificate (or CA) must be replaced now, or None."""
    try:
        cas = x509.load_pem_x509_certificates(bundle.ca_crt.encode())
        leaf = x509.load_pem_x509_certificates(bundle.tls_crt.encode())[0]
    except ValueError:
        return "unreadable certificate"
    if due(bundle.ca_crt, now):
        return "CA near expiry"
    if leaf.issuer != cas[0].subject or not _signed_by(leaf, cas[0]):
        return "not signed by the current CA"
    try:
        sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return "no subject alternative names"
    if set(_sans(hosts)) - set(sans):
        return "hosts changed"
    if due(bundle.tls_crt, now):
        return "serving certificate near expiry"
    return None


def _signed_by(leaf: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        leaf.verify_directly_issued_by(ca)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def renew(
    bundle: Bundle,
    hosts: Sequence[str],
    *,
    leaf_validity: datetime.timedelta = LEAF_VALIDITY,
    now: datetime.datetime | None = None,
) -> Bundle:
    """A new serving certificate from the same CA; a new CA too when it is near expiry,
    with the old CA kept in `ca_crt` (still trusted) until it expires."""
    if not due(bundle.ca_crt, now):
        return issue(hosts, ca=(bundle.ca_crt, bundle.ca_key), leaf_validity=leaf_validity, now=now)
    fresh = issue(hosts, leaf_validity=leaf_validity, now=now)
    moment = now or _now()
    still_valid = [
        c
        for c in x509.load_pem_x509_certificates(bundle.ca_crt.encode())
        if c.not_valid_after_utc > moment
    ]
    return Bundle(
        fresh.ca_crt + "".join(_cert_pem(c) for c in still_valid),
        fresh.ca_key,
        fresh.tls_crt,
        fresh.tls_key,
    )


def service_hosts(service: str, namespace: str, extra: Sequence[str] = ()) -> list[str]:
    """The names the API server may use for the webhook Service, plus loopback (the
    local overlay reaches the webhook at https://127.0.0.1:<port>)."""
    return [
        f"{service}.{namespace}.svc",
        service,
        f"{service}.{namespace}",
        f"{service}.{namespace}.svc.cluster.local",
        "localhost",
        "127.0.0.1",
        *extra,
    ]
