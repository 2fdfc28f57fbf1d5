;; Multi-value: functions with several results, blocks/loops/ifs with parameters and results.
(module
  (type $pair (func (param i32 i32) (result i32 i32)))
  (func $swap (export "swap") (type $pair)
    (local.get 1) (local.get 0))

  (func (export "divmod") (param $a i64) (param $b i64) (result i64 i64)
    (i64.div_u (local.get $a) (local.get $b))
    (i64.rem_u (local.get $a) (local.get $b)))

  ;; A block that takes two values from the stack and leaves their difference (b - a).
  (func (export "block_params") (param i32 i32) (result i32)
    (local.get 0) (local.get 1)
    (block (param i32 i32) (result i32)
      (call $swap)
      (i32.sub)))

  ;; Sum of 1..n with a loop that carries (sum, i) on the operand stack instead of in locals.
  (func (export "loop_params") (param $n i32) (result i32)
    (local $sum i32) (local $i i32)
    (i32.const 0) (local.get $n)
    (loop $l (param i32 i32) (result i32 i32)
      (local.set $i)
      (local.set $sum)
      (i32.add (local.get $sum) (local.get $i))
      (i32.sub (local.get $i) (i32.const 1))
      (br_if $l (i32.gt_s (local.get $i) (i32.const 1))))
    (drop))

  ;; An if with parameters: doubles both values when $c is true, negates them otherwise.
  (func (export "if_params") (param $c i32) (result i32 f64)
    (local $x i32) (local $y f64)
    (i32.const 10) (f64.const 2.5)
    (if (param i32 f64) (result i32 f64) (local.get $c)
      (then
        (local.set $y) (local.set $x)
        (i32.mul (local.get $x) (i32.const 2)) (f64.mul (local.get $y) (f64.const 2)))
      (else
        (local.set $y) (local.set $x)
        (i32.sub (i32.const 0) (local.get $x)) (f64.neg (local.get $y))))))
