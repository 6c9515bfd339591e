"""Tutorial: cluster a day of real Earth data shipped with ObsPy (IU.ANMO LHZ, 1 Hz).

    python examples/earth_obspy.py [--out earth_out] [--clusters 4]

Steps (see docs/tutorials/earth_obspy.md):
1. read the day-long record that ObsPy ships with its test data (IU.ANMO.00.LHZ, 1 sample/s,
   Albuquerque, New Mexico) with ``scatclust.io.read``;
2. prepare it (linear detrend, 0.5 % taper, band-pass 0.01-0.4 Hz) and compute the
   scattering-spectra pyramid of nested windows (256, 1024, 4096 samples, hop 128) into a
   Zarr feature store with ``scatclust.features.extract``;
3. open the store (``scatclust.open_features``) and cluster each scale with our k-means;
4. print, per scale and cluster, the number of windows and the local solar hours they
   fall in.
No network is used: the data file is part of the ObsPy installation.
"""
from __future__ import annotations

import argparse
import os
import shutil

import numpy as np


def anmo_path():
    import obspy

    path = os.path.join(os.path.dirname(obspy.__file__), "signal", "tests", "data", "IUANMO.seed")
    if not os.path.exists(path):
        raise SystemExit(f"ObsPy's test data file {path} is missing (a slimmed ObsPy install?); "
                         "reinstall obspy from PyPI")
    return path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="earth_out", help="output directory (default: earth_out)")
    ap.add_argument("--clusters", type=int, default=4, help="k-means clusters per scale (default: 4)")
    args = ap.parse_args(argv)

    import scatclust
    from scatclust.cluster import KMeans
    from scatclust.features import extract
    from scatclust.io import PrepareConfig, read

    st = read(anmo_path())
    print(st)
    tr = st[0]
    # ANMO is at 106.457 W: local solar time = UTC - 7.1 h.
    longitude = float(-106.4572)

    os.makedirs(args.out, exist_ok=True)
    store = os.path.join(args.out, "anmo.zarr")
    shutil.rmtree(store, ignore_errors=True)
    prep = PrepareConfig(detrend="linear", taper=0.005, bandpass=(0.01, 0.4))
    pyramid = scatclust.ScatteringPyramid(J=6, scales=(256, 1024, 4096), hop=128, C=1,
                                          normalize="each_ps", as_real=True)
    summary = extract(st, store, prepare=prep, pyramid=pyramid, client=False, progress=False,
                      longitude=longitude)
    print(summary)

    ds = scatclust.open_features(store)
    feats = np.asarray(ds["features"].values)            # (window, scale, channel, coefficient)
    hours = np.asarray(ds["local_time"].values)          # local solar time (hours) at the window end
    t_end = np.asarray(ds["time_end"].values)
    print(f"{feats.shape[0]} windows, {feats.shape[1]} scales, {feats.shape[-1]} coefficients")
    for s, scale in enumerate(np.asarray(ds["scale"].values)):
        X = feats[:, s].reshape(len(feats), -1).astype(np.float64)
        ok = np.isfinite(X).all(1)
        X = X[ok]
        X = np.sign(X) * np.log1p(np.abs(X))              # the moments span orders of magnitude
        X = (X - X.mean(0)) / (X.std(0) + 1e-12)
        km = KMeans(n_clusters=args.clusters, n_init=10, random_state=0).fit(X)
        print(f"scale {int(scale)} samples ({int(scale) / tr.stats.sampling_rate / 60:.0f} min): "
              f"inertia {km.inertia_:.4g}")
        for k in range(args.clusters):
            sel = km.labels_ == k
            h = hours[ok][sel]
            line = (f"  cluster {k}: {int(sel.sum()):5d} windows, local solar hour quartiles "
                    f"{np.percentile(h, [25, 50, 75]).round(1).tolist()}")
            if sel.sum() < 0.05 * len(sel):                  # rare clusters: when did they occur?
                t = t_end[ok][sel]
                line += f"; rare: windows ending {str(t.min())[:19]} .. {str(t.max())[:19]} UTC"
            print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
