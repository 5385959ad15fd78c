// The {{ name }} HTTP handler, written in Go.
//
// `wcomp build` generates the bindings for the world in wit/ next to this file:
// wit_exports.go (part of this package, with the entry points the component
// exports and an empty main), one package per interface, and the Go module they
// import (wit_go_pkg/). The exported wasi:http/incoming-handler is implemented in
// export_wasi_http_incoming_handler/handler.go.
package main
