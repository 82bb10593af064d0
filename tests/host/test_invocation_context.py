"""The func.Context the host passes, with and without azure.functions' private _abc module."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import azure.functions as func
import pytest

from devstack.host.invocation_context import InvocationContext
from tests.host.helpers import ROOT

# Run in a fresh interpreter: the simulation breaks azure.functions for the rest of the process.
CHECK = """
import sys
import azure.functions as func
import azure.functions._abc as private

{simulate}

from devstack.host.invocation_context import InvocationContext

ctx = InvocationContext("inv-1", "fn", "/app", "00-abc-def-01")
assert isinstance(ctx, func.Context)
assert (ctx.invocation_id, ctx.function_name, ctx.function_directory) == ("inv-1", "fn", "/app")
assert ctx.trace_context.trace_parent == "00-abc-def-01"
assert ctx.trace_context.trace_state == "" and ctx.trace_context.attributes == {{}}
assert ctx.retry_context.retry_count == 0 and ctx.retry_context.max_retry_count == 0
print("ok")
"""

SIMULATIONS = {
    # A release without the module: the package imports, the submodule is gone.
    "module-missing": """
del sys.modules["azure.functions._abc"]
delattr(func, "_abc")
sys.modules["azure.functions._abc"] = None  # import of it now fails
""",
    # A release that keeps the module but renames or drops the classes.
    "classes-missing": """
del private.TraceContext
del private.RetryContext
""",
}


@pytest.mark.parametrize("case", sorted(SIMULATIONS))
def test_context_works_without_the_private_module(case: str) -> None:
    script = CHECK.format(simulate=textwrap.dedent(SIMULATIONS[case]))
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_context_derives_from_the_library_classes_when_they_exist() -> None:
    from azure.functions import _abc

    ctx = InvocationContext("inv-2", "fn", "/app", "")
    assert isinstance(ctx, func.Context)
    assert isinstance(ctx.trace_context, _abc.TraceContext)
    assert isinstance(ctx.retry_context, _abc.RetryContext)
