"""No FunctionApp instance at all."""

import azure.functions as func


def hello(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("never served")
