"""python -m mcfast: the tour runs and shows every rule checked; info prints the build."""

import importlib.util
import json
import re
import subprocess
import sys

import pytest

import mcfast as mc


def run(*args):
    return subprocess.run([sys.executable, "-m", "mcfast", *args], capture_output=True,
                          text=True, timeout=300, check=True).stdout


@pytest.fixture(scope="module")
def tour():
    return run()


def test_tour_runs_and_every_check_is_tight(tour):
    out = tour
    assert "L-BFGS-B" in out and "trust-ncg" in out and "Done in" in out
    errors = [float(line.rsplit(" ", 1)[1]) for line in out.splitlines()
              if "rel. error" in line]
    assert len(errors) == 6
    assert max(errors) < 1e-6
    fits = [float(line.rsplit("=", 1)[1]) for line in out.splitlines() if "lstsq θ" in line]
    assert len(fits) == 2 and max(fits) < 1e-6


def test_tour_times_medians_beside_numpy_and_says_the_threads(tour):
    out = tour
    assert out.count("after a warm-up") == 2 and "medians" in out
    fit_lines = [line for line in out.splitlines() if "lstsq θ" in line]
    assert all("mcfast" in line and "NumPy" in line for line in fit_lines)
    timing = [line for line in out.splitlines() if line.lstrip().startswith("n = ")
              and "mcfast" in line]
    assert len(timing) == 2 and all("NumPy" in line for line in timing)
    threads = [line for line in out.splitlines() if "threads: mcfast's kernel" in line]
    assert len(threads) == 3 and all(re.search(r"kernel \d+ at this size", t) for t in threads)
    if importlib.util.find_spec("sklearn") is not None:
        assert "LinearRegression" in out
        assert all("scikit-learn" in line for line in timing)


def test_info_json_describes_the_build():
    cfg = json.loads(run("info", "--json"))
    assert cfg["mcfast"] == mc.__version__
    assert set(cfg["build"]) >= {"compiler", "cflags", "openmp", "cython", "numpy", "blas_int_max"}
    assert cfg["runtime"]["numpy"]


def test_show_config_prints(capsys):
    mc.show_config()
    assert capsys.readouterr().out.startswith(f"mcfast {mc.__version__}")
