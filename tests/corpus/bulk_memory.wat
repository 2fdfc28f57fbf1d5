;; Bulk memory: passive data and element segments, memory.init/copy/fill, data.drop,
;; table.init/copy and elem.drop.
(module
  (memory (export "memory") 1)
  (data $greeting "hello, wasm")
  (data $digits "0123456789")
  (table $t 8 funcref)
  (elem $fns func $one $two $three)
  (type $unit (func (result i32)))
  (func $one (result i32) (i32.const 1))
  (func $two (result i32) (i32.const 2))
  (func $three (result i32) (i32.const 3))

  ;; Copies "hello" to 100, duplicates it to 105 with memory.copy, fills 3 bytes with '!'.
  (func (export "build") (result i32)
    (memory.init $greeting (i32.const 100) (i32.const 0) (i32.const 5))
    (memory.copy (i32.const 105) (i32.const 100) (i32.const 5))
    (memory.fill (i32.const 110) (i32.const 33) (i32.const 3))
    (data.drop $greeting)
    (i32.const 113))

  ;; After data.drop, memory.init with a non-zero length traps.
  (func (export "init_dropped")
    (memory.init $greeting (i32.const 0) (i32.const 0) (i32.const 1)))

  (func (export "digit") (param $i i32) (result i32)
    (memory.init $digits (i32.const 200) (local.get $i) (i32.const 1))
    (i32.load8_u (i32.const 200)))

  ;; table.init then table.copy, then calls through the table.
  (func (export "table_sum") (result i32)
    (table.init $t $fns (i32.const 0) (i32.const 0) (i32.const 3))
    (table.copy $t $t (i32.const 4) (i32.const 0) (i32.const 3))
    (elem.drop $fns)
    (i32.add
      (call_indirect $t (type $unit) (i32.const 4))
      (i32.add (call_indirect $t (type $unit) (i32.const 5))
               (call_indirect $t (type $unit) (i32.const 2))))))
