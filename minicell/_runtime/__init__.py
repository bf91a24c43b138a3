"""Runtime state, the one home of it: threads, BLAS limits, fork handlers, memory policy, the process
world, sharding bounds (DESIGN.md section 1, helpers layer)."""
