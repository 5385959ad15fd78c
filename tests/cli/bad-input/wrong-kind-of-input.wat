;; BUILD c.wasm: cmd ../fixtures/funcs.wit
;; RUN: validate ../fixtures/app.wit --wit ../fixtures/app.wit
;; RUN: validate %t/c.wasm --wit %t/c.wasm
(component)
