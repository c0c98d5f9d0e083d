"""The scalar control core: RV32IM + Zicsr + Zifencei, machine mode, hardware threads, custom
instruction port (docs/core.md). One file per functional unit; signals are prefixed with the
pipeline stage they belong to (``f_`` fetch, ``issue_`` issue, ``x_`` execute)."""
