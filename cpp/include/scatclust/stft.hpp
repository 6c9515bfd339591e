// Short-time Fourier transform (forward and inverse), batched over rows.
//
// Conventions are those of scipy.signal.ShortTimeFFT with fft_mode='onesided':
//   * frame p covers samples k = p*hop - m_num/2 + j, j in [0, m_num); frame 0 is centred on
//     sample 0, so frames with p < 0 or near the end reach outside [0, n) and the missing
//     samples come from the padding mode;
//   * each segment is multiplied by the (already scaled) window, zero-padded to mfft and, if a
//     phase shift is given, rolled left by p_s = (phase_shift + m_num/2) mod m_num before the
//     real FFT of length mfft;
//   * output S[b, f, t] with f in [0, mfft/2], t = p - p0, stored either bin-major
//     (S[b][f][t], C order of that shape) or frame-major (S[b][t][f], the layout torch.stft
//     uses under its (f, t) view); frame-major writes each frame's spectrum contiguously.
// The inverse applies the same steps backwards with a dual window and overlap-adds frames in
// increasing frame order, so every output sample is a sum in a fixed order (deterministic and
// independent of the thread count).
#pragma once

#include <complex>
#include <cstddef>

namespace scatclust {

// How samples outside [0, n) are filled, with numpy.pad's meaning (scipy's `padding`):
// Zeros = 'constant' 0, Edge = 'edge', Even = 'reflect', Odd = 'reflect' with reflect_type='odd'.
// As in scipy, reflection is taken about the ends of the part of x that the requested frames
// touch, and pads longer than that part are reflected repeatedly (numpy's behaviour).
enum class StftPadding : int { Zeros = 0, Edge = 1, Even = 2, Odd = 3 };

// What the forward transform writes: the complex STFT, or fused real outputs |S|, |S|^2 or
// log(|S|^2 + log_eps), so that spectrograms never materialise the complex array.
enum class StftOutput : int { Complex = 0, Magnitude = 1, Power = 2, LogPower = 3 };

// Geometry shared by forward and inverse.
struct StftParams {
    int m_num = 0;               // window length (>= 1)
    int hop = 0;                 // frame increment in samples (>= 1)
    int mfft = 0;                // FFT length (>= m_num)
    bool has_phase_shift = true; // false: scipy's phase_shift=None (no roll)
    long long phase_shift = 0;   // in samples, |phase_shift| < mfft
};

// Throws std::invalid_argument naming the offending parameter.
void validate_stft_params(const StftParams& prm);

// Forward STFT of frames p in [p0, p1).
// IN  x   (batch, n) real, C-contiguous, finite
// IN  win (m_num) real window (already scaled; `scale` multiplies it once more)
// OUT out (batch, mfft/2+1, p1-p0) complex, or (batch, p1-p0, mfft/2+1) if frame_major
template <class T>
void stft_forward_complex(const T* x, std::size_t batch, long long n, const T* win,
                          const StftParams& prm, long long p0, long long p1, StftPadding padding,
                          T scale, std::complex<T>* out, int n_threads, bool frame_major = false);

// Same as above with a real fused output (Magnitude, Power or LogPower).
// OUT out (batch, mfft/2+1, p1-p0) real, or (batch, p1-p0, mfft/2+1) if frame_major
template <class T>
void stft_forward_real(const T* x, std::size_t batch, long long n, const T* win,
                       const StftParams& prm, long long p0, long long p1, StftPadding padding,
                       T scale, StftOutput output, T log_eps, T* out, int n_threads,
                       bool frame_major = false);

// Inverse STFT (overlap-add with a dual window).
// IN  S    (batch, mfft/2+1, n_frames) complex, or (batch, n_frames, mfft/2+1) if
//          frame_major; frame index c holds frame p_first + c
// IN  dual (m_num) real dual window (`scale` multiplies it once more)
// Frames q in [q0, q1) (a sub-range of the frames in S) are summed into samples [k0, k1).
// OUT out  (batch, k1-k0) real
template <class T>
void stft_inverse(const std::complex<T>* S, std::size_t batch, long long n_frames, long long p_first,
                  const T* dual, const StftParams& prm, long long q0, long long q1, long long k0,
                  long long k1, T scale, T* out, int n_threads, bool frame_major = false);

}  // namespace scatclust
