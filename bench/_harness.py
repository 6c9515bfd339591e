"""Small benchmark harness: warm-up, fixed repetitions, medians, peak-RSS, ratio tables."""
from __future__ import annotations

import os
import platform
import statistics
import subprocess
import time


def timeit(fn, repeat=7, warmup=1, min_time=0.0):
    """Median wall time (s) of fn() over `repeat` runs after `warmup` untimed runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def reset_peak_rss():
    """Reset the kernel's resident-set high-water mark of this process (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _status_mib(field):
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def _release_free_memory():
    """Return freed heap memory to the OS, so the next call's allocations show up in RSS."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass


def measure(fn, repeat=7, warmup=1):
    """(median seconds, extra MiB).

    Extra MiB: peak resident memory during one call above the resident memory just before it,
    after a warm-up call (plans, filters) and after returning freed memory to the OS: the
    working memory of one call, its output included.
    """
    fn()  # warm (plans, filters)
    _release_free_memory()
    base = _status_mib("VmRSS")
    reset_peak_rss()
    fn()
    extra = max(_status_mib("VmHWM") - base, 0.0)
    t = timeit(fn, repeat=repeat, warmup=warmup - 1 if warmup > 1 else 0)
    return t, extra


def machine_description():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    fftw = ""
    try:
        fftw = subprocess.run(["pkg-config", "--modversion", "fftw3"], capture_output=True, text=True).stdout.strip()
    except OSError:
        pass
    return (f"{cpu}; {os.cpu_count()} logical CPUs; Linux {platform.release()}; Python {platform.python_version()}; "
            f"FFTW {fftw or 'unknown'}")


def table(rows, headers):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    line = "| " + " | ".join(str(h).ljust(w) for h, w in zip(headers, widths)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = ["| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    return "\n".join([line, sep, *body])


def measure_interleaved(fns, rounds=15, warmup=2):
    """{name: (median seconds, extra MiB)} for several callables timed in alternation.

    On a shared machine the load changes during a run; timing one call of each callable per
    round, `rounds` times, exposes all of them to the same conditions, so their ratios are
    fairer than those of back-to-back `measure` runs. Extra MiB as in `measure` (one call).
    """
    mem = {}
    for name, fn in fns.items():
        for _ in range(warmup):
            fn()
        _release_free_memory()
        base = _status_mib("VmRSS")
        reset_peak_rss()
        fn()
        mem[name] = max(_status_mib("VmHWM") - base, 0.0)
    times = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: (statistics.median(times[name]), mem[name]) for name in fns}
