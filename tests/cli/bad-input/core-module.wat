;; RUN: validate % --wit ../fixtures/counter.wit
;; RUN: inspect %
;; RUN: inspect % --json
(module
  (import "env" "log" (func (param i32)))
  (memory (export "memory") 1)
  (func (export "get") (result i32) i32.const 42)
)
