"""
Code generators for brian2cuda's ``cuda_standalone`` device.

They follow brian2cuda's own `TimedArray` support: a ``__host__ __device__``
function named after the implementation's ``name=``, reading its data through
the namespace array that brian2cuda copies to the GPU (``_namespace<key>``).
Importing lut4brian registers them; brian2cuda itself is not needed for that.

On the GPU the argument is clamped to the grid but the out-of-range record is
not kept: many threads would race on it and brian2cuda does not copy function
namespaces back to the host.
"""

from .table import _CPP_INDEX, GridIndex, Table, TableAt, _cpp_at_code, _cpp_code, _cpp_index_code

__all__ = []

# As on cpp_standalone (lut4brian.table), without the out-of-range record.
_CUDA_INDEX = "".join(line for line in _CPP_INDEX.splitlines(keepends=True) if "_range[" not in line)


_QUALIFIERS = "__host__ __device__ "


def _cuda_code(table, pairs):
    return _cpp_code(table, pairs, _CUDA_INDEX, _QUALIFIERS)


def _cuda_index_code(index, pairs=None):
    return _cpp_index_code(index, pairs, _CUDA_INDEX, _QUALIFIERS)


def _cuda_at_code(at, pairs):
    return _QUALIFIERS + _cpp_at_code(at, pairs)


Table.implementations["cuda"] = _cuda_code
GridIndex.implementations["cuda"] = _cuda_index_code
TableAt.implementations["cuda"] = _cuda_at_code
