;; Sign-extension operators and non-trapping (saturating) float-to-int conversions.
(module
  (func (export "i32_extend8") (param i32) (result i32) (i32.extend8_s (local.get 0)))
  (func (export "i32_extend16") (param i32) (result i32) (i32.extend16_s (local.get 0)))
  (func (export "i64_extend8") (param i64) (result i64) (i64.extend8_s (local.get 0)))
  (func (export "i64_extend16") (param i64) (result i64) (i64.extend16_s (local.get 0)))
  (func (export "i64_extend32") (param i64) (result i64) (i64.extend32_s (local.get 0)))

  (func (export "sat_i32_f32_s") (param f32) (result i32) (i32.trunc_sat_f32_s (local.get 0)))
  (func (export "sat_i32_f32_u") (param f32) (result i32) (i32.trunc_sat_f32_u (local.get 0)))
  (func (export "sat_i32_f64_s") (param f64) (result i32) (i32.trunc_sat_f64_s (local.get 0)))
  (func (export "sat_i32_f64_u") (param f64) (result i32) (i32.trunc_sat_f64_u (local.get 0)))
  (func (export "sat_i64_f32_s") (param f32) (result i64) (i64.trunc_sat_f32_s (local.get 0)))
  (func (export "sat_i64_f32_u") (param f32) (result i64) (i64.trunc_sat_f32_u (local.get 0)))
  (func (export "sat_i64_f64_s") (param f64) (result i64) (i64.trunc_sat_f64_s (local.get 0)))
  (func (export "sat_i64_f64_u") (param f64) (result i64) (i64.trunc_sat_f64_u (local.get 0))))
