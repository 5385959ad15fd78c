;; RUN: validate % --wit ../fixtures/counter.wit
;; RUN: inspect %
;; The exported instance comes out of a nested component, instantiated inside.
(component
  (component $inner
    (core module $m
      (func (export "get") (result i32) i32.const 42)
      (func (export "add") (param i32))
    )
    (core instance $i (instantiate $m))
    (func $get (result u32) (canon lift (core func $i "get")))
    (func $add (param "n" u32) (canon lift (core func $i "add")))
    (instance $api (export "get" (func $get)) (export "add" (func $add)))
    (export "example:counter/counter@0.1.0" (instance $api))
  )
  (instance $x (instantiate $inner))
  (export "example:counter/counter@0.1.0" (instance $x "example:counter/counter@0.1.0"))
)
