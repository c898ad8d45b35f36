"""The local API: an HTTP server on 127.0.0.1 for plugins and the tray app, its tokens, and a Python client.

    server.py   ApiServer(agent, port=...): the HTTP endpoints (started by the agent)
    tokens.py   bearer tokens with scopes, stored hashed; the access log; `gum token ...`
    client.py   Client(base_url, token): one method per endpoint; errors raise ApiError
    spec.py     the OpenAPI 3 document the server serves at /openapi.json

The contract shared with the tray app and the agent is in notes/API_CONTRACT.md.
"""

DEFAULT_PORT = 8765
