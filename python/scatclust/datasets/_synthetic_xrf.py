r"""Synthetic macro X-ray fluorescence (MA-XRF) data cubes with ground truth.

``synthetic_xrf`` builds an (H, W, C) cube of photon counts, as recorded by a scanning
MA-XRF spectrometer over a painting: every pixel holds an energy-dispersive spectrum of C
channels. The painting is a mosaic of K pigments whose spatial layout comes from a natural
image shipped with scikit-image; the function returns the cube, the energy axis, the
per-pixel ground-truth pigment labels, the pigment abundances and every pigment's pure
(noise-free) spectrum, so that segmentation results can be scored against a known truth.

Physics
-------
Pigments
    A pigment is a set of elements with weight fractions ``{symbol: w}`` (``PIGMENTS`` holds
    a small palette of historical pigments: lead white, vermilion, azurite, ochre, zinc
    white, lead-tin yellow, ...). Light elements (Z < 11: C, O, H...) emit no line in the
    recorded range and are omitted.

Excitation
    MA-XRF scanners for paintings excite with an X-ray tube run at 40-50 kV (e.g. the
    Bruker M6 Jetstream: Rh anode, up to 50 kV) and record spectra up to ~30-40 keV.
    Hence the defaults ``excitation_energy=40`` keV and ``energy_range=(1, 30)`` keV: the
    K shells of Sn (edge 29.2 keV, K alpha 25.3 keV), Sb, Cd, Ba... are excited and their
    lines recorded, so lead-tin yellow (Pb + Sn) is told apart from lead white (Pb) by
    its Sn K lines (cosine similarity of the two default spectra 0.70; at the former
    default of 20 keV only Sn's L lines were excited, 1.2 % of the pigment's line counts,
    and the similarity was 0.9999). ``excitation`` picks the incident spectrum, whose
    highest energy is E0 = ``excitation_energy``:

    ``"monochromatic"`` (default)
        every incident photon has the energy E0 (a synchrotron beam, a tube with a
        secondary target, or the crudest stand-in for a tube at E0 kV).
    ``"tube"``
        the bremsstrahlung of an X-ray tube at E0 kV, Kramers' law
        ``S(E) = (E0 - E) / E`` for E < E0, times the low-energy cut-off
        ``exp(-(E_c / E)^3)`` (E_c = ``CONTINUUM_CUTOFF`` = 1.5 keV) of the window and air
        path. Cross sections are averaged over S(E) (midpoint rule on a grid of
        ``TUBE_GRID_STEP`` = 5 eV from the lowest channel edge to E0). Not modelled: the
        anode's characteristic lines and its self-absorption, which in a real tube removes
        most photons below a few keV. Without it the abundant 2-8 keV photons dominate
        the excitation of low edges (Sn L, S K, Si K), and the thin-layer limit (below)
        adds no matrix absorption of the low-energy lines: at 40 kV lead-tin yellow's Sn
        L lines take 21 % of its line counts and its Sn K lines 0.9 % (monochromatic
        40 keV: 4 % and 47 %). Real spectra lie between; treat this mode as a bound.

Characteristic lines
    For every element Z and every line L of ``LINES`` (K alpha 1/2, K beta 1/3, the main
    L lines and M alpha 1), the line energy is ``xraylib.LineEnergy(Z, L)`` (keV) and its
    intensity is

        I(Z, L) = w_Z * sigma(Z, L)   [cm^2/g],
        sigma(Z, L) = xraylib.CS_FluorLine_Kissel_Cascade(Z, L, E0)        (monochromatic)
        sigma(Z, L) = sum_j CS_FluorLine_Kissel_Cascade(Z, L, E_j) S(E_j) / sum_j S(E_j)   (tube)

    the fluorescence-line production cross section: photo-ionisation cross section of the
    line's initial shell at the incident energy (Kissel), times the shell's fluorescence
    yield (``FluorYield``), times the line's radiative rate (``RadRate``), with the vacancy
    cascade from deeper shells (e.g. K-shell vacancies feeding L lines) included. Lines
    whose shell cannot be excited (edge above E0), lines xraylib does not tabulate
    for Z, and lines outside ``energy_range`` are dropped. This is the thin-layer limit:
    matrix self-absorption, secondary fluorescence, detector efficiency, escape and sum
    peaks are not modelled.

Detector response
    Each line is a Gaussian of unit area centred on its energy E with standard deviation
    (silicon drift detector, Fano statistics plus electronic noise)

        sigma(E) = sqrt((noise_fwhm / 2.3548)^2 + 3.85 * fano * E)     [eV, E in eV]

    3.85 eV being the mean energy to create an electron-hole pair in Si and ``fano``
    (default 0.114) the Fano factor. Each channel receives the Gaussian's integral over
    its width (difference of error functions), so areas are exact for any channel width.

Continuum
    The scattered bremsstrahlung of the X-ray tube, Kramers' law for the tube spectrum
    ``(E0 - E) / E`` for E < E0 (0 above), times a low-energy cut-off
    ``exp(-(E_c / E)^3)`` (E_c = ``CONTINUUM_CUTOFF`` = 1.5 keV) mimicking the absorption
    of the air path and detector window (photo-absorption scales as E^-3): the tube
    spectrum S(E) above. One shape for all pigments and for both ``excitation`` modes.

Pure pigment spectra
    ``spectrum_k = counts * ((1 - continuum_fraction) * lines_k + continuum_fraction *
    continuum)``, ``lines_k`` and ``continuum`` each normalised to unit sum over the
    channels: ``counts`` is the expected number of recorded photons per pixel.

Abundance maps and labels
    The image (``"astronaut"``, ``"coffee"``, ``"immunohistochemistry"``, ``"chelsea"``,
    ``"camera"`` or an array; all bundled with scikit-image, nothing is downloaded) is
    resized to ``shape`` (anti-aliased), converted to luminance (``rgb2gray``), and split
    into K equal-population luminance bins (quantiles): region k = pigment k, the darkest
    region first. The one-hot region maps are smoothed by a Gaussian of ``blur`` pixels
    (0 = pure pixels) and renormalised to sum to 1 per pixel: these are the abundances
    a_k(x). The ground-truth label of a pixel is the argmax of its abundances (ties to the
    lowest index), so mixed boundary pixels carry their dominant pigment.

Counting noise
    The expected spectrum of pixel x is ``g(x) * sum_k a_k(x) spectrum_k``, with a smooth
    gain ``g(x) = exp(intensity_variation * z(x))`` (z: the luminance standardised to
    zero mean and unit variance; 0 disables it) for the varying paint thickness and
    sample-detector distance. The recorded cube is a Poisson draw of it (``numpy``
    ``Generator.poisson``, seeded by ``random_state``).

Example
-------
>>> from scatclust.datasets import synthetic_xrf
>>> data = synthetic_xrf(shape=(32, 32), n_channels=256, random_state=0)
>>> data.cube.shape, data.cube.dtype, data.labels.shape
((32, 32, 256), dtype('float32'), (32, 32))
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

SI_PAIR_ENERGY_EV = 3.85
FWHM_PER_SIGMA = 2.3548200450309493  # 2 sqrt(2 ln 2)
CONTINUUM_CUTOFF = 1.5  # keV
TUBE_GRID_STEP = 0.005  # keV, integration step over the tube spectrum
EXCITATIONS = ("monochromatic", "tube")

#: Lines considered for every element (xraylib macro names without ``_LINE``).
LINES = ("KA1", "KA2", "KB1", "KB3", "LA1", "LA2", "LB1", "LB2", "LB3", "LB4", "LG1", "LL", "LE", "MA1")

#: Historical pigments as element weight fractions (light elements omitted).
PIGMENTS = {
    "lead white": {"Pb": 0.80},  # 2PbCO3.Pb(OH)2
    "vermilion": {"Hg": 0.86, "S": 0.14},  # HgS
    "azurite": {"Cu": 0.55},  # Cu3(CO3)2(OH)2
    "yellow ochre": {"Fe": 0.45, "Si": 0.10, "Ca": 0.05},  # goethite + clay
    "zinc white": {"Zn": 0.80},  # ZnO
    "lead-tin yellow": {"Pb": 0.61, "Sn": 0.17},  # Pb2SnO4
    "chrome yellow": {"Pb": 0.64, "Cr": 0.16},  # PbCrO4
    "emerald green": {"Cu": 0.25, "As": 0.44},  # Cu(CH3COO)2.3Cu(AsO2)2
    "titanium white": {"Ti": 0.60},  # TiO2
    "smalt": {"Co": 0.08, "K": 0.10, "Si": 0.30, "As": 0.02},  # cobalt potassium glass
}

#: Default palette: two lead pigments (shared Pb lines), a mercury one close to Pb, Cu, Fe.
DEFAULT_PIGMENTS = ("lead white", "vermilion", "azurite", "yellow ochre", "lead-tin yellow")

IMAGES = ("astronaut", "coffee", "immunohistochemistry", "chelsea", "camera")


@dataclass
class SyntheticXRF:
    """A synthetic MA-XRF cube and its ground truth (see :func:`synthetic_xrf`).

    Attributes
    ----------
    cube : ndarray, shape (H, W, C), float32
        Recorded photon counts (integers stored as float32).
    expected : ndarray, shape (H, W, C), float64
        The noise-free expected counts of which ``cube`` is a Poisson draw.
    energies : ndarray, shape (C,), float64
        Channel centre energies in keV.
    labels : ndarray, shape (H, W), int64
        Ground-truth pigment index per pixel (argmax of ``abundances``).
    abundances : ndarray, shape (H, W, K), float64
        Pigment fractions per pixel, summing to 1.
    pigment_spectra : ndarray, shape (K, C), float64
        Expected counts of a pixel of pure pigment k at unit gain.
    pigments : list of str
        Pigment names, in label order.
    lines : list of dict
        Every line used: pigment, element, line, energy (keV), sigma (keV) and its
        relative intensity within the pigment (summing to 1 per pigment).
    params : dict
        The generator's arguments.
    """

    cube: np.ndarray
    expected: np.ndarray
    energies: np.ndarray
    labels: np.ndarray
    abundances: np.ndarray
    pigment_spectra: np.ndarray
    pigments: list
    lines: list
    params: dict = field(default_factory=dict)


def fano_sigma(energy_kev, noise_fwhm=80.0, fano=0.114):
    """Detector peak width sigma(E) in keV: sqrt((noise/2.3548)^2 + 3.85 F E) (eV units).

    Parameters
    ----------
    energy_kev : float or ndarray
        Photon energy in keV.
    noise_fwhm : float
        Electronic noise FWHM in eV.
    fano : float
        Fano factor (0.114 for Si).

    Returns
    -------
    float or ndarray
        Standard deviation in keV.

    Example
    -------
    >>> round(float(fano_sigma(5.9, 0.0, 0.114)) * 2.3548 * 1000)  # Fano-limited FWHM at Mn K-alpha
    120
    """
    e_ev = np.asarray(energy_kev, dtype=np.float64) * 1000.0
    return np.sqrt((noise_fwhm / FWHM_PER_SIGMA) ** 2 + SI_PAIR_ENERGY_EV * fano * e_ev) / 1000.0


def _check_positive(name, value, allow_zero=False):
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name}={value!r} must be a real number") from None
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name}={value!r} must be finite and {bound}")
    return v


def _load_image(image):
    from skimage import data as skdata

    if isinstance(image, str):
        if image not in IMAGES:
            raise ValueError(f"image={image!r} must be one of {IMAGES} or an array")
        return np.asarray(getattr(skdata, image)())
    arr = np.asarray(image)
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)) or arr.size == 0:
        raise ValueError(f"image of shape {arr.shape} must be (H, W) or (H, W, 3|4)")
    return arr


def _luminance(image, shape):
    from skimage.color import rgb2gray, rgba2rgb
    from skimage.transform import resize

    img = image.astype(np.float64)
    if img.ndim == 3:
        img = img / max(float(img.max()), 1e-12)
        if img.shape[2] == 4:
            img = rgba2rgb(img)
        img = rgb2gray(img)
    return resize(img, shape, order=1, anti_aliasing=True, mode="reflect")


def _resolve_pigments(pigments):
    if pigments is None:
        pigments = list(DEFAULT_PIGMENTS)
    if isinstance(pigments, int) and not isinstance(pigments, bool):
        if not 2 <= pigments <= len(PIGMENTS):
            raise ValueError(f"pigments={pigments} must be between 2 and {len(PIGMENTS)}")
        pigments = list(PIGMENTS)[:pigments]
    if isinstance(pigments, dict):
        items = list(pigments.items())
    else:
        items = []
        for p in pigments:
            if not isinstance(p, str) or p not in PIGMENTS:
                raise ValueError(f"pigments entry {p!r} is not a known pigment; known: {sorted(PIGMENTS)}")
            items.append((p, PIGMENTS[p]))
    if len(items) < 2:
        raise ValueError(f"pigments has {len(items)} entries; at least 2 are needed")
    return items


def tube_spectrum(energy_kev, voltage_kv):
    """Relative photon flux of an X-ray tube (Kramers' law with the module's low-energy cut-off).

    ``S(E) = (V - E) / E * exp(-(E_c / E)^3)`` for 0 < E < V (0 elsewhere), V the tube
    voltage in kV, E_c = ``CONTINUUM_CUTOFF``. Also the shape of the generator's continuum.

    Parameters
    ----------
    energy_kev : float or ndarray
        Photon energy in keV (> 0).
    voltage_kv : float
        Tube voltage in kV: the highest photon energy in keV.

    Returns
    -------
    ndarray
        Unnormalised flux per keV, same shape as ``energy_kev``.

    Example
    -------
    >>> float(tube_spectrum(40.0, 40.0)), bool(tube_spectrum(10.0, 40.0) > tube_spectrum(30.0, 40.0))
    (0.0, True)
    """
    voltage_kv = _check_positive("voltage_kv", voltage_kv)
    e = np.asarray(energy_kev, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = (voltage_kv - e) / e * np.exp(-((CONTINUUM_CUTOFF / e) ** 3))
    return np.where((e > 0) & (e < voltage_kv), s, 0.0)


def _line_table(items, e0, e_lo, e_hi, noise_fwhm, fano, excitation):
    import xraylib

    if excitation == "tube":
        import xraylib_np

        n_grid = max(int(math.ceil((e0 - e_lo) / TUBE_GRID_STEP)), 1)
        grid = e_lo + (np.arange(n_grid) + 0.5) * (e0 - e_lo) / n_grid  # midpoints
        weight = tube_spectrum(grid, e0)
        weight = weight / weight.sum()
        macros = np.array([getattr(xraylib, line + "_LINE") for line in LINES])
    table = []
    for name, composition in items:
        rows = []
        for symbol, w in composition.items():
            try:
                z = xraylib.SymbolToAtomicNumber(symbol)
            except ValueError:
                raise ValueError(f"pigments[{name!r}] has an unknown element {symbol!r}") from None
            if not (float(w) > 0):
                raise ValueError(f"pigments[{name!r}][{symbol!r}]={w!r} must be > 0")
            if excitation == "tube":
                # (1, n_lines, n_grid); 0 below the edges and for lines not tabulated for Z.
                cs_all = xraylib_np.CS_FluorLine_Kissel_Cascade(np.array([z]), macros, grid)[0] @ weight
            for i, line in enumerate(LINES):
                macro = getattr(xraylib, line + "_LINE")
                try:
                    energy = xraylib.LineEnergy(z, macro)
                    if excitation == "tube":
                        cs = float(cs_all[i])
                    else:
                        cs = xraylib.CS_FluorLine_Kissel_Cascade(z, macro, e0)
                except ValueError:  # not tabulated for Z, or shell not excited at E0
                    continue
                if cs > 0 and e_lo <= energy <= e_hi:
                    rows.append(dict(pigment=name, element=symbol, line=line, energy=energy,
                                     sigma=float(fano_sigma(energy, noise_fwhm, fano)), intensity=float(w) * cs))
        total = sum(r["intensity"] for r in rows)
        if total <= 0:
            raise ValueError(f"pigments[{name!r}] emits no line in energy_range=({e_lo}, {e_hi}) keV at "
                             f"excitation_energy={e0} keV; widen the range or change the pigment")
        for r in rows:
            r["intensity"] /= total
        table.extend(rows)
    return table


def synthetic_xrf(shape=(64, 64), pigments=None, image="astronaut", n_channels=512, energy_range=(1.0, 30.0),
                  excitation_energy=40.0, excitation="monochromatic", noise_fwhm=80.0, fano=0.114, counts=500.0,
                  continuum_fraction=0.2, blur=1.0, intensity_variation=0.5, random_state=None):
    """Generate a synthetic MA-XRF cube with ground-truth labels (physics in the module docs).

    Parameters
    ----------
    shape : (int, int)
        Cube height and width in pixels.
    pigments : None, int, list of str or dict
        ``None``: ``DEFAULT_PIGMENTS`` (lead white, vermilion, azurite, yellow ochre,
        lead-tin yellow). An int K: the first K of
        ``PIGMENTS``. A list of ``PIGMENTS`` names, or a dict ``{name: {element: weight}}``.
    image : str or ndarray
        Layout source: a bundled scikit-image picture (``IMAGES``) or an (H, W[, 3]) array.
    n_channels : int
        Number of energy channels C (>= 16).
    energy_range : (float, float)
        Lowest and highest channel edge, keV (default 1-30 keV: every line of ``PIGMENTS``
        excited at 40 keV, up to Sn K beta at 28.5 keV).
    excitation_energy : float
        Highest excitation energy E0, keV (default 40, a tube at 40 kV): the energy of a
        monochromatic beam, or the voltage of the tube (kV); the continuum ends there.
        Versions before 2026-12 used 20 keV with ``energy_range=(1, 20)``, which leaves
        the K shells of Sn, Sb, Cd... unexcited (see the module docs).
    excitation : {"monochromatic", "tube"}
        Incident spectrum: every photon at E0, or a Kramers bremsstrahlung spectrum up to
        E0 over which the cross sections are averaged (module docs).
    noise_fwhm : float
        Electronic noise FWHM, eV (>= 0).
    fano : float
        Fano factor (> 0; 0.114 for Si).
    counts : float
        Expected photons per pixel at unit gain (> 0).
    continuum_fraction : float
        Fraction of the counts in the continuum, in [0, 1).
    blur : float
        Gaussian smoothing (pixels) of the region maps; 0 gives pure pixels.
    intensity_variation : float
        Log-gain per standard deviation of luminance (>= 0; 0 = uniform gain).
    random_state : None, int or numpy.random.Generator
        Seed of the Poisson draw.

    Returns
    -------
    SyntheticXRF
        ``cube`` (H, W, C) float32 counts, ``energies`` (C,) keV, ``labels`` (H, W) int64,
        ``abundances`` (H, W, K), ``pigment_spectra`` (K, C), ``lines``, ``params``.

    Example
    -------
    >>> d = synthetic_xrf(shape=(16, 16), n_channels=128, random_state=1)
    >>> d.pigment_spectra.shape
    (5, 128)
    """
    from scipy.ndimage import gaussian_filter
    from scipy.special import erf

    params = dict(shape=shape, pigments=pigments, image=image if isinstance(image, str) else "array",
                  n_channels=n_channels, energy_range=energy_range, excitation_energy=excitation_energy,
                  excitation=excitation, noise_fwhm=noise_fwhm, fano=fano, counts=counts,
                  continuum_fraction=continuum_fraction, blur=blur,
                  intensity_variation=intensity_variation, random_state=random_state)
    try:
        h, w = (int(s) for s in shape)
        if (h, w) != tuple(shape):
            raise ValueError
    except (TypeError, ValueError):
        raise ValueError(f"shape={shape!r} must be a pair of positive ints (H, W)") from None
    if h < 2 or w < 2:
        raise ValueError(f"shape={shape!r} must be at least (2, 2)")
    if isinstance(n_channels, bool) or not isinstance(n_channels, (int, np.integer)) or n_channels < 16:
        raise ValueError(f"n_channels={n_channels!r} must be an int >= 16")
    try:
        e_lo, e_hi = (float(e) for e in energy_range)
    except (TypeError, ValueError):
        raise ValueError(f"energy_range={energy_range!r} must be a pair of floats (keV)") from None
    if not (0 < e_lo < e_hi):
        raise ValueError(f"energy_range={energy_range!r} must satisfy 0 < low < high (keV)")
    e0 = _check_positive("excitation_energy", excitation_energy)
    if excitation not in EXCITATIONS:
        raise ValueError(f"excitation={excitation!r} must be one of {EXCITATIONS}; use 'monochromatic' "
                         "(a beam at excitation_energy) or 'tube' (a Kramers spectrum up to it)")
    if excitation == "tube" and e0 <= e_lo:
        raise ValueError(f"excitation_energy={excitation_energy!r} keV must exceed the lowest channel edge "
                         f"energy_range[0]={e_lo} keV for excitation='tube'")
    noise_fwhm = _check_positive("noise_fwhm", noise_fwhm, allow_zero=True)
    fano = _check_positive("fano", fano)
    counts = _check_positive("counts", counts)
    continuum_fraction = _check_positive("continuum_fraction", continuum_fraction, allow_zero=True)
    if continuum_fraction >= 1:
        raise ValueError(f"continuum_fraction={continuum_fraction!r} must be in [0, 1)")
    blur = _check_positive("blur", blur, allow_zero=True)
    intensity_variation = _check_positive("intensity_variation", intensity_variation, allow_zero=True)
    items = _resolve_pigments(pigments)
    k = len(items)
    if h * w < k:
        raise ValueError(f"shape={shape!r} has fewer pixels than pigments ({k})")
    rng = np.random.default_rng(random_state)

    # Energy axis: channel edges and centres (keV).
    edges = np.linspace(e_lo, e_hi, n_channels + 1)
    energies = 0.5 * (edges[:-1] + edges[1:])

    # Line spectra: Gaussian integrated over each channel.
    table = _line_table(items, e0, e_lo, e_hi, noise_fwhm, fano, excitation)
    lines_k = np.zeros((k, n_channels))
    names = [name for name, _ in items]
    for r in table:
        s = r["sigma"] * math.sqrt(2.0)
        cdf = 0.5 * erf((edges - r["energy"]) / s)
        lines_k[names.index(r["pigment"])] += r["intensity"] * np.diff(cdf)
    lines_k /= lines_k.sum(axis=1, keepdims=True)

    # Continuum: Kramers (E0 - E)/E times a low-energy cut-off.
    cont = tube_spectrum(energies, e0)
    if continuum_fraction > 0 and cont.sum() <= 0:
        raise ValueError(f"energy_range={energy_range!r} lies above excitation_energy={e0}: no continuum; "
                         "set continuum_fraction=0")
    cont = cont / cont.sum() if cont.sum() > 0 else cont
    spectra = counts * ((1.0 - continuum_fraction) * lines_k + continuum_fraction * cont[None, :])

    # Layout: luminance quantile regions -> smoothed one-hot abundances -> argmax labels.
    lum = _luminance(_load_image(image), (h, w))
    ranks = np.empty(h * w, dtype=np.int64)
    ranks[np.argsort(lum.ravel(), kind="stable")] = np.arange(h * w)
    region = (ranks * k // (h * w)).reshape(h, w)
    onehot = (region[..., None] == np.arange(k)).astype(np.float64)
    if blur > 0:
        onehot = np.stack([gaussian_filter(onehot[..., j], blur, mode="nearest") for j in range(k)], axis=-1)
    abundances = onehot / onehot.sum(axis=-1, keepdims=True)
    labels = np.argmax(abundances, axis=-1).astype(np.int64)

    std = lum.std()
    z = (lum - lum.mean()) / std if std > 0 else np.zeros_like(lum)
    gain = np.exp(intensity_variation * z)
    expected = gain[..., None] * np.einsum("hwk,kc->hwc", abundances, spectra)
    cube = rng.poisson(expected).astype(np.float32)
    return SyntheticXRF(cube=cube, expected=expected, energies=energies, labels=labels, abundances=abundances,
                        pigment_spectra=spectra, pigments=names, lines=table, params=params)
