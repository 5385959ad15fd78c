// The {{ name }} HTTP handler: it implements wasi:http/incoming-handler, which
// `wcomp serve` calls once per request, each time in a fresh instance.
//
// `GET /` and `GET /hello/<name>` answer greetings, `GET /count` the number of requests
// this instance has handled (1 under `wcomp serve`), other paths 404 and other methods
// 405.
//
// The handler is written against the wasi:http types of wit/deps (the version
// `wcomp new` wrote) rather than as a `fetch` event listener: componentize-js's
// built-in fetch event handler targets an older wasi:http version than the one in wit/.

import {
  Fields,
  OutgoingBody,
  OutgoingResponse,
  ResponseOutparam,
} from "wasi:http/types@{{ wasi_http_version }}";

// Requests this instance has handled: module state, to show that instances are isolated.
let requests = 0;

function route(method, path, count) {
  if (method.tag !== "get") {
    return [405, "method not allowed\n"];
  }
  if (path === "/") {
    return [200, "{{ greeting }}, World!\n"];
  }
  if (path === "/count") {
    return [200, `${count}\n`];
  }
  const name = path.startsWith("/hello/") ? path.slice("/hello/".length) : "";
  if (name !== "" && !name.includes("/")) {
    return [200, `{{ greeting }}, ${name}!\n`];
  }
  return [404, "not found\n"];
}

function respond(responseOut, status, body) {
  const encoder = new TextEncoder();
  const headers = Fields.fromList([
    ["content-type", encoder.encode("text/plain; charset=utf-8")],
  ]);
  const response = new OutgoingResponse(headers);
  response.setStatusCode(status);
  const outgoing = response.body();
  ResponseOutparam.set(responseOut, { tag: "ok", val: response });
  const stream = outgoing.write();
  const bytes = encoder.encode(body);
  // One call writes at most 4096 bytes.
  for (let start = 0; start < bytes.length; start += 4096) {
    stream.blockingWriteAndFlush(bytes.subarray(start, start + 4096));
  }
  // The stream is a child of the body: it must be dropped before the body is finished.
  stream[Symbol.dispose || Symbol.for("dispose")]();
  OutgoingBody.finish(outgoing, undefined);
}

export const incomingHandler = {
  handle(request, responseOut) {
    requests += 1;
    const path = (request.pathWithQuery() ?? "/").split("?")[0];
    const [status, body] = route(request.method(), path, requests);
    respond(responseOut, status, body);
  },
};
