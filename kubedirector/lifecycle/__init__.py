"""The member lifecycle and cluster state as pure functions of spec, status and pods."""
