"""
Recurrent input of a `RateNetwork` on cpp_standalone, where no Python runs
during the simulation: a Brian2 `Function` whose C++ implementation computes
``I_rec = W r`` for every cell type at once, by FFT convolution for kernel
coupling (O(N log N)) or by a matrix-vector product for dense coupling. It is
called once per step from scalar code, which cpp_standalone runs serially,
outside its OpenMP loops, so the result does not depend on the thread count.

It reaches inside Brian2 in one place, `_global_array`: the function reads the
rates of all groups and writes the inputs of all groups, so it names
cpp_standalone's global arrays (``brian::_array_<group>_<variable>``). A
per-element Brian2 function only sees its own arguments, and a function's
static buffers are private to each generated file, so the results have to
live in those global arrays to be shared between the groups' code objects.
"""

import numpy as np
from brian2 import Function, second
from brian2.devices.cpp_standalone.codeobject import openmp_pragma
from brian2.devices.device import get_device

from .coupling import Coupling, DenseCoupling
from .kernels import padded_for_fft

__all__ = ["coupling_function"]

_FFT = """
static void {P}_fft1(double* re, double* im, const int n, const double* cw, const double* sw,
                     const int* rev, const double sign)
{{
    for (int k = 0; k < n; k++) {{
        const int j = rev[k];
        if (j > k) {{
            double t = re[k]; re[k] = re[j]; re[j] = t;
            t = im[k]; im[k] = im[j]; im[j] = t;
        }}
    }}
    for (int half = 1; half < n; half *= 2) {{
        const int step = n / (2 * half);
        for (int start = 0; start < n; start += 2 * half)
            for (int k = 0; k < half; k++) {{
                const double wr = cw[k * step], wi = sign * sw[k * step];
                const int a = start + k, b = a + half;
                const double xr = re[b] * wr - im[b] * wi, xi = re[b] * wi + im[b] * wr;
                re[b] = re[a] - xr; im[b] = im[a] - xi;
                re[a] += xr; im[a] += xi;
            }}
    }}
}}

static void {P}_tables(const int n, double*& cw, double*& sw, int*& rev)
{{
    cw = new double[n]; sw = new double[n]; rev = new int[n];
    int bits = 0;
    while ((1 << bits) < n) bits++;
    for (int k = 0; k < n; k++) {{
        cw[k] = cos(6.283185307179586476925 * k / n);
        sw[k] = -sin(6.283185307179586476925 * k / n);
        int r = 0;
        for (int b = 0; b < bits; b++) if (k & (1 << b)) r |= 1 << (bits - 1 - b);
        rev[k] = r;
    }}
}}

// 2-D FFT of an M0 x M1 row-major array (M0 = 1 for 1-D grids); sign -1 is the inverse, unscaled.
static void {P}_fft2(double* re, double* im, const double sign)
{{
    static double *cw0, *sw0, *cw1, *sw1, *tr, *ti;
    static int *rev0, *rev1;
    if (!cw1) {{
        {P}_tables({M0}, cw0, sw0, rev0);
        {P}_tables({M1}, cw1, sw1, rev1);
        tr = new double[{M0}]; ti = new double[{M0}];
    }}
    for (int row = 0; row < {M0}; row++)
        {P}_fft1(re + row * {M1}, im + row * {M1}, {M1}, cw1, sw1, rev1, sign);
    if ({M0} == 1) return;
    for (int col = 0; col < {M1}; col++) {{
        for (int row = 0; row < {M0}; row++) {{ tr[row] = re[row * {M1} + col]; ti[row] = im[row * {M1} + col]; }}
        {P}_fft1(tr, ti, {M0}, cw0, sw0, rev0, sign);
        for (int row = 0; row < {M0}; row++) {{ re[row * {M1} + col] = tr[row]; im[row * {M1} + col] = ti[row]; }}
    }}
}}

// Two real fields go through one complex FFT (a + ib) and are separated by
// Hermitian symmetry; two real results come back from one inverse the same way.
static void {P}_compute()
{{
    const int T = {types}, M = {M0} * {M1};
    double* rates[] = {{ {rates} }};
    double* inputs[] = {{ {inputs} }};
    static double *zr, *zi, *sr, *si;
    if (!zr) {{ zr = new double[M]; zi = new double[M]; sr = new double[T * M]; si = new double[T * M]; }}
    for (int s = 0; s < T; s += 2) {{
        for (int k = 0; k < M; k++) {{ zr[k] = 0; zi[k] = 0; }}
        for (int a = 0; a < {n0}; a++)
            for (int b = 0; b < {n1}; b++) {{
                zr[a * {M1} + b] = rates[s][a * {n1} + b];
                if (s + 1 < T) zi[a * {M1} + b] = rates[s + 1][a * {n1} + b];
            }}
        {P}_fft2(zr, zi, 1.0);
        for (int a = 0; a < {M0}; a++)
            for (int b = 0; b < {M1}; b++) {{
                const int k = a * {M1} + b, m = (({M0} - a) % {M0}) * {M1} + ({M1} - b) % {M1};
                sr[s * M + k] = 0.5 * (zr[k] + zr[m]);
                si[s * M + k] = 0.5 * (zi[k] - zi[m]);
                if (s + 1 < T) {{
                    sr[(s + 1) * M + k] = 0.5 * (zi[k] + zi[m]);
                    si[(s + 1) * M + k] = -0.5 * (zr[k] - zr[m]);
                }}
            }}
    }}
    const double* kr = _namespace{P}_kernel_re;
    const double* ki = _namespace{P}_kernel_im;
    for (int t = 0; t < T; t += 2) {{
        for (int k = 0; k < M; k++) {{ zr[k] = 0; zi[k] = 0; }}
        for (int u = t; u < t + 2 && u < T; u++)
            for (int s = 0; s < T; s++) {{
                const double* wr = kr + (u * T + s) * M;
                const double* wi = ki + (u * T + s) * M;
                const double* xr = sr + s * M;
                const double* xi = si + s * M;
                if (u == t)
                    for (int k = 0; k < M; k++) {{ zr[k] += wr[k] * xr[k] - wi[k] * xi[k]; zi[k] += wr[k] * xi[k] + wi[k] * xr[k]; }}
                else  // the second target rides in the imaginary part: add i*Y
                    for (int k = 0; k < M; k++) {{ zr[k] -= wr[k] * xi[k] + wi[k] * xr[k]; zi[k] += wr[k] * xr[k] - wi[k] * xi[k]; }}
            }}
        {P}_fft2(zr, zi, -1.0);
        for (int a = 0; a < {n0}; a++)
            for (int b = 0; b < {n1}; b++) {{
                inputs[t][a * {n1} + b] = zr[a * {M1} + b] / M;
                if (t + 1 < T) inputs[t + 1][a * {n1} + b] = zi[a * {M1} + b] / M;
            }}
    }}
}}
"""

_DENSE = """
// The product is bound by memory bandwidth; its rows are shared among Brian2's OpenMP threads
// (when it is built with them and the matrix is large). Each row is summed by one thread in one
// order, so that the result does not depend on the number of threads.
static void {P}_compute()
{{
    const int T = {types}, n = {size}, N = {N};
    double* rates[] = {{ {rates} }};
    double* inputs[] = {{ {inputs} }};
    static double *all, *out;
    if (!all) {{ all = new double[N]; out = new double[N]; }}
    for (int s = 0; s < T; s++) for (int j = 0; j < n; j++) all[s * n + j] = rates[s][j];
    const double* W = _namespace{P}_weights;
    {parallel}
    for (int row = 0; row < N; row++) {{
        const double* w = W + (size_t)row * N;
        double sum = 0;
        for (int j = 0; j < N; j++) sum += w[j] * all[j];
        out[row] = sum;
    }}
    for (int row = 0; row < N; row++) inputs[row / n][row % n] = out[row];
}}
"""

_ENTRY = """
// Called once per step from the scalar code of a `run_regularly` operation, which cpp_standalone
// runs serially before (outside) its parallel per-unit loop: no unit reads I_rec while it is written.
static double {P}(const double t)
{{
    {P}_compute();
    return t;
}}
"""

# Below this many weights, starting the threads of a parallel product costs more than it saves.
_PARALLEL_WEIGHTS = 10**6


def _global_array(group, variable):
    return "brian::" + get_device().get_array_name(group.variables[variable])


def _padded_kernel_spectra(coupling, fft_shape):
    """``weights[t, s] * kernel[t][s]`` at every displacement, embedded in ``fft_shape`` and transformed."""
    grid = coupling.grid
    spectra = np.zeros((coupling.types, coupling.types) + fft_shape, dtype=complex)
    for t, (w_row, k_row) in enumerate(zip(coupling.weights, coupling.kernels)):
        for s, (weight, kernel) in enumerate(zip(w_row, k_row)):
            # Periodic grids too get a linear convolution (of the wrapped kernel), so that one
            # power-of-two FFT size serves every grid.
            padded = padded_for_fft(kernel.sampled(grid), grid, fft_shape)
            spectra[t, s] = weight * np.fft.fft2(padded) if len(fft_shape) == 2 else weight * np.fft.fft(padded)
    return spectra


def coupling_function(network):
    """
    A `Function` ``<name>(t)`` for cpp_standalone that writes ``I_rec`` of
    every group of ``network`` (a `RateNetwork`) and returns ``t``.

    It is meant for the scalar code of a `run_regularly` operation
    (``coupled_at = <name>(t)`` with a shared ``coupled_at``), which runs once
    per step outside the OpenMP loop over the units: inside it, one unit would
    compute the inputs while other threads read and write them. The dense
    product uses Brian2's own OpenMP threads (``openmp_threads``), read when
    the code is generated.
    """
    coupling, groups = network.coupling, network.groups
    prefix = f"{network.name}_couple"
    arrays = dict(P=prefix, types=coupling.types,
                  rates=", ".join(_global_array(g, "r") for g in groups),
                  inputs=", ".join(_global_array(g, "I_rec") for g in groups))
    if isinstance(coupling, DenseCoupling):
        n = coupling.types * coupling.size

        def code(owner):
            parallel = openmp_pragma("parallel-static") if n * n > _PARALLEL_WEIGHTS else ""
            return _DENSE.format(size=coupling.size, N=n, parallel=parallel, **arrays) + _ENTRY.format(**arrays)

        namespace = {f"{prefix}_weights": coupling.weights.ravel()}
    elif isinstance(coupling, Coupling):
        shape = coupling.grid.shape
        fft_shape = tuple(1 << int(np.ceil(np.log2(2 * n - 1))) for n in shape)
        spectra = _padded_kernel_spectra(coupling, fft_shape)
        n0, n1 = (1,) + shape if len(shape) == 1 else shape
        m0, m1 = (1,) + fft_shape if len(fft_shape) == 1 else fft_shape
        fft_code = _FFT.format(n0=n0, n1=n1, M0=m0, M1=m1, **arrays) + _ENTRY.format(**arrays)
        code = lambda owner: fft_code  # noqa: E731
        namespace = {f"{prefix}_kernel_re": np.ascontiguousarray(spectra.real.ravel()),
                     f"{prefix}_kernel_im": np.ascontiguousarray(spectra.imag.ravel())}
    else:
        raise TypeError(f"cpp_standalone needs a Coupling or DenseCoupling; got {type(coupling).__name__}.")
    # stateless, so that a call with the scalar argument t is scalar code (run once, serially)
    function = Function(None, arg_units=[second], arg_names=["t"], return_unit=second, arg_types=["float"],
                        return_type="float", stateless=True)
    function.implementations.add_dynamic_implementation("cpp", code=code, namespace=lambda owner: namespace,
                                                        name=prefix)
    return function
