"""Load-time check: the parameter is named `request` but the trigger binding is `req`."""

import azure.functions as func

app = func.FunctionApp()


@app.route(route="hello")
def hello(request: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("never served")
