;; RUN: validate % --wit ../fixtures/does-not-exist/
;; RUN: validate nope.wasm --wit ../fixtures/app.wit
;; RUN: inspect nope.wasm
;; RUN: validate %
;; RUN: validate - - --wit ../fixtures/app.wit
;; RUN: validate --wit ../fixtures/app.wit
(component)
