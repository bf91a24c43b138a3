"""Differentiable primitives on NumPy arrays: each op's forward beside its backward.

The convention (micrograd's ``engine.py``, on arrays): a primitive takes arrays (or Python
scalars) and static parameters and returns ``(out, backward)``, where ``backward(g)`` maps the
output's gradient to one gradient per array input, in order (None where an input needs none).
Primitives that can skip expensive terms take ``needs``, one bool per input. They know nothing of
Tensors or graphs: ``minicell.tensor.apply`` wraps them. Shape errors are raised here, in the
house voice, naming the op.
"""
