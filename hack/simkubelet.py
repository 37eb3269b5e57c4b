#!/usr/bin/env python3
"""What a node's own tooling would do in the simulated cluster, as one process.

- Exec: kwok answers `pods/exec` by running the command on this machine, as the
  pod's `Exec` object says.  For every pod this creates an `Exec` (named and
  namespaced like the pod) whose working directory is the pod's own guest root
  and whose environment sets `KD_GUEST_ROOT` to it, so the operator's scripts
  (which prefix every guest path with `${KD_GUEST_ROOT:-}`) stay inside it.
  A re-created pod (new UID) gets a fresh directory, like a fresh container.
- Image content: a simulated pod has none, so where the pod's KubeDirectorApp
  names a `file://` setup package, a stand-in package is seeded at that path in
  the pod's guest root: its `startscript` logs each call (with arguments) to
  `<guest root>/var/log/guestconfig/startscript.calls` and exits 0.
- Node tools: a pod of a systemd app is set up only once `systemctl status
  systemd-journald` succeeds; this machine has no systemd, so each pod's PATH
  starts with `<guest root>/.kd-sim/bin`, holding a stand-in `systemctl` that
  reports journald up.
- Image interpreter: setup installs configcli with the image's `python` (else
  `python3`).  An image's is a plain interpreter; this machine's may be a
  version manager's shim (pyenv: a shell script starting several more, most of
  the cost of an install), so `.kd-sim/bin` links `python` and `python3` to the
  interpreter this process runs on.
- Storage: a provisioner for StorageClasses whose provisioner is
  `kubedirector.local/simulated`: a PersistentVolume per pending claim (after
  the scheduler picked a node, for WaitForFirstConsumer), bound by the real
  PersistentVolume controller; released volumes are deleted.

Started and stopped by hack/localcluster.py; logs to its logs folder.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import queue
import random
import shutil
import sys
import tarfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

PROVISIONER = "kubedirector.local/simulated"
SELECTED_NODE = "volume.kubernetes.io/selected-node"
POD_UID = "kubedirector.local/pod-uid"
LABEL_APP = "kubedirector.hpe.com/kdapp"
LABEL_ROLE = "kubedirector.hpe.com/role"
APP_CACHE_SECONDS = 5.0
EXEC_WORKERS = 8  # pods whose Exec is made at once
STAND_IN = """#!/bin/bash
# Simulation stand-in for the setup package an app image would carry (seeded by
# hack/simkubelet.py): it records every call and succeeds.
R="${KD_GUEST_ROOT:-}"
mkdir -p "$R/var/log/guestconfig"
echo "$*" >> "$R/var/log/guestconfig/startscript.calls"
exit 0
"""

SYSTEMCTL_STAND_IN = """#!/bin/sh
# Simulation stand-in (seeded by hack/simkubelet.py): journald is up.
echo "systemd-journald.service - Journal Service (simulated): active (running)"
exit 0
"""
SIM_BIN = ".kd-sim/bin"
# The interpreter itself, past any virtual environment's link to it.
IMAGE_PYTHON = os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)


def log(event: str, **kv: object) -> None:
    print(json.dumps({"ts": time.strftime("%H:%M:%S"), "event": event, **kv}), flush=True)


def watch_forever(
    api: client.ApiClient, path: str, handle: Callable[[str, dict], None], stop: threading.Event
) -> None:
    """List then watch `path` (raw JSON), relisting after errors, with backoff."""
    backoff = 0.5
    while not stop.is_set():
        try:
            resp = api.call_api(
                path,
                "GET",
                query_params=[("limit", "500")],
                auth_settings=["BearerToken"],
                _preload_content=False,
                _request_timeout=(10, 60),
            )
            listed = json.loads(resp.data)
            for item in listed.get("items", []):
                handle("ADDED", item)
            rv = listed["metadata"]["resourceVersion"]
            while not stop.is_set():
                resp = api.call_api(
                    path,
                    "GET",
                    query_params=[
                        ("watch", "true"),
                        ("resourceVersion", rv),
                        ("allowWatchBookmarks", "true"),
                        ("timeoutSeconds", "300"),
                    ],
                    auth_settings=["BearerToken"],
                    _preload_content=False,
                    _request_timeout=(10, 120),
                )
                for line in resp:
                    event = json.loads(line)
                    if event["type"] == "ERROR":
                        raise RuntimeError(event["object"].get("message", "watch error"))
                    rv = event["object"]["metadata"]["resourceVersion"]
                    if event["type"] != "BOOKMARK":
                        handle(event["type"], event["object"])
                backoff = 0.5
        except Exception as e:
            log("watch_restart", path=path, error=str(e)[:300])
            stop.wait(backoff + random.random() * backoff)
            backoff = min(backoff * 2, 10)


class Sharded:
    """Hands each watch event to one of `workers` threads, picked by the object's
    namespace/name: one object's events stay in order, while one slow API request no
    longer holds up every other pod's Exec (one at a time, a burst of 400 new pods
    waited ~50 s for theirs, and every exec into them failed meanwhile)."""

    def __init__(self, handle: Callable[[str, dict], None], workers: int) -> None:
        self.handle = handle
        self.queues: list[queue.Queue[tuple[str, dict]]] = [queue.Queue() for _ in range(workers)]

    def __call__(self, kind: str, obj: dict) -> None:
        meta = obj["metadata"]
        key = f"{meta.get('namespace', '')}/{meta['name']}"
        self.queues[hash(key) % len(self.queues)].put((kind, obj))

    def threads(self, stop: threading.Event) -> list[threading.Thread]:
        return [
            threading.Thread(target=self._run, args=(q, stop), daemon=True) for q in self.queues
        ]

    def _run(self, events: queue.Queue[tuple[str, dict]], stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                kind, obj = events.get(timeout=1)
            except queue.Empty:
                continue
            try:
                self.handle(kind, obj)
            except Exception as e:  # one pod's failure must not stop the others'
                log("handle_failed", name=obj["metadata"]["name"], error=str(e)[:300])


class Execs:
    """Keeps one kwok Exec per pod, pointing at the pod's own guest root."""

    def __init__(self, api: client.ApiClient, guest_root: Path) -> None:
        self.objects = client.CustomObjectsApi(api)
        self.guest_root = guest_root
        # Apps by name, briefly cached: a large cluster's pods share a few apps.
        self._apps: dict[str, tuple[float, list[dict]]] = {}

    def dir_for(self, pod: dict) -> Path:
        meta = pod["metadata"]
        return self.guest_root / meta["namespace"] / f"{meta['name']}-{meta['uid'][:8]}"

    def handle(self, kind: str, pod: dict) -> None:
        meta = pod["metadata"]
        if kind == "DELETED":
            self._delete(meta)
            return
        guest = self.dir_for(pod)
        if guest.exists():
            return
        guest.mkdir(parents=True, exist_ok=True)
        self.seed_package(pod, guest)
        sim_bin = guest / SIM_BIN
        sim_bin.mkdir(parents=True)
        (sim_bin / "systemctl").write_text(SYSTEMCTL_STAND_IN)
        (sim_bin / "systemctl").chmod(0o755)
        for name in ("python", "python3"):
            (sim_bin / name).symlink_to(IMAGE_PYTHON)
        path = f"{sim_bin}:{os.environ.get('PATH', '/usr/local/bin:/usr/bin:/bin')}"
        body = {
            "apiVersion": "kwok.x-k8s.io/v1alpha1",
            "kind": "Exec",
            "metadata": {
                "name": meta["name"],
                "namespace": meta["namespace"],
                "annotations": {POD_UID: meta["uid"]},
            },
            "spec": {
                "execs": [
                    {
                        "local": {
                            "workDir": str(guest),
                            "envs": [
                                {"name": "KD_GUEST_ROOT", "value": str(guest)},
                                {"name": "PATH", "value": path},
                            ],
                        }
                    }
                ]
            },
        }
        try:
            self.objects.create_namespaced_custom_object(
                "kwok.x-k8s.io", "v1alpha1", meta["namespace"], "execs", body
            )
        except ApiException as e:
            if e.status != 409:
                log(
                    "exec_create_failed", pod=f"{meta['namespace']}/{meta['name']}", status=e.status
                )
                shutil.rmtree(guest, ignore_errors=True)
                return
            self.objects.patch_namespaced_custom_object(
                "kwok.x-k8s.io",
                "v1alpha1",
                meta["namespace"],
                "execs",
                meta["name"],
                {"metadata": body["metadata"], "spec": body["spec"]},
            )
        log("exec_ready", pod=f"{meta['namespace']}/{meta['name']}", guest_root=str(guest))

    def package_url(self, pod: dict) -> str | None:
        """The setup package URL of the pod's app role, if the pod is a KubeDirector member."""
        labels = pod["metadata"].get("labels") or {}
        app_name, role_id = labels.get(LABEL_APP), labels.get(LABEL_ROLE)
        if not app_name or not role_id:
            return None
        listed_at, apps = self._apps.get(app_name, (0.0, []))
        if time.monotonic() - listed_at > APP_CACHE_SECONDS:
            apps = self.objects.list_cluster_custom_object(
                "kubedirector.hpe.com",
                "v1beta1",
                "kubedirectorapps",
                field_selector=f"metadata.name={app_name}",
            )["items"]
            self._apps[app_name] = (time.monotonic(), apps)
        namespace = pod["metadata"]["namespace"]
        apps = sorted(apps, key=lambda a: a["metadata"]["namespace"] != namespace)
        for app in apps[:1]:
            spec = app.get("spec") or {}
            role: dict[str, Any] = next(
                (r for r in spec.get("roles") or [] if r.get("id") == role_id), {}
            )
            package = (
                role["configPackage"]
                if "configPackage" in role
                else spec.get("defaultConfigPackage")
            )
            return (package or {}).get("packageURL")
        return None

    def seed_package(self, pod: dict, guest: Path) -> None:
        try:
            url = self.package_url(pod)
        except ApiException as e:
            log("seed_lookup_failed", pod=pod["metadata"]["name"], status=e.status)
            return
        if not url or not url.startswith("file://"):
            return
        target = guest / url[len("file://") :].lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        script = STAND_IN.encode()
        with tarfile.open(target, "w:gz") as tar:
            info = tarfile.TarInfo("appconfig/startscript")
            info.size, info.mode = len(script), 0o755
            tar.addfile(info, io.BytesIO(script))
        log("package_seeded", pod=pod["metadata"]["name"], path=str(target))

    def _delete(self, meta: dict) -> None:
        guest = self.guest_root / meta["namespace"] / f"{meta['name']}-{meta['uid'][:8]}"
        shutil.rmtree(guest, ignore_errors=True)
        try:
            current = self.objects.get_namespaced_custom_object(
                "kwok.x-k8s.io", "v1alpha1", meta["namespace"], "execs", meta["name"]
            )
            if current["metadata"].get("annotations", {}).get(POD_UID) == meta["uid"]:
                self.objects.delete_namespaced_custom_object(
                    "kwok.x-k8s.io", "v1alpha1", meta["namespace"], "execs", meta["name"]
                )
        except ApiException as e:
            if e.status != 404:
                log(
                    "exec_delete_failed", pod=f"{meta['namespace']}/{meta['name']}", status=e.status
                )


class Provisioner:
    """Creates a PV for each pending claim of a simulated class; deletes released PVs."""

    def __init__(self, api: client.ApiClient, volume_root: Path) -> None:
        self.core = client.CoreV1Api(api)
        self.storage = client.StorageV1Api(api)
        self.volume_root = volume_root

    def _class(self, name: str | None) -> dict | None:
        if not name:
            return None
        try:
            sc = self.storage.read_storage_class(name)
        except ApiException:
            return None
        if sc.provisioner != PROVISIONER:
            return None
        return {"mode": sc.volume_binding_mode, "reclaim": sc.reclaim_policy or "Delete"}

    def handle_claim(self, kind: str, pvc: dict) -> None:
        spec, meta = pvc["spec"], pvc["metadata"]
        if (
            kind == "DELETED"
            or spec.get("volumeName")
            or pvc.get("status", {}).get("phase") != "Pending"
        ):
            return
        sc = self._class(spec.get("storageClassName"))
        node = meta.get("annotations", {}).get(SELECTED_NODE)
        if sc is None or (sc["mode"] == "WaitForFirstConsumer" and not node):
            return
        name = f"pvc-{meta['uid']}"
        pv: dict = {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {
                "name": name,
                "annotations": {"pv.kubernetes.io/provisioned-by": PROVISIONER},
            },
            "spec": {
                "capacity": {"storage": spec["resources"]["requests"]["storage"]},
                "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
                "volumeMode": spec.get("volumeMode", "Filesystem"),
                "storageClassName": spec["storageClassName"],
                "persistentVolumeReclaimPolicy": sc["reclaim"],
                "hostPath": {"path": str(self.volume_root / name)},
                "claimRef": {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "namespace": meta["namespace"],
                    "name": meta["name"],
                    "uid": meta["uid"],
                },
            },
        }
        if node:
            pv["spec"]["nodeAffinity"] = {
                "required": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {
                                    "key": "kubernetes.io/hostname",
                                    "operator": "In",
                                    "values": [node],
                                }
                            ]
                        }
                    ]
                }
            }
        try:
            self.core.create_persistent_volume(pv)
            log("volume_provisioned", pv=name, claim=f"{meta['namespace']}/{meta['name']}")
        except ApiException as e:
            if e.status != 409:
                log("volume_provision_failed", pv=name, status=e.status, reason=e.body)

    def resync_forever(self, stop: threading.Event, every: float = 5.0) -> None:
        """Look at pending claims again now and then: a missed watch event (the API
        server restarted) must not leave a claim unprovisioned."""
        while not stop.wait(every):
            try:
                claims = self.core.api_client.call_api(
                    "/api/v1/persistentvolumeclaims",
                    "GET",
                    auth_settings=["BearerToken"],
                    _preload_content=False,
                    _request_timeout=(10, 30),
                )
                for pvc in json.loads(claims.data).get("items", []):
                    self.handle_claim("MODIFIED", pvc)
            except Exception as e:
                log("claims_resync_failed", error=str(e)[:300])

    def handle_volume(self, kind: str, pv: dict) -> None:
        meta = pv["metadata"]
        if (
            kind == "DELETED"
            or pv.get("status", {}).get("phase") != "Released"
            or meta.get("annotations", {}).get("pv.kubernetes.io/provisioned-by") != PROVISIONER
            or pv["spec"].get("persistentVolumeReclaimPolicy") != "Delete"
        ):
            return
        try:
            self.core.delete_persistent_volume(meta["name"])
            log("volume_deleted", pv=meta["name"])
        except ApiException as e:
            if e.status != 404:
                log("volume_delete_failed", pv=meta["name"], status=e.status)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--kubeconfig", required=True)
    p.add_argument("--guest-root", required=True, type=Path)
    p.add_argument("--volume-root", required=True, type=Path)
    p.add_argument("--state-dir", required=True, help="marks the process as this cluster's")
    args = p.parse_args()
    api = config.new_client_from_config(config_file=args.kubeconfig)
    execs = Execs(api, args.guest_root)
    prov = Provisioner(api, args.volume_root)
    stop = threading.Event()
    pods = Sharded(execs.handle, EXEC_WORKERS)
    loops = [
        ("/api/v1/pods", pods),
        ("/api/v1/persistentvolumeclaims", prov.handle_claim),
        ("/api/v1/persistentvolumes", prov.handle_volume),
    ]
    threads = [
        threading.Thread(target=watch_forever, args=(api, path, fn, stop), daemon=True)
        for path, fn in loops
    ]
    threads.append(threading.Thread(target=prov.resync_forever, args=(stop,), daemon=True))
    threads += pods.threads(stop)
    for t in threads:
        t.start()
    log("started", guest_root=str(args.guest_root))
    try:
        while all(t.is_alive() for t in threads):
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    stop.set()
    return 0


if __name__ == "__main__":
    sys.exit(main())
