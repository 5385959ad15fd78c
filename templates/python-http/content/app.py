"""The {{ name }} HTTP handler.

`GET /` and `GET /hello/<name>` answer greetings, `GET /count` the number of requests
this instance has handled (1 under `wcomp serve`, which gives every request a fresh
instance), other paths 404 and other methods 405.
"""

from componentize_py_types import Ok
from wit_world import exports
from wit_world.imports.types import (
    Fields,
    IncomingRequest,
    Method_Get,
    OutgoingBody,
    OutgoingResponse,
    ResponseOutparam,
)

# Requests this instance has handled: module state, to show that instances are isolated.
requests = 0


def route(method, path: str, count: int) -> tuple[int, str]:
    if not isinstance(method, Method_Get):
        return 405, "method not allowed\n"
    if path == "/":
        return 200, "{{ greeting }}, World!\n"
    if path == "/count":
        return 200, f"{count}\n"
    name = path.removeprefix("/hello/")
    if path.startswith("/hello/") and name and "/" not in name:
        return 200, f"{{ greeting }}, {name}!\n"
    return 404, "not found\n"


def respond(response_out: ResponseOutparam, status: int, body: str) -> None:
    headers = Fields.from_list([("content-type", b"text/plain; charset=utf-8")])
    response = OutgoingResponse(headers)
    response.set_status_code(status)
    outgoing = response.body()
    ResponseOutparam.set(response_out, Ok(response))
    data = body.encode()
    with outgoing.write() as stream:
        # One call writes at most 4096 bytes.
        for start in range(0, len(data), 4096):
            stream.blocking_write_and_flush(data[start : start + 4096])
    OutgoingBody.finish(outgoing, None)


class IncomingHandler(exports.IncomingHandler):
    def handle(self, request: IncomingRequest, response_out: ResponseOutparam) -> None:
        global requests
        requests += 1
        path = (request.path_with_query() or "/").split("?", 1)[0]
        status, body = route(request.method(), path, requests)
        respond(response_out, status, body)
