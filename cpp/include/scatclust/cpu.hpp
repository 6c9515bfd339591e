// Run-time instruction-set level for the kernels built in several clones (k-means assignment,
// STFT windowing/split): 1 = baseline x86-64 (or any non-x86 CPU), 3 = x86-64-v3 (AVX2, FMA,
// BMI2), 4 = x86-64-v4 (AVX-512 F/VL/BW/DQ).
#pragma once

namespace scatclust {

// The CPU's level, lowered (never raised) by the environment variable `env_name` set to
// "baseline" or "x86-64-v3", so that tests can run every clone on one machine. Callers cache
// the result once per process (a function-local static), so every call uses the same clone.
int cpu_isa_level(const char* env_name);

}  // namespace scatclust
