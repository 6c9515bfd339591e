// Error helpers: every message names the parameter, its value and the valid range.
// std::invalid_argument becomes ValueError in Python (nanobind's mapping).
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
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
// The fast pass tests the exponent bits with integer operations (which compilers vectorise,
// unlike a floating-point reduction); only a failing buffer is scanned again for the index.
template <class T>
inline void require_finite(const T* x, std::size_t n, const char* name) {
    using U = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
    constexpr U exp_mask = sizeof(T) == 4 ? U(0x7f800000u) : U(0x7ff0000000000000ull);
    unsigned bad = 0;
    for (std::size_t i = 0; i < n; ++i) {
        U bits;
        std::memcpy(&bits, x + i, sizeof(T));
        bad |= static_cast<unsigned>((bits & exp_mask) == exp_mask);
    }
    if (!bad) return;
    for (std::size_t i = 0; i < n; ++i) {
        if (!std::isfinite(x[i])) {
            fail(name, " contains a non-finite value (", x[i], ") at flat index ", i,
                 "; remove or interpolate NaN/Inf samples before transforming");
        }
    }
}

}  // namespace scatclust
