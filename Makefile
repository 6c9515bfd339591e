# Quick start:  make demo   (set up, build, run the demo on built-in data)
#               make test   (set up, build, run the test suite)
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
PIP     = $(PY) -m pip
TORCH_SPEC ?= torch==2.13.0

.PHONY: all fftw venv install dev test demo demo-kernels bench clean

all: install

# FFTW3 (double + single precision headers and libraries).
fftw:
	@bash tools/ensure_fftw.sh

$(VENV)/.stamp-deps: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet "$(TORCH_SPEC)"
	$(PIP) install --quiet "scikit-build-core>=0.10" "nanobind>=2.4" numpy \
	    "pytest>=7" "hypothesis>=6" "scipy>=1.12" "kymatio==0.3.0" \
	    "scikit-learn>=1.6" matplotlib \
	    "obspy>=1.4" "zarr>=3" "dask[distributed]>=2024.1" "xarray>=2024.1" "h5py>=3.8" \
	    "scikit-image>=0.22" "xraylib>=4.1" "astropy>=6" "tqdm>=4.60"
	touch $@

venv: $(VENV)/.stamp-deps

# Build and install the package into the venv (re-run after C++ changes).
install: fftw venv
	$(PIP) install --quiet --no-build-isolation --no-deps .

test: install
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-2} $(PY) -m pytest -q tests

# The whole pipeline on built-in synthetic data: features -> F-VAE -> clusters -> separation,
# cube segmentation, figures and report.md/report.html under scatclust-demo/.
demo: install
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-2} $(VENV)/bin/scatclust demo scatclust-demo --overwrite

# A tour of the signal kernels (filter banks, scattering, STFT) with shapes and timings.
demo-kernels: install
	$(PY) examples/demo.py

bench: install
	$(PY) bench/run.py

clean:
	rm -rf build dist $(VENV)
