;; WRITE empty.wasm:
;; RUN: validate %t/empty.wasm --wit ../fixtures/app.wit
;; RUN: inspect %t/empty.wasm
(component)
