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


def measure(fn, repeat=7, warmup=1):
    """(median seconds, extra MiB): the process's peak resident memory during the timed runs
    above its resident memory just before them (working memory of fn, outputs included)."""
    import gc

    fn()  # warm (plans, filters)
    gc.collect()
    base = _status_mib("VmRSS")
    reset_peak_rss()
    t = timeit(fn, repeat=repeat, warmup=warmup - 1 if warmup > 1 else 0)
    return t, max(_status_mib("VmHWM") - base, 0.0)


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
