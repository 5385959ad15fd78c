// Package export_wasi_http_incoming_handler implements wasi:http/incoming-handler,
// which `wcomp serve` calls once per request, each time in a fresh instance.
//
// `GET /` and `GET /hello/<name>` answer greetings, `GET /count` the number of
// requests this instance has handled (1 under `wcomp serve`), other paths 404 and
// other methods 405.
package export_wasi_http_incoming_handler

import (
	"fmt"
	"strings"

	witTypes "go.bytecodealliance.org/pkg/wit/types"
	types "wit_component/wasi_http_types"
)

// requests counts the requests this instance has handled: module state, to show
// that instances are isolated.
var requests uint64

// Handle implements `handle: func(request: incoming-request, response-out: response-outparam)`.
func Handle(request *types.IncomingRequest, responseOut *types.ResponseOutparam) {
	requests++
	target := "/"
	if p := request.PathWithQuery(); p.IsSome() {
		target = p.Some()
	}
	path, _, _ := strings.Cut(target, "?")
	status, body := route(request.Method(), path, requests)
	respond(responseOut, status, body)
}

func route(method types.Method, path string, count uint64) (uint16, string) {
	if method.Tag() != types.Method_Get {
		return 405, "method not allowed\n"
	}
	switch path {
	case "/":
		return 200, "{{ greeting }}, World!\n"
	case "/count":
		return 200, fmt.Sprintf("%d\n", count)
	}
	if name, ok := strings.CutPrefix(path, "/hello/"); ok && name != "" && !strings.Contains(name, "/") {
		return 200, "{{ greeting }}, " + name + "!\n"
	}
	return 404, "not found\n"
}

func respond(responseOut *types.ResponseOutparam, status uint16, body string) {
	headers := types.FieldsFromList([]witTypes.Tuple2[string, []uint8]{
		{F0: "content-type", F1: []uint8("text/plain; charset=utf-8")},
	}).Ok()
	response := types.MakeOutgoingResponse(headers)
	response.SetStatusCode(status)
	outgoing := response.Body().Ok()
	types.ResponseOutparamSet(responseOut, witTypes.Ok[*types.OutgoingResponse, types.ErrorCode](response))
	stream := outgoing.Write().Ok()
	data := []uint8(body)
	// One call writes at most 4096 bytes.
	for len(data) > 0 {
		n := min(len(data), 4096)
		stream.BlockingWriteAndFlush(data[:n])
		data = data[n:]
	}
	// The stream is a child of the body: it must be dropped before the body is finished.
	stream.Drop()
	types.OutgoingBodyFinish(outgoing, witTypes.None[*types.Fields]())
}
