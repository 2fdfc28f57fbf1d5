;; 128-bit SIMD: constants, splats, lane access, shuffles, integer and float lane arithmetic,
;; comparisons, bitwise ops, narrowing/widening, dot products, and vector memory access.
(module
  (memory (export "memory") 1)
  (data (i32.const 0) "\01\00\00\00\02\00\00\00\03\00\00\00\04\00\00\00")
  (data (i32.const 16) "\0a\00\00\00\14\00\00\00\1e\00\00\00\28\00\00\00")

  ;; Dot product of the two i32x4 vectors stored at 0 and 16: 1*10 + 2*20 + 3*30 + 4*40 = 300.
  (func (export "dot") (result i32)
    (local $p v128)
    (local.set $p (i32x4.mul (v128.load (i32.const 0)) (v128.load offset=16 (i32.const 0))))
    (i32.add
      (i32.add (i32x4.extract_lane 0 (local.get $p)) (i32x4.extract_lane 1 (local.get $p)))
      (i32.add (i32x4.extract_lane 2 (local.get $p)) (i32x4.extract_lane 3 (local.get $p)))))

  (func (export "f32x4_sum") (param $x f32) (result f32)
    (local $v v128)
    (local.set $v (f32x4.add (f32x4.splat (local.get $x)) (v128.const f32x4 1 2 3 4)))
    (local.set $v (f32x4.mul (local.get $v) (f32x4.sqrt (v128.const f32x4 1 1 1 1))))
    (local.set $v (f32x4.max (local.get $v) (f32x4.min (local.get $v) (f32x4.neg (local.get $v)))))
    (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $v)) (f32x4.extract_lane 1 (local.get $v)))
      (f32.add (f32x4.extract_lane 2 (local.get $v)) (f32x4.extract_lane 3 (local.get $v)))))

  (func (export "shuffle") (result i64)
    (i64x2.extract_lane 0
      (i8x16.shuffle 15 14 13 12 11 10 9 8 7 6 5 4 3 2 1 0
        (v128.const i8x16 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15)
        (v128.const i8x16 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0))))

  (func (export "swizzle_lane") (result i32)
    (i8x16.extract_lane_u 0
      (i8x16.swizzle (v128.const i8x16 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25)
                     (v128.const i8x16 3 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0))))

  (func (export "saturating") (result i32)
    (i8x16.extract_lane_s 0
      (i8x16.add_sat_s (i8x16.splat (i32.const 100)) (i8x16.splat (i32.const 100)))))

  (func (export "bitmask") (param $x i32) (result i32)
    (i32x4.bitmask (i32x4.lt_s (v128.const i32x4 -1 2 -3 4) (i32x4.splat (local.get $x)))))

  (func (export "logic") (result i32)
    (local $a v128)
    (local.set $a (v128.bitselect
      (v128.const i32x4 0xffffffff 0 0xffffffff 0)
      (v128.const i32x4 0 0xffffffff 0 0xffffffff)
      (v128.const i64x2 -1 0)))
    (local.set $a (v128.xor (v128.or (local.get $a) (v128.not (local.get $a)))
                            (v128.and (local.get $a) (v128.andnot (local.get $a) (local.get $a)))))
    (i32.add (v128.any_true (local.get $a)) (i32x4.all_true (local.get $a))))

  (func (export "widen_narrow") (result i32)
    (local $w v128)
    (local.set $w (i16x8.extend_low_i8x16_s (v128.const i8x16 -1 2 -3 4 -5 6 -7 8 0 0 0 0 0 0 0 0)))
    (local.set $w (i8x16.narrow_i16x8_s (local.get $w) (local.get $w)))
    (i32.add (i8x16.extract_lane_s 0 (local.get $w)) (i32x4.extract_lane 0 (i32x4.dot_i16x8_s
      (v128.const i16x8 1 2 3 4 5 6 7 8) (v128.const i16x8 1 1 1 1 1 1 1 1)))))

  (func (export "lanes_and_memory") (result i64)
    (v128.store (i32.const 64) (i64x2.replace_lane 1 (i64x2.splat (i64.const 7)) (i64.const 9)))
    (v128.store64_lane 0 (i32.const 96) (v128.load64_splat (i32.const 72)))
    (i64.add (i64.load (i32.const 96))
             (i64x2.extract_lane 1 (v128.load32x2_u (i32.const 64)))))

  (func (export "conversions") (result f64)
    (f64x2.extract_lane 1
      (f64x2.convert_low_i32x4_s (i32x4.trunc_sat_f32x4_s (v128.const f32x4 1.5 -2.5 3 4))))))
