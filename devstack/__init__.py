"""Offline local stack: Web PubSub emulator and Functions host."""
