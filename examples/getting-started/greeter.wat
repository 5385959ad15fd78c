;; A hand-written component that conforms to example:greeter/greeter.
;; (Real components come from `cargo build --target wasm32-wasip2` and friends; this one
;; is small enough to read.)
(component
  (core module $m
    (memory (export "memory") 1)
    (data (i32.const 16) "hello")
    ;; The canonical ABI returns a (pointer, length) pair through memory.
    (func (export "greet") (param i32 i32) (result i32)
      (i32.store (i32.const 32) (i32.const 16))
      (i32.store (i32.const 36) (i32.const 5))
      (i32.const 32))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (i32.const 1024))
  )
  (core instance $i (instantiate $m))
  (alias core export $i "memory" (core memory $mem))
  (alias core export $i "realloc" (core func $realloc))
  (func $greet (param "name" string) (result string)
    (canon lift (core func $i "greet") (memory $mem) (realloc $realloc)))
  (instance $api (export "greet" (func $greet)))
  (export "example:greeter/api@1.0.0" (instance $api))
)
