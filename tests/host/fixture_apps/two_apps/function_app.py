"""The worker requires exactly one FunctionApp instance."""

import azure.functions as func

app = func.FunctionApp()
other = func.FunctionApp()


@app.route(route="hello")
def hello(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("never served")
