"""The app's I/O: the Web PubSub service, the table store, and the flows that use them.

Everything that decides lives in the pure `chat` package; these modules only call out.
"""
