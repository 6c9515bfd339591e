"""Reports: every figure of a run (:mod:`scatclust.plot`) with a Markdown and an HTML summary.

:func:`write_report` takes what the pipeline has, gathered into small result objects:

- :class:`SeismicResults` from a fitted model and the feature store
  (:meth:`SeismicResults.from_model`), or from labels
  (:meth:`SeismicResults.from_features`), plus optionally the waveforms (ObsPy Stream or
  array + fs + start time);
- :class:`CubeResults` from :func:`scatclust.cube.segment`'s result (or that result itself);
- :class:`SeparationResults` (mixture, sources, fs) or a dict of them;
- training histories and the run's configuration.

It writes ``report.md``, ``report.html`` and ``figures/*.png`` (PDF/SVG on request), with a
configuration and version section so that a run can be traced.

Examples
--------
>>> import scatclust, obspy                                                    # doctest: +SKIP
>>> from scatclust.models import FVAEClustering                                # doctest: +SKIP
>>> from scatclust.report import SeismicResults, CubeResults, write_report
>>> ds = scatclust.open_features("features.zarr")                              # doctest: +SKIP
>>> X = ds.features.values.reshape(ds.sizes["window"], ds.sizes["scale"], -1)  # doctest: +SKIP
>>> est = FVAEClustering.load("fvae.pt")                                       # doctest: +SKIP
>>> sr = SeismicResults.from_model(est, ds, X, waveforms=obspy.read("day.mseed"))  # doctest: +SKIP
>>> seg = scatclust.cube.segment(cube)                                         # doctest: +SKIP
>>> rep = write_report("report", seismic=sr, cube=CubeResults.from_segmentation(seg, cube),
...                    config={"seed": 0}, title="sol 180-190")                # doctest: +SKIP
>>> rep.markdown, [f.files for f in rep.figures]                               # doctest: +SKIP
"""
from __future__ import annotations

from ._results import CubeResults, SeismicResults, SeparationResults, as_waveforms
from ._write import Report, ReportFigure, versions, write_report

__all__ = ["CubeResults", "Report", "ReportFigure", "SeismicResults", "SeparationResults", "as_waveforms",
           "versions", "write_report"]
