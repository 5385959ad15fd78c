;; RUN: inspect ../fixtures/shapes.wit
;; RUN: inspect ../fixtures/app-dir
;; RUN: inspect ../fixtures/two-worlds.wit --json
;; BUILD-WIT app.wasm: ../fixtures/app.wit
;; RUN: inspect %t/app.wasm
(component)
