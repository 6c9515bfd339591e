"""FFTW plan cache: batched FFTs vs numpy.fft, cache reuse, wisdom round trip, threads."""
import threading

import numpy as np
import pytest

from conftest import rel_err
import scatclust
import scatclust.fft as sf


@pytest.mark.parametrize("n", [1, 2, 7, 64, 100, 1000, 4096, 6561])
@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_c2c_vs_numpy(n, dtype, rng):
    x = (rng.standard_normal((3, n)) + 1j * rng.standard_normal((3, n))).astype(dtype)
    t = 2e-6 if dtype == np.complex64 else 1e-13  # ~ eps * log2(n) * a few
    assert rel_err(sf.fft(x), np.fft.fft(x)) < t
    assert rel_err(sf.fft(x, inverse=True), n * np.fft.ifft(x)) < t


@pytest.mark.parametrize("n", [1, 2, 9, 128, 1000, 65536])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_r2c_vs_numpy(n, dtype, rng):
    x = rng.standard_normal((2, 2, n)).astype(dtype)
    got = sf.rfft(x)
    assert got.shape == (2, 2, n // 2 + 1)
    assert rel_err(got, np.fft.rfft(x.astype(np.float64))) < (2e-6 if dtype == np.float32 else 1e-13)


def test_plans_are_cached_and_reused(rng):
    sf.clear_plan_cache()
    assert sf.plan_cache_size() == 0
    x = rng.standard_normal((4, 3000))
    sf.rfft(x)
    assert sf.plan_cache_size() == 1
    sf.rfft(x)
    sf.rfft(x[:1])
    assert sf.plan_cache_size() == 1  # same (precision, kind, size) -> same plan
    sf.rfft(x.astype(np.float32))
    assert sf.plan_cache_size() == 2  # a second precision is a second plan


def test_planner_effort_and_wisdom_roundtrip(tmp_path, rng):
    assert sf.get_planner() in ("estimate", "measure", "patient")
    old = sf.get_planner()
    try:
        sf.set_planner("measure")
        assert sf.get_planner() == "measure"
        sf.clear_plan_cache()
        x = rng.standard_normal((2, 1536))
        ref = np.fft.rfft(x)
        assert rel_err(sf.rfft(x), ref) < 1e-13
        text = sf.export_wisdom()
        assert text.startswith("#scatclust-wisdom float64") and "fftw_wisdom" in text
        path = tmp_path / "fftw.wisdom"
        sf.export_wisdom(path)
        assert path.read_text() == text
        sf.forget_wisdom()
        assert sf.import_wisdom(str(path)) is True
        assert sf.import_wisdom(path) is True
        assert sf.import_wisdom(text) is True
    finally:
        sf.set_planner(old)
        sf.clear_plan_cache()
    with pytest.raises(ValueError, match=r"effort='fast' must be one of 'estimate', 'measure', 'patient', 'auto'"):
        sf.set_planner("fast")
    with pytest.raises(ValueError, match=r"source must be wisdom text"):
        sf.import_wisdom("definitely not wisdom")


def test_concurrent_plan_creation_and_execution(rng):
    """Many Python threads create and execute plans for many sizes at once."""
    sf.clear_plan_cache()
    sizes = [96, 97, 128, 500, 1024, 1025, 3000, 4096]
    data = {n: rng.standard_normal((3, n)) for n in sizes}
    errors = []

    def work(seed):
        order = np.random.default_rng(seed).permutation(sizes)
        for n in order:
            got = sf.rfft(data[n])
            if rel_err(got, np.fft.rfft(data[n])) > 1e-13:
                errors.append(n)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sf.plan_cache_size() == len(sizes)


def test_fft_bad_input():
    with pytest.raises(ValueError, match=r"x must have a non-empty last axis"):
        sf.rfft(np.zeros((2, 0)))
    with pytest.raises(TypeError, match=r"x has complex dtype"):
        sf.rfft(np.zeros(4, dtype=complex))


def test_thread_controls():
    default = scatclust.get_num_threads()
    assert default >= 1
    with scatclust.threads(1):
        assert scatclust.get_num_threads() == 1
        with scatclust.threads(3):
            assert scatclust.get_num_threads() == 3
        assert scatclust.get_num_threads() == 1
    assert scatclust.get_num_threads() == default
    scatclust.set_num_threads(2)
    assert scatclust.get_num_threads() == 2
    scatclust.set_num_threads(None)
    assert scatclust.get_num_threads() == default
    with pytest.raises(ValueError, match=r"n=0 must be >= 1"):
        scatclust.set_num_threads(0)
    with pytest.raises(TypeError, match=r"n=1.5 must be an int >= 1 or None"):
        scatclust.set_num_threads(1.5)


def test_omp_num_threads_respected():
    """A fresh process with OMP_NUM_THREADS=1 defaults to one thread."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", "import scatclust; print(scatclust.get_num_threads())"],
                         env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1"
