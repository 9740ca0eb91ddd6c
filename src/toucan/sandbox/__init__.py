"""The sandbox builder code runs in: bubblewrap namespaces, a seccomp filter, rlimits and cgroups."""
