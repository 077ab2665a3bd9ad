"""
Tables on brian2cuda's cuda_standalone device: the CUDA code is generated and
compiled with nvcc (no GPU needed). Runs where brian2cuda (Python >= 3.12)
and nvcc are installed: ``bash .ci/cuda`` sets that up.
"""

import os
import shutil
import subprocess

import pytest
from brian2 import NeuronGroup, device, mV, ms, prefs, run, set_device

brian2cuda = pytest.importorskip("brian2cuda", reason="brian2cuda is not installed (it needs Python >= 3.12; "
                                 "bash .ci/cuda installs it)")
if shutil.which("nvcc") is None:
    pytest.skip("nvcc is not on the PATH", allow_module_level=True)

from lut4brian import models, tabulate  # noqa: E402
from lut4brian.table import TableAt  # noqa: E402


def curand_dirs(tmp_path):
    """cuRAND's headers and a ``libcurand.so`` link (its wheel ships only ``libcurand.so.10``)."""
    import nvidia

    root = next(os.path.join(base, sub) for base in nvidia.__path__ for sub in os.listdir(base)
                if os.path.exists(os.path.join(base, sub, "include", "curand.h")))
    library = tmp_path / "lib"
    library.mkdir(exist_ok=True)
    if not (library / "libcurand.so").exists():
        os.symlink(os.path.join(root, "lib", "libcurand.so.10"), library / "libcurand.so")
    return os.path.join(root, "include"), str(library)


def generate(tmp_path, name, method="lut_exponential_euler"):
    """A tabulated COBAHH group, integrated with ``method``, as a cuda_standalone project."""
    include, library = curand_dirs(tmp_path)
    project = str(tmp_path / "project")
    set_device("cuda_standalone", directory=project, build_on_run=False)
    backend = prefs.devices.cuda_standalone.cuda_backend
    backend.detect_gpus = False
    backend.gpu_id = 0
    backend.compute_capability = 7.5  # CUDA 13's minimum
    # CUB refuses C++11; the cuRAND headers come from the nvidia-curand wheel
    backend.extra_compile_args_nvcc = [a for a in backend.extra_compile_args_nvcc if not a.startswith("-std")] + [
        "-std=c++17", f"-I{include}"]
    prefs.codegen.cpp.extra_compile_args_gcc = [
        a for a in prefs.codegen.cpp.extra_compile_args_gcc if not a.startswith("-std")] + ["-std=c++17"]
    prefs.codegen.cpp.extra_link_args = list(prefs.codegen.cpp.extra_link_args) + [f"-L{library}"]
    equations, namespace = models.cobahh()
    group = NeuronGroup(10, tabulate(equations, v=(-100 * mV, 100 * mV, 0.1 * mV), namespace=namespace),
                        method=method, namespace=namespace, name=name)
    group.v = -65 * mV
    run(1 * ms)
    device.build(directory=project, compile=False, run=False)
    return project


def compile_state_updater(project, name):
    return subprocess.run(["make", f"code_objects/{name}_stateupdater_codeobject.o"], cwd=project,
                          capture_output=True, text=True)


@pytest.mark.parametrize("method, function", [("exponential_euler", "lut_m_inf(const double x)"),
                                              ("lut_exponential_euler", "lut_index(const double x)")])
def test_cuda_code_compiles(tmp_path, method, function):
    name = f"tabulated_{method}"
    project = generate(tmp_path, name, method)
    with open(os.path.join(project, "code_objects", f"{name}_stateupdater_codeobject.cu")) as source:
        assert f"__host__ __device__ static inline double {function}" in source.read()
    result = compile_state_updater(project, name)
    assert result.returncode == 0, result.stdout + result.stderr


def test_host_only_functions_do_not_compile(tmp_path, monkeypatch):
    """The control: the same table code without __host__ __device__ is refused by nvcc."""
    host_only = TableAt.implementations["cpp"]
    monkeypatch.setitem(TableAt.implementations, "cuda", host_only)
    result = compile_state_updater(generate(tmp_path, "host_only"), "host_only")
    assert result.returncode != 0
    assert "calling a __host__ function" in result.stderr
