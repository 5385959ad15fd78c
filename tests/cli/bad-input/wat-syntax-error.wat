;; RUN: validate % --wit ../fixtures/counter.wit
;; RUN: inspect %
(component
  (core module $m
    (func (export "get") (result i32) i32.const)
  )
  (func $oops (param "n" u32 u32))
)
