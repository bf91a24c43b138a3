"""Private graph machinery of the tensor layer: grad mode, the graph walk, recompute."""
