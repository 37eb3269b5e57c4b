"""reconcilers package."""
