;; Names everywhere the name section can carry them: module, functions, locals, types, globals,
;; tables, memories, data and element segments, and labels. Compile with --debug-names.
(module $named
  (type $point_op (func (param $x i32) (param $y i32) (result i32)))
  (memory $heap 1)
  (table $dispatch 1 funcref)
  (global $scale (mut i32) (i32.const 3))
  (data $banner (i32.const 0) "named")
  (elem $handlers (table $dispatch) (i32.const 0) func $manhattan)

  (func $manhattan (export "manhattan") (type $point_op) (param $x i32) (param $y i32) (result i32)
    (local $ax i32) (local $ay i32)
    (local.set $ax (select (local.get $x) (i32.sub (i32.const 0) (local.get $x))
                           (i32.ge_s (local.get $x) (i32.const 0))))
    (local.set $ay (select (local.get $y) (i32.sub (i32.const 0) (local.get $y))
                           (i32.ge_s (local.get $y) (i32.const 0))))
    (i32.add (local.get $ax) (local.get $ay)))

  (func $scaled (export "scaled") (param $value i32) (result i32)
    (block $out (result i32)
      (drop (br_if $out (i32.const 0) (i32.eqz (local.get $value))))
      (i32.mul (local.get $value) (global.get $scale))))

  (func $first_byte (export "first_byte") (result i32)
    (i32.load8_u (i32.const 0))))
