"""Raises while being imported, like an app with a broken setting."""

import azure.functions as func

app = func.FunctionApp()

raise RuntimeError("setting WebPubSubConnectionString is missing")
