// Error helpers: every message names the parameter, its value and the valid range.
// std::invalid_argument becomes ValueError in Python (nanobind's mapping).
#pragma once
#include <cmath>
#include <cstddef>
#include <sstream>
#include <stdexcept>
#include <string>

namespace scatclust {

template <class... Args>
[[noreturn]] inline void fail(const Args&... args) {
    std::ostringstream os;
    (os << ... << args);
    throw std::invalid_argument(os.str());
}

template <class... Args>
inline void require(bool ok, const Args&... args) {
    if (!ok) fail(args...);
}

// Scans a buffer for NaN/Inf; throws naming the argument and the first bad index.
template <class T>
inline void require_finite(const T* x, std::size_t n, const char* name) {
    for (std::size_t i = 0; i < n; ++i) {
        if (!std::isfinite(x[i])) {
            fail(name, " contains a non-finite value (", x[i], ") at flat index ", i,
                 "; remove or interpolate NaN/Inf samples before transforming");
        }
    }
}

}  // namespace scatclust
