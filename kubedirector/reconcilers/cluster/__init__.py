"""The KubeDirectorCluster reconciler, by part: observe, names, membership, owned
objects, member work (execs), status and Events; `reconciler.py` ties them."""

from kubedirector.reconcilers.cluster.reconciler import ClusterReconciler

__all__ = ["ClusterReconciler"]
