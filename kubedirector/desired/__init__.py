"""Pure builders of the Kubernetes objects a KubeDirectorCluster should have."""
