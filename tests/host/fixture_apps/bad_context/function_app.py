"""Load-time check: `context` must be annotated func.Context."""

import azure.functions as func

app = func.FunctionApp()


@app.route(route="hello")
def hello(req: func.HttpRequest, context: str) -> func.HttpResponse:
    return func.HttpResponse("never served")
