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

from .table import _CPP_INTERPOLATE, GridIndex, Table, TableAt, _cpp_at_code, _fill

__all__ = []

# As on cpp_standalone (lut4brian.table), without the out-of-range record.
_CUDA_INDEX = """
    double f = %ARG% * %SCALE% - %OFFSET%;
    if (!(f >= 0.0)) {
        if (x != x) return %ON_NAN%;
        f = 0.0;
    } else if (f > %LAST%) {
        f = %LAST%;
    }
"""


def _cuda_code(table, pairs):
    return _fill("__host__ __device__ static inline double %NAME%(const double x)\n{" + _CUDA_INDEX
                 + "    const int i = (int)f;\n    const double w = f - i;" + _CPP_INTERPOLATE + "}\n",
                 table, **{"%ON_NAN%": "x", "%PAIRS%": pairs})


def _cuda_index_code(index, pairs=None):
    return _fill("__host__ __device__ static inline double %NAME%(const double x)\n{" + _CUDA_INDEX
                 + "    return f;\n}\n", index, **{"%ON_NAN%": "0.0"})


def _cuda_at_code(at, pairs):
    return "__host__ __device__ " + _cpp_at_code(at, pairs)


Table.implementations["cuda"] = _cuda_code
GridIndex.implementations["cuda"] = _cuda_index_code
TableAt.implementations["cuda"] = _cuda_at_code
