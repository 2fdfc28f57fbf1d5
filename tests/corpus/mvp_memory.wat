;; Memory: loads and stores of every width and signedness, alignment and offset immediates,
;; memory.size/memory.grow, and active data segments.
(module
  (memory (export "memory") 1 4)
  (data (i32.const 16) "\01\02\03\04\05\06\07\08\ff\fe\fd\fc\fb\fa\f9\f8")
  (data (i32.const 64) "wasmforge")

  (func (export "load_widths") (result i64)
    (local $r i64)
    (local.set $r (i64.extend_i32_u (i32.load8_u (i32.const 24))))               ;; 0xff = 255
    (local.set $r (i64.add (local.get $r) (i64.extend_i32_s (i32.load8_s (i32.const 24)))))  ;; -1
    (local.set $r (i64.add (local.get $r) (i64.extend_i32_u (i32.load16_u (i32.const 16)))))  ;; 0x0201
    (local.set $r (i64.add (local.get $r) (i64.extend_i32_s (i32.load16_s offset=8 (i32.const 16)))))
    (local.set $r (i64.add (local.get $r) (i64.extend_i32_u (i32.load align=1 (i32.const 17)))))
    (local.set $r (i64.add (local.get $r) (i64.load8_u (i32.const 25))))
    (local.set $r (i64.add (local.get $r) (i64.load8_s (i32.const 25))))
    (local.set $r (i64.add (local.get $r) (i64.load16_u (i32.const 18))))
    (local.set $r (i64.add (local.get $r) (i64.load16_s (i32.const 26))))
    (local.set $r (i64.add (local.get $r) (i64.load32_u (i32.const 20))))
    (local.set $r (i64.add (local.get $r) (i64.load32_s (i32.const 28))))
    (i64.xor (local.get $r) (i64.load offset=16 align=8 (i32.const 0))))

  (func (export "store_widths") (param $v i64) (result i64)
    (i64.store (i32.const 128) (i64.const 0))
    (i64.store8 (i32.const 128) (local.get $v))
    (i64.store16 (i32.const 130) (local.get $v))
    (i64.store32 offset=4 (i32.const 128) (local.get $v))
    (i64.load (i32.const 128)))

  (func (export "store_i32") (param $v i32) (result i32)
    (i32.store (i32.const 200) (i32.const 0))
    (i32.store8 (i32.const 200) (local.get $v))
    (i32.store16 offset=2 (i32.const 200) (local.get $v))
    (i32.load (i32.const 200)))

  (func (export "floats_roundtrip") (param $a f32) (param $b f64) (result f64)
    (f32.store (i32.const 256) (local.get $a))
    (f64.store offset=8 (i32.const 256) (local.get $b))
    (f64.add (f64.promote_f32 (f32.load (i32.const 256))) (f64.load offset=8 (i32.const 256))))

  (func (export "strlen") (param $p i32) (result i32)
    (local $n i32)
    (block $end
      (loop $scan
        (br_if $end (i32.eqz (i32.load8_u (i32.add (local.get $p) (local.get $n)))))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $scan)))
    (local.get $n))

  (func (export "pages") (result i32) (memory.size))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))
