"""A concrete func.Context for functions that declare `context: func.Context`."""

from __future__ import annotations

import threading

import azure.functions as func

# azure.functions exports Context but not the abstract TraceContext/RetryContext it returns;
# they live in its private _abc module (the classes the worker implements). Deriving from them
# keeps isinstance checks true, but a release may move or drop them, so plain bases stand in
# then: every attribute an app can read is defined below either way.
try:
    from azure.functions._abc import RetryContext as _RetryContextBase
    from azure.functions._abc import TraceContext as _TraceContextBase
except ImportError:  # also raised when the module exists but lacks the names
    _RetryContextBase = object  # type: ignore[assignment,misc]
    _TraceContextBase = object  # type: ignore[assignment,misc]


class _TraceContext(_TraceContextBase):
    def __init__(self, trace_parent: str, trace_state: str) -> None:
        self._parent = trace_parent
        self._state = trace_state

    @property
    def trace_state(self) -> str:
        return self._state

    @property
    def trace_parent(self) -> str:
        return self._parent

    @property
    def attributes(self) -> dict[str, str]:
        return {}


class _RetryContext(_RetryContextBase):
    @property
    def retry_count(self) -> int:
        return 0

    @property
    def max_retry_count(self) -> int:
        return 0

    @property
    def exception(self) -> Exception:  # type: ignore[override]
        raise AttributeError("no retry exception: HTTP triggers are not retried")


class InvocationContext(func.Context):
    _local = threading.local()

    def __init__(
        self, invocation_id: str, function_name: str, function_directory: str, traceparent: str
    ) -> None:
        self._invocation_id = invocation_id
        self._function_name = function_name
        self._function_directory = function_directory
        self._trace = _TraceContext(traceparent, "")
        self._retry = _RetryContext()

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def thread_local_storage(self) -> threading.local:  # type: ignore[override]
        return self._local

    @property
    def function_name(self) -> str:
        return self._function_name

    @property
    def function_directory(self) -> str:
        return self._function_directory

    @property
    def trace_context(self) -> _TraceContext:
        return self._trace

    @property
    def retry_context(self) -> _RetryContext:
        return self._retry
