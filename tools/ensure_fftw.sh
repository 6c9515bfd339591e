#!/usr/bin/env bash
# Makes sure FFTW3 (double and single precision, with headers) is available.
set -euo pipefail
have_fftw() {
  if command -v pkg-config >/dev/null 2>&1 && pkg-config --exists fftw3 fftw3f; then return 0; fi
  for d in /usr/include /usr/local/include /opt/homebrew/include "${CONDA_PREFIX:-/nonexistent}/include"; do
    if [ -f "$d/fftw3.h" ]; then
      for l in /usr/lib /usr/lib64 /usr/local/lib /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu \
               /opt/homebrew/lib "${CONDA_PREFIX:-/nonexistent}/lib"; do
        ls "$l"/libfftw3f.* >/dev/null 2>&1 && return 0
      done
    fi
  done
  return 1
}
if have_fftw; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "FFTW3 not found: installing libfftw3-dev and pkg-config with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq libfftw3-dev pkg-config >/dev/null
  have_fftw && exit 0
fi
cat >&2 <<'MSG'
scatclust needs FFTW3 (double and single precision, with headers), which was not found.
Install it, then run the command again:
  Debian/Ubuntu:  sudo apt-get install libfftw3-dev pkg-config
  Fedora/RHEL:    sudo dnf install fftw-devel
  macOS:          brew install fftw pkg-config
  conda:          conda install -c conda-forge fftw pkg-config
  HPC cluster:    module load fftw   (name varies: module avail fftw)
MSG
exit 1
