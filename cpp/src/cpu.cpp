#include "scatclust/cpu.hpp"

#include <algorithm>
#include <cstdlib>
#include <string>

namespace scatclust {

int cpu_isa_level(const char* env_name) {
    int lvl = 1;
#if defined(__GNUC__) && defined(__x86_64__)
    __builtin_cpu_init();
    const bool v3 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                    __builtin_cpu_supports("bmi2");
    const bool v4 = v3 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                    __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
    lvl = v4 ? 4 : (v3 ? 3 : 1);
#endif
    if (const char* env = env_name ? std::getenv(env_name) : nullptr) {
        const std::string want(env);
        if (want == "baseline") lvl = 1;
        else if (want == "x86-64-v3") lvl = std::min(lvl, 3);
    }
    return lvl;
}

}  // namespace scatclust
