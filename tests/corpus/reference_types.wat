;; Reference types: externref values and tables, funcref tables, table.get/set/grow/size/fill,
;; ref.null, ref.is_null, ref.func (with a declarative element segment), and several tables.
(module
  (type $getter (func (result i32)))
  (table $externs (export "externs") 2 externref)
  (table $funcs 1 funcref)
  (elem declare func $seven $eight)
  (func $seven (result i32) (i32.const 7))
  (func $eight (result i32) (i32.const 8))

  (func (export "is_null") (param $r externref) (result i32) (ref.is_null (local.get $r)))

  (func (export "keep") (param $i i32) (param $r externref)
    (table.set $externs (local.get $i) (local.get $r)))
  (func (export "fetch") (param $i i32) (result externref)
    (table.get $externs (local.get $i)))

  ;; Grows the funcref table by $n slots filled with $eight; returns the old size.
  (func (export "grow_funcs") (param $n i32) (result i32)
    (table.grow $funcs (ref.func $eight) (local.get $n)))
  (func (export "funcs_size") (result i32) (table.size $funcs))

  (func (export "call_slot") (param $i i32) (result i32)
    (table.set $funcs (i32.const 0) (ref.func $seven))
    (call_indirect $funcs (type $getter) (local.get $i)))

  (func (export "clear_externs")
    (table.fill $externs (i32.const 0) (ref.null extern) (table.size $externs)))

  (func (export "null_func") (result i32) (ref.is_null (ref.null func))))
