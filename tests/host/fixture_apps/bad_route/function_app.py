"""An unknown route constraint fails at startup, as in ASP.NET."""

import azure.functions as func

app = func.FunctionApp()


@app.route(route="items/{id:nosuchconstraint}")
def item(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("never served")
