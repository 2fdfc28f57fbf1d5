"""``wasmforge serve``: WASI command modules answering HTTP requests as WAGI handlers (CGI over WASI).

``routes`` (route patterns and matching), ``wagi`` (the contract: CGI environment, argv, parsing a
handler's output), ``executor`` (one module compiled once, a fresh instance per request), ``server``
(the HTTP server: routes, static files, workers, limits, access log). See docs/serve.md.
"""
