"""Models and verification tools of the scalar core: the instruction-set golden model
(:mod:`.model`), the unicorn reference (:mod:`.unicorn_ref`), the random instruction-stream
generator (:mod:`.randgen`), golden-vs-unicorn co-simulation (:mod:`.cosim`) and the benchmark
kernels (:mod:`.kernels`). See docs/core.md."""
