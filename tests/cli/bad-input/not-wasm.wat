;; RUN: validate ../fixtures/not-wasm.txt --wit ../fixtures/app.wit
;; RUN: inspect ../fixtures/not-wasm.txt
;; WRITE prog: \x7fELF\x02\x01\x01\x00\x00\x00
;; RUN: validate %t/prog --wit ../fixtures/app.wit
;; WRITE junk.wasm: \xde\xad\xbe\xef\x00\x01
;; RUN: inspect %t/junk.wasm
(component)
