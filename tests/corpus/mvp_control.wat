;; MVP control flow: blocks, loops, if/else, br/br_if/br_table, return, select, calls (direct and
;; through a table), recursion, globals and a start function that initialises one of them.
(module
  (type $binop (func (param i32 i32) (result i32)))
  (table $ops 4 funcref)
  (elem (table $ops) (i32.const 0) func $add $sub $mul $max)
  (global $started (mut i32) (i32.const 0))
  (global $answer i32 (i32.const 42))
  (global $counter (export "counter") (mut i64) (i64.const 0))

  (func $init
    (global.set $started (i32.const 1)))
  (start $init)

  (func $add (type $binop) (i32.add (local.get 0) (local.get 1)))
  (func $sub (type $binop) (i32.sub (local.get 0) (local.get 1)))
  (func $mul (type $binop) (i32.mul (local.get 0) (local.get 1)))
  (func $max (type $binop)
    (select (local.get 0) (local.get 1) (i32.gt_s (local.get 0) (local.get 1))))

  (func (export "started") (result i32) (global.get $started))
  (func (export "answer") (result i32) (global.get $answer))

  ;; Applies operator number $op (0 add, 1 sub, 2 mul, 3 max) through the table.
  (func (export "apply") (param $op i32) (param $a i32) (param $b i32) (result i32)
    (call_indirect $ops (type $binop) (local.get $a) (local.get $b) (local.get $op)))

  (func $fac (export "fac") (param $n i64) (result i64)
    (if (result i64) (i64.le_u (local.get $n) (i64.const 1))
      (then (i64.const 1))
      (else (i64.mul (local.get $n) (call $fac (i64.sub (local.get $n) (i64.const 1)))))))

  ;; Iterative Fibonacci with a loop and br_if; also counts calls in a mutable global.
  (func (export "fib") (param $n i32) (result i32)
    (local $a i32) (local $b i32) (local $t i32)
    (global.set $counter (i64.add (global.get $counter) (i64.const 1)))
    (local.set $b (i32.const 1))
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $t (i32.add (local.get $a) (local.get $b)))
        (local.set $a (local.get $b))
        (local.set $b (local.get $t))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next)))
    (local.get $a))

  ;; br_table: 0 -> 100, 1 -> 200, 2 -> 300, anything else -> -1.
  (func (export "classify") (param $x i32) (result i32)
    (block $default
      (block $two
        (block $one
          (block $zero
            (br_table $zero $one $two $default (local.get $x)))
          (return (i32.const 100)))
        (return (i32.const 200)))
      (return (i32.const 300)))
    (i32.const -1))

  (func (export "sign") (param $x i32) (result i32)
    (if (i32.lt_s (local.get $x) (i32.const 0))
      (then (return (i32.const -1))))
    (if (result i32) (local.get $x)
      (then (i32.const 1))
      (else (nop) (i32.const 0))))

  (func (export "trap") (unreachable))

  (func (export "drop_and_return") (param i32) (result i32)
    (drop (local.tee 0 (i32.add (local.get 0) (i32.const 1))))
    (local.get 0)))
