"""Test support shared by several areas: the local stack helper and its fixtures."""
