"""The local API: an HTTP server on 127.0.0.1 for plugins and the tray app, its tokens, and a Python client.

    server.py   ApiServer(agent, port=...): the endpoints (FastAPI on uvicorn, started by the agent); the
                OpenAPI 3.1 document at /openapi.json is generated from their models
    models.py   request bodies and response models: the one definition of each JSON shape
    tokens.py   bearer tokens with scopes, stored hashed; the access log; `gum token ...`
    client.py   Client(base_url, token): one method per endpoint; errors raise ApiError

The contract shared with the tray app and the agent is in notes/API_CONTRACT.md.
"""

DEFAULT_PORT = 8765
