"""A local Azure Functions host for Python v2-model apps (what `func start` does, offline)."""
