"""Run one function invocation the way the worker does, with host-style execution logs.

Async functions run on the event loop; sync ones in a thread pool sized like the worker's
(PYTHON_THREADPOOL_THREAD_COUNT). Any exception, or a return value the http output binding
cannot encode (None, dict, ...), becomes a 500 with an empty body; the trace goes to the log only.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import azure.functions as func

from devstack.host.app_loader import HttpFunction
from devstack.host.http_binding import HostResponse, encode_result
from devstack.host.invocation_context import InvocationContext

logger = logging.getLogger("devstack.host.function")

THREAD_COUNT_SETTING = "PYTHON_THREADPOOL_THREAD_COUNT"


def thread_pool_size(environ: dict[str, str] | os._Environ[str]) -> int | None:
    """Worker pool size from PYTHON_THREADPOOL_THREAD_COUNT (None: Python's default)."""
    raw = environ.get(THREAD_COUNT_SETTING, "").strip()
    if not raw:
        return None
    try:
        size = int(raw)
    except ValueError:
        message = f"{THREAD_COUNT_SETTING} must be a positive integer, not {raw!r}"
        raise ValueError(message) from None
    if not 1 <= size <= 32:
        raise ValueError(f"{THREAD_COUNT_SETTING} must be between 1 and 32, not {size}")
    return size


class Invoker:
    def __init__(self, app_dir: Path, executor: ThreadPoolExecutor) -> None:
        self._app_dir = str(app_dir)
        self._executor = executor

    async def invoke(self, function: HttpFunction, request: func.HttpRequest) -> HostResponse:
        invocation_id = str(uuid.uuid4())
        logger.info(
            "Executing 'Functions.%s' (Reason='This function was programmatically called via "
            "the host APIs.', Id=%s)",
            function.name,
            invocation_id,
        )
        kwargs: dict[str, object] = {function.trigger_param: request}
        if function.wants_context:
            kwargs["context"] = InvocationContext(
                invocation_id,
                function.name,
                self._app_dir,
                request.headers.get("traceparent", ""),
            )
        started = time.perf_counter()
        try:
            result = await self._call(function, kwargs)
            response = encode_result(result)
        except Exception:
            # The trace goes to the log only; the caller gets an empty 500, as from the host.
            self._log_done(function, invocation_id, started, "Failed", exc_info=True)
            return HostResponse(500, failed=True)
        self._log_done(function, invocation_id, started, "Succeeded")
        return response

    async def _call(self, function: HttpFunction, kwargs: dict[str, object]) -> object:
        if function.is_async:
            return await function.user_function(**kwargs)  # type: ignore[misc]
        # copy_context keeps contextvars (e.g. logging context) visible inside the pool thread.
        call = functools.partial(contextvars.copy_context().run, function.user_function, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    @staticmethod
    def _log_done(
        function: HttpFunction,
        invocation_id: str,
        started: float,
        outcome: str,
        *,
        exc_info: bool = False,
    ) -> None:
        duration_ms = round((time.perf_counter() - started) * 1000)
        logger.log(
            logging.INFO if outcome == "Succeeded" else logging.ERROR,
            "Executed 'Functions.%s' (%s, Id=%s, Duration=%dms)",
            function.name,
            outcome,
            invocation_id,
            duration_ms,
            exc_info=exc_info,
        )
