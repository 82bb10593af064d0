"""Offline Azure Web PubSub emulator (client WebSocket endpoint, REST API, upstream events)."""

from .config import EmulatorConfig, EventHandler, HubSettings, hubs_from_dict, load_config
from .server import Emulator, run_emulator

__all__ = [
    "Emulator",
    "EmulatorConfig",
    "EventHandler",
    "HubSettings",
    "hubs_from_dict",
    "load_config",
    "run_emulator",
]
