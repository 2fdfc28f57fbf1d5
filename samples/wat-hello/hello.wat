;; Writes "hello from WAT\n" to stdout with WASI's fd_write.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; The iovec (pointer, length) at 0, the text at 16.
  (data (i32.const 16) "hello from WAT\n")
  (func $main (export "_start")
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 15))
    (drop (call $fd_write
      (i32.const 1)    ;; stdout
      (i32.const 0)    ;; iovec list
      (i32.const 1)    ;; one iovec
      (i32.const 8)))) ;; where to store the bytes written
)
