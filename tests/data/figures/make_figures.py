"""Regenerate the stored reference images of tests/test_plot.py.

Run from the repository root after a deliberate change to one of these figures:

    PYTHONPATH=python python tests/data/figures/make_figures.py

Each figure is built from fixed, seeded data by a function below (the test calls the same
functions) and saved as PNG under ``scatclust.plot.reference_style()`` (matplotlib's
default style with its bundled DejaVu Sans font, 72 dpi, fixed hinting), so the pixels
depend only on the matplotlib/FreeType versions. Made with matplotlib 3.11.2.
"""
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def time_of_day_histogram():
    from scatclust.plot import time_of_day_histogram

    rng = np.random.default_rng(20261125)
    # three clusters with day-, night- and evening-centred activity
    hours = np.concatenate([rng.normal(13, 2, 120), rng.normal(2, 1.5, 80) % 24, rng.normal(19, 1, 60)]) % 24
    labels = np.repeat([0, 1, 2], [120, 80, 60])
    return time_of_day_histogram(hours, labels, title="reference: time of day")


def contingency_heatmap():
    from scatclust.plot import contingency_heatmap

    table = np.array([[40, 2, 0], [3, 25, 1], [0, 4, 30], [10, 0, 12]])
    return contingency_heatmap(table, row_label="cluster at 51 s", col_label="cluster at 819 s",
                               title="reference: nesting")


FIGURES = {"time_of_day_histogram": time_of_day_histogram, "contingency_heatmap": contingency_heatmap}


def main():
    from scatclust.plot import reference_style

    for name, build in FIGURES.items():
        with reference_style():
            fig = build()
            path = os.path.join(HERE, f"{name}.png")
            fig.savefig(path)
        print(path)


if __name__ == "__main__":
    main()
