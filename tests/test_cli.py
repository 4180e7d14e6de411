"""python -m mcfast: the tour runs and shows every rule checked; info prints the build."""

import json
import subprocess
import sys

import mcfast as mc


def run(*args):
    return subprocess.run([sys.executable, "-m", "mcfast", *args], capture_output=True,
                          text=True, timeout=300, check=True).stdout


def test_tour_runs_and_every_check_is_tight():
    out = run()
    assert "L-BFGS-B" in out and "trust-ncg" in out and "Done in" in out
    errors = [float(line.rsplit(" ", 1)[1]) for line in out.splitlines()
              if "rel. error" in line]
    assert len(errors) == 6
    assert max(errors) < 1e-6
    fits = [float(line.rsplit("=", 1)[1]) for line in out.splitlines() if "lstsq θ" in line]
    assert len(fits) == 2 and max(fits) < 1e-6


def test_info_json_describes_the_build():
    cfg = json.loads(run("info", "--json"))
    assert cfg["mcfast"] == mc.__version__
    assert set(cfg["build"]) >= {"compiler", "cflags", "openmp", "cython", "numpy"}
    assert cfg["runtime"]["numpy"]


def test_show_config_prints(capsys):
    mc.show_config()
    assert capsys.readouterr().out.startswith(f"mcfast {mc.__version__}")
