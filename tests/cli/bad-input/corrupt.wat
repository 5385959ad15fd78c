;; WRITE bad.wasm: \x00asm\x0d\x00\x01\x00\xff\x01\x00
;; RUN: validate %t/bad.wasm --wit ../fixtures/app.wit
;; WRITE badversion.wasm: \x00asm\x0c\x00\x01\x00
;; RUN: inspect %t/badversion.wasm
(component)
