"""App setup inside members: configmeta, guest scripts, the exec path."""
