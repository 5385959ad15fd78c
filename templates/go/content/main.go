// The {{ name }} component, written in Go.
//
// `wcomp build` generates the bindings for the world in wit/ next to this file:
// wit_exports.go (part of this package, with the entry points the component
// exports and an empty main), one package per interface, and the Go module they
// import (wit_go_pkg/). Each exported interface is implemented in a package
// named export_<namespace>_<package>_<interface>: one Go function per WIT
// function, named in CamelCase.
package main
