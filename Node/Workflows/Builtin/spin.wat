;; Built-in workflow "spin": never finishes, so timeouts (epoch interruption) can be seen.
(module
  (memory (export "memory") 1)
  (func (export "_start")
    (loop $forever
      (br $forever))))
