"""Load-time check: `-> dict` does not match the http output binding."""

import azure.functions as func

app = func.FunctionApp()


@app.route(route="fine")
def fine(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("fine")


@app.route(route="hello")
def hello(req: func.HttpRequest) -> dict:
    return {"never": "served"}
