"""A concrete func.Context for functions that declare `context: func.Context`."""

# azure.functions exports Context but not the abstract TraceContext/RetryContext it returns,
# so they come from its _abc module (the same classes the worker implements).

from __future__ import annotations

import threading

import azure.functions as func
from azure.functions import _abc


class _TraceContext(_abc.TraceContext):
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


class _RetryContext(_abc.RetryContext):
    @property
    def retry_count(self) -> int:
        return 0

    @property
    def max_retry_count(self) -> int:
        return 0

    @property
    def exception(self) -> _abc.RpcException:  # type: ignore[override]
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
    def trace_context(self) -> _abc.TraceContext:
        return self._trace

    @property
    def retry_context(self) -> _abc.RetryContext:
        return self._retry
