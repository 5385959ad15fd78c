;; BUILD c.wasm: cmd ../fixtures/funcs.wit
;; TRUNCATE cut.wasm: c.wasm 100
;; RUN: validate %t/cut.wasm --wit ../fixtures/funcs.wit
;; RUN: inspect %t/cut.wasm
;; TRUNCATE header.wasm: c.wasm 6
;; RUN: inspect %t/header.wasm
(component)
