"""What a cold start imports: the six functions are indexed from function_app alone, and no
Azure SDK client is imported until a function first needs one. A behavioural guard; the time
it takes is measured by `python -m bench --only coldstart`, never asserted here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = [
    "negotiate",
    "eventhandler",
    "room_messages",
    "room_info",
    "reports",
    "my_rooms",  # issue 17
    "my_blocks",  # issue 19
    "room_directory",  # issue 17
    "presence_sweep",
    "index",
    "static",
]
# The SDKs behind the service and the store (and their HTTP stack): each first used by a call.
SDK_PREFIXES = ("azure.core", "azure.data", "azure.identity", "azure.messaging", "aiohttp")
PROBE = """
import json, sys
import asyncio, json, logging, typing
import azure.functions
before = set(sys.modules)
import function_app
names = [f.get_function_name() for f in function_app.app.get_functions()]
print(json.dumps({"functions": names, "added": sorted(set(sys.modules) - before)}))
"""


def test_importing_the_app_indexes_six_functions_and_imports_no_sdk_client() -> None:
    # A fresh interpreter: this one has long imported everything.
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True
    )
    seen = json.loads(out.stdout)
    assert seen["functions"] == FUNCTIONS
    added = seen["added"]
    assert [m for m in added if m.startswith(SDK_PREFIXES)] == []
    # What only the webhook's stateful events, history and the timer's run use waits for them.
    assert "adapters.table_store" not in added
    assert "adapters.webhook_events" not in added
    assert "adapters.effects" not in added
    assert "adapters.sweeper" not in added
    assert "gzip" not in added


def test_gzip_waits_for_the_first_asset_served() -> None:
    # Every route's first call builds the app's parts, adapters.assets among them: importing
    # gzip there would charge negotiate's first call for it. Only gzipping an asset may.
    probe = (
        "import sys; import adapters.assets as a; before = 'gzip' in sys.modules; "
        "a.gzip_bytes(b'x'); print(before, 'gzip' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["False", "True"]
