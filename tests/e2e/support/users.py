"""Real identities for RBAC tests: users with client certificates issued by the cluster's
own signer (CertificateSigningRequest API, so it works on any cluster the tests target),
and kubeconfigs for them or for a bearer token."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from kubernetes.client import ApiClient

from kubedirector.kube import request_json
from tests.e2e.support.operator import wait_until

CSR_PATH = "/apis/certificates.k8s.io/v1/certificatesigningrequests"
CLIENT_SIGNER = "kubernetes.io/kube-apiserver-client"


def sa_token(api: ApiClient, namespace: str, name: str) -> str:
    """A TokenRequest token (30 minutes) of the ServiceAccount."""
    review = request_json(
        api,
        "POST",
        f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
        body={
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": 1800},
        },
    )
    return str(review["status"]["token"])


def _kubeconfig_for(admin: Path, user: dict, path: Path) -> Path:
    """`admin`'s cluster and server, with `user` as the only credential."""
    config = yaml.safe_load(admin.read_text())
    context = config["contexts"][0]["context"]
    config["users"] = [{"name": "test-user", "user": user}]
    context["user"] = "test-user"
    config["contexts"] = [{"name": "test-user", "context": context}]
    config["current-context"] = "test-user"
    path.write_text(yaml.safe_dump(config))
    return path


def token_kubeconfig(admin: Path, token: str, path: Path) -> Path:
    """A kubeconfig that authenticates with a bearer token."""
    return _kubeconfig_for(admin, {"token": token}, path)


def user_kubeconfig(api: ApiClient, admin: Path, user: str, path: Path) -> Path:
    """A kubeconfig for the user `user` (no groups but system:authenticated), with a client
    certificate the cluster signs through an approved CertificateSigningRequest."""
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, user)]))
        .sign(key, hashes.SHA256())
    )
    name = f"test-user-{user}"[:253]
    body = {
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"name": name},
        "spec": {
            "request": base64.b64encode(csr.public_bytes(serialization.Encoding.PEM)).decode(),
            "signerName": CLIENT_SIGNER,
            "expirationSeconds": 3600,
            "usages": ["client auth"],
        },
    }
    created = request_json(api, "POST", CSR_PATH, body=body)
    created["status"] = {
        "conditions": [
            {"type": "Approved", "status": "True", "reason": "Test", "message": "RBAC test user"}
        ]
    }
    request_json(api, "PUT", f"{CSR_PATH}/{name}/approval", body=created)
    try:
        signed = wait_until(
            lambda: (
                request_json(api, "GET", f"{CSR_PATH}/{name}").get("status", {}).get("certificate")
            ),
            60,
            f"CSR {name} signed",
            interval=0.5,
        )
    finally:
        request_json(api, "DELETE", f"{CSR_PATH}/{name}")
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return _kubeconfig_for(
        admin,
        {
            "client-certificate-data": signed,
            "client-key-data": base64.b64encode(key_pem).decode(),
        },
        path,
    )


def run_as(
    kubectl_path: Path, kubeconfig: Path, *args: str, input: str | None = None
) -> subprocess.CompletedProcess:
    """kubectl with another identity's kubeconfig; the caller inspects the result."""
    return subprocess.run(
        [str(kubectl_path), "--kubeconfig", str(kubeconfig), *args],
        input=input,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
