"""Reading (H, W, C) cubes from numpy, xarray, HDF5, Zarr and FITS sources."""
from __future__ import annotations

import os

import numpy as np

_HDF5 = (".h5", ".hdf5", ".hdf", ".nxs")
_FITS = (".fits", ".fit", ".fts", ".fits.gz", ".fit.gz")


def _fits_data(hdus, key):
    if key is not None:
        return np.asarray(hdus[key].data)
    for hdu in hdus:
        if hdu.data is not None and np.ndim(hdu.data) == 3:
            return np.asarray(hdu.data)
    raise ValueError("cube: the FITS file has no 3-D image HDU; pass key= (HDU index or name)")


def load_cube(cube, key=None):
    """Return ``cube`` as an (H, W, C) numpy array, whatever its container.

    Parameters
    ----------
    cube : array-like (H, W, C), xarray.DataArray, h5py/zarr dataset or group, astropy
        HDUList/HDU, or a path (str / os.PathLike) to an HDF5 (.h5 .hdf5 .hdf .nxs),
        Zarr (.zarr) or FITS (.fits .fit .fts, optionally .gz) file.
        xarray: a dimension named ``channel``, ``energy``, ``band`` or ``wavelength`` is
        moved last, otherwise the last dimension is the spectral one. FITS stores cubes
        with NAXIS3 as the spectral axis, i.e. numpy order (C, H, W): the first axis is
        moved last.
    key : str, int or None
        Dataset path inside an HDF5 file / group or Zarr group (required there); HDU index
        or name for FITS (default: the first HDU holding 3-D data).

    Returns
    -------
    ndarray (H, W, C), the source's dtype

    Example
    -------
    >>> load_cube(np.zeros((2, 3, 4))).shape
    (2, 3, 4)
    """
    if isinstance(cube, (str, os.PathLike)):
        path = os.fspath(cube)
        low = path.lower().rstrip("/")
        if not os.path.exists(path):
            raise ValueError(f"cube path {path!r} does not exist")
        if low.endswith(_HDF5):
            import h5py

            with h5py.File(path, "r") as f:
                return load_cube(f, key)
        if low.endswith(".zarr"):
            import zarr

            return load_cube(zarr.open(path, mode="r"), key)
        if low.endswith(_FITS):
            from astropy.io import fits

            with fits.open(path, memmap=False) as hdus:
                return np.moveaxis(_fits_data(hdus, key), 0, -1).copy()
        raise ValueError(f"cube path {path!r}: unknown extension; use .h5/.hdf5/.hdf/.nxs, .zarr or .fits")
    mod = type(cube).__module__ or ""
    if mod.startswith("astropy.io.fits"):
        data = np.asarray(cube.data) if hasattr(cube, "data") else _fits_data(cube, key)  # HDU or HDUList
        return np.moveaxis(data, 0, -1)
    if mod.startswith("xarray"):
        dims = list(cube.dims)
        spec = [d for d in dims if str(d).lower() in ("channel", "channels", "energy", "band", "wavelength")]
        if spec:
            cube = cube.transpose(*[d for d in dims if d != spec[0]], spec[0])
        return np.asarray(cube.values)
    if mod.startswith(("h5py", "zarr")):
        if not hasattr(cube, "shape") or not hasattr(cube, "dtype"):  # a group / file
            if key is None:
                raise ValueError(f"cube is an HDF5/Zarr group: pass key= (one of {sorted(cube.keys())})")
            cube = cube[key]
        return np.asarray(cube[...])
    return np.asarray(cube)
