"""The webhook PKI: what is issued, and when it must be renewed."""

from __future__ import annotations

import base64
import datetime

from cryptography import x509

from kubedirector.webhook import pki
from kubedirector.webhook.certs import CertSettings, _secret_body, bundle_from_secret

HOSTS = pki.service_hosts("kubedirector-webhook", "kubedirector")
NOW = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)
DAY = datetime.timedelta(days=1)


def cert(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificates(pem.encode())[0]


def test_leaf_names_every_host_and_is_signed_by_the_ca():
    bundle = pki.issue(HOSTS, now=NOW)
    leaf, ca = cert(bundle.tls_crt), cert(bundle.ca_crt)
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "kubedirector-webhook.kubedirector.svc" in sans.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    leaf.verify_directly_issued_by(ca)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert leaf.not_valid_after_utc == NOW + pki.LEAF_VALIDITY
    assert cert(bundle.ca_crt).not_valid_after_utc == NOW + pki.CA_VALIDITY


def test_long_names_fit():
    hosts = pki.service_hosts("kubedirector-webhook", "n" * 63)
    bundle = pki.issue(hosts, now=NOW)
    assert pki.renewal_reason(bundle, hosts, NOW) is None


def test_fresh_bundle_needs_no_renewal():
    assert pki.renewal_reason(pki.issue(HOSTS, now=NOW), HOSTS, NOW) is None


def test_renewal_at_two_thirds_of_the_serving_certificate_life():
    bundle = pki.issue(HOSTS, now=NOW, leaf_validity=90 * DAY)
    start = cert(bundle.tls_crt).not_valid_before_utc
    life = cert(bundle.tls_crt).not_valid_after_utc - start
    assert pki.renewal_reason(bundle, HOSTS, start + life * 0.66) is None
    assert pki.renewal_reason(bundle, HOSTS, start + life * 0.67) == (
        "serving certificate near expiry"
    )


def test_short_validity_is_not_eaten_by_the_backdating():
    bundle = pki.issue(HOSTS, now=NOW, leaf_validity=datetime.timedelta(seconds=30))
    assert pki.renewal_reason(bundle, HOSTS, NOW) is None
    assert pki.renewal_reason(bundle, HOSTS, NOW + datetime.timedelta(seconds=20)) is not None


def test_renewal_when_hosts_change_or_ca_differs():
    bundle = pki.issue(HOSTS, now=NOW)
    assert pki.renewal_reason(bundle, [*HOSTS, "new.example"], NOW) == "hosts changed"
    other = pki.issue(HOSTS, now=NOW)
    mixed = pki.Bundle(other.ca_crt, other.ca_key, bundle.tls_crt, bundle.tls_key)
    assert pki.renewal_reason(mixed, HOSTS, NOW) == "not signed by the current CA"
    garbage = pki.Bundle("junk", "", bundle.tls_crt, bundle.tls_key)
    assert pki.renewal_reason(garbage, HOSTS, NOW) == "unreadable certificate"


def test_renewal_keeps_the_ca():
    bundle = pki.issue(HOSTS, now=NOW)
    later = NOW + 70 * DAY
    renewed = pki.renew(bundle, HOSTS, now=later)
    assert renewed.ca_crt == bundle.ca_crt and renewed.ca_key == bundle.ca_key
    assert renewed.tls_crt != bundle.tls_crt
    cert(renewed.tls_crt).verify_directly_issued_by(cert(bundle.ca_crt))
    assert pki.renewal_reason(renewed, HOSTS, later) is None


def test_ca_near_expiry_is_replaced_and_the_old_one_still_trusted():
    bundle = pki.issue(HOSTS, now=NOW)
    late = NOW + pki.CA_VALIDITY * 0.7
    assert pki.renewal_reason(bundle, HOSTS, late) == "CA near expiry"
    renewed = pki.renew(bundle, HOSTS, now=late)
    cas = x509.load_pem_x509_certificates(renewed.ca_crt.encode())
    assert len(cas) == 2 and cas[1] == cert(bundle.ca_crt)
    cert(renewed.tls_crt).verify_directly_issued_by(cas[0])
    assert pki.renewal_reason(renewed, HOSTS, late) is None


def test_secret_round_trip():
    bundle = pki.issue(HOSTS, now=NOW)
    settings = CertSettings(namespace="kd", secret="cert", hosts=HOSTS, webhook_configs=())
    body = _secret_body(settings, bundle, "12")
    assert body["type"] == "kubernetes.io/tls" and body["metadata"]["resourceVersion"] == "12"
    assert bundle_from_secret(body) == bundle
    incomplete = {"data": {"tls.crt": base64.b64encode(b"x").decode()}}
    assert bundle_from_secret(incomplete) is None


def test_cert_manager_secret_without_ca_key_is_usable():
    bundle = pki.issue(HOSTS, now=NOW)
    data = {
        k: base64.b64encode(v.encode()).decode()
        for k, v in {
            "ca.crt": bundle.ca_crt,
            "tls.crt": bundle.tls_crt,
            "tls.key": bundle.tls_key,
        }.items()
    }
    loaded = bundle_from_secret({"data": data})
    assert loaded is not None and loaded.ca_key == ""
