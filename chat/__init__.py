"""The chat app's logic: pure functions that function_app.py adapts to Azure Functions."""
