"""Load-time check: the trigger parameter must be annotated func.HttpRequest (or not at all)."""

import azure.functions as func

app = func.FunctionApp()


@app.route(route="hello")
def hello(req: str) -> func.HttpResponse:
    return func.HttpResponse("never served")
