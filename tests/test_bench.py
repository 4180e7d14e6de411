"""The benchmark suite runs: one tiny case end to end, its table, targets and plot (no timing asserted)."""

import numpy as np

import mcfast as mc
from mcfast import _bench, _bench_cases
from mcfast._timing import interleaved_medians


def _tiny_case():
    """grad_ax at 4×4 against NumPy only (peers, when installed, are left out here)."""
    rng = np.random.default_rng(0)
    A, G, out = rng.standard_normal((4, 4)), rng.standard_normal((4, 4)), np.empty((4, 4))
    return _bench_cases.Case({"mcfast": lambda: mc.grad_ax(A, G, out=out),
                              "numpy": lambda: np.matmul(A.T, G, out=out)},
                             measures={"peak extra B/row": 0.0})


def test_one_case_end_to_end(tmp_path):
    lines = []
    rows = _bench.run(quick=True, log=lines.append,
                      cases=[("grad_ax", "4×4", 16, _tiny_case, True)])
    (rule, label, size, times, case), = rows
    assert (rule, label, size) == ("grad_ax", "4×4", 16)
    assert set(times) == {"mcfast", "numpy"} and all(t > 0 for t in times.values())
    assert lines[0] == "[1/1] grad_ax 4×4 ..." and "numpy" in lines[1]
    md = _bench.results_markdown(rows, quick=True)
    assert "| grad_ax | 4×4 |" in md and "## Targets" in md
    met = _bench.targets(rows)
    assert [t[:4] for t in met] == [("tiny, against np.matmul(A.T, G, out=)", "grad_ax", "4×4",
                                     "numpy")]
    assert met[0][4] == times["mcfast"] / times["numpy"] and met[0][6] == (met[0][4] <= 0.7)
    if _bench.plot(rows, tmp_path / "p.png"):
        assert (tmp_path / "p.png").stat().st_size > 0


def test_every_case_and_target_is_well_formed():
    keys = {(rule, label) for rule, label, _, build, _ in _bench_cases.CASES}
    assert len(keys) == len(_bench_cases.CASES)
    for what, rule, label, against, bound in _bench.TARGETS:
        assert (rule, label) in keys, (rule, label)
        assert bound > 0


def test_beside_numpy_cases_build_at_small_sizes():
    """The loop-with-NumPy and small-size cases run end to end on tiny inputs (no timing
    asserted): every measure present and positive, the worst size one of those timed."""
    small = _bench_cases.case_grad_ax_small(sizes=range(2, 5), repeats=3)
    assert small.measures["worst size n"] in (2, 3, 4)
    assert small.measures["mcfast / numpy, worst size"] >= \
        small.measures["mcfast / numpy, median over sizes"] > 0
    for case, other in ((_bench_cases.case_beside_numpy_grad_ax(8), "np.matmul"),
                        (_bench_cases.case_beside_numpy_lstsq(n=500, m=4, k=8), "np.matmul 8²")):
        assert set(case.measures) == {
            f"mcfast after {other}", f"{other} after mcfast", f"{other} alone",
            f"mcfast / alone, beside {other}", f"{other} / alone, beside mcfast"}
        assert all(v > 0 for v in case.measures.values())
        assert list(case.fns) == ["mcfast"]


def test_operator_cases_agree_with_mcfast_at_small_sizes():
    """Every contender of the operator-chain cases (NumPy, and JAX's jit of jacrev, jacfwd
    or grad of the composed function when installed) computes mcfast's result."""
    import pytest
    builders = [lambda: _bench_cases.case_sparse_chain(n=60, m=5),
                lambda: _bench_cases.case_sparse_grad(n=60, m=5),
                lambda: _bench_cases.case_bottleneck(n=20),
                lambda: _bench_cases.case_bottleneck_grad(n=20),
                lambda: _bench_cases.case_kron_grad(6, 3)]
    jax = _bench_cases.peer("jax")
    for build in builders:
        case = build()
        want = np.asarray(case.fns["mcfast"]())
        assert set(case.fns) >= {"mcfast", "numpy"}
        if jax is not None:
            assert "jax" in case.fns
        for name, fn in case.fns.items():
            got = np.asarray(fn()).reshape(want.shape)
            assert got == pytest.approx(want, rel=1e-10, abs=1e-10 * abs(want).max()), name
    if jax is not None:
        assert {"jax", "jax jacfwd"} <= set(_bench_cases.case_bottleneck(n=20).fns)


def _tiny_run(monkeypatch):
    """Make the suite one tiny case, so main() can be tested for where it writes."""
    real = _bench.run
    monkeypatch.setattr(_bench, "run", lambda quick, log: real(
        quick, log=log, cases=[("grad_ax", "4×4", 16, _tiny_case, True)]))


def test_bench_never_writes_into_the_cwd_unasked(tmp_path, monkeypatch, capsys):
    _tiny_run(monkeypatch)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "RESULTS.md").write_text("the user's own file\n")
    from mcfast.__main__ import main
    assert main(["bench", "--quick"]) == 0
    assert (tmp_path / "RESULTS.md").read_text() == "the user's own file\n"
    [made] = [d for d in tmp_path.iterdir() if d.is_dir()]
    assert made.name.startswith("mcfast-bench-") and (made / "RESULTS.md").is_file()
    assert str(made) in capsys.readouterr().out
    assert main(["bench", "--quick"]) == 0          # a second run: another new folder
    assert len([d for d in tmp_path.iterdir() if d.is_dir()]) == 2


def test_bench_out_dir(tmp_path, monkeypatch):
    _tiny_run(monkeypatch)
    from mcfast.__main__ import main
    out = tmp_path / "a" / "b"
    assert main(["bench", "--quick", "--out", str(out)]) == 0
    assert "| grad_ax | 4×4 |" in (out / "RESULTS.md").read_text()


def test_contenders_take_turns_each_after_a_call_of_its_own():
    """interleaved_medians: every contender gets `repeats` samples, in turns of
    `per_turn`, each turn opened by an untimed call of that contender (another library's
    spinning threads are not charged to the next one)."""
    log = []
    fns = [lambda: log.append("A"), lambda: log.append("B")]
    times = interleaved_medians(fns, repeats=5, target=0.0, settle=0.0, per_turn=2)
    assert len(times) == 2 and all(t >= 0 for t in times)
    calibrate = ["A", "A", "B", "B"]              # warm-up and one timed call each
    turns = [3, 3, 3, 3, 2, 2]                    # a settling call, then 2, 2, 1 samples
    expected = calibrate + [c for k, c in zip(turns, "ABABAB") for _ in range(k)]
    assert log == expected


def test_runs_are_filed_by_machine(tmp_path, monkeypatch, capsys):
    """bench/_machine.py: a run's output lands in a file named by CPU, time and
    benchmark, with the machine's facts above it, and the index lists it."""
    import importlib.util
    import pathlib
    path = pathlib.Path(__file__).resolve().parents[1] / "bench" / "_machine.py"
    spec = importlib.util.spec_from_file_location("_machine", path)
    machine = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(machine)
    monkeypatch.setattr(machine, "MACHINES", tmp_path)
    argv = ["--quick"]
    with machine.recorded("bench_x", argv) as filed:
        print("squared 1.07x")
    assert "squared 1.07x" in capsys.readouterr().out
    facts = machine.cpu_facts()
    tag = machine.machine_tag(facts)
    assert filed.parent == tmp_path and filed.name.startswith(tag + "_")
    assert filed.name.endswith("_bench_x.md") and "/" not in tag and "_" not in tag
    text = filed.read_text()
    assert "squared 1.07x" in text and "command: `python bench/bench_x.py --quick`" in text
    assert f"best instruction set: {facts['best instruction set']}" in text
    index = (tmp_path / "README.md").read_text()
    assert f"| {tag} |" in index and f"(`{filed.name}`)" in index and "squared 1.07x" in index
    argv = ["--no-save"]
    with machine.recorded("bench_y", argv) as filed:
        pass
    assert filed is None and argv == [] and not list(tmp_path.glob("*bench_y*"))


def test_every_benchmark_script_files_its_runs():
    """Each bench/bench_*.py run as a script files its output under bench/machines/ by
    CPU (through _machine.recorded, under its own name), so the next session on another
    CPU can compare; bench_engine_ab.py alone, an A/B against a scratch build, does not."""
    import ast
    import pathlib
    bench = pathlib.Path(__file__).resolve().parents[1] / "bench"
    scripts = sorted(bench.glob("bench_*.py"))
    assert len(scripts) >= 10
    for path in scripts:
        if path.stem == "bench_engine_ab":
            continue
        tree = ast.parse(path.read_text())
        guards = [node for node in tree.body if isinstance(node, ast.If)
                  and "__main__" in ast.unparse(node.test)]
        assert len(guards) == 1, f"{path.name}: no `if __name__ == '__main__':` block"
        calls = [node for node in ast.walk(guards[0]) if isinstance(node, ast.Call)
                 and ast.unparse(node.func) == "recorded"]
        assert [ast.literal_eval(c.args[0]) for c in calls] == [path.stem], path.name


def _bench_module(name):
    import importlib.util
    import pathlib
    path = pathlib.Path(__file__).resolve().parents[1] / "bench" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_planner_never_worse_than_a_pure_mode_on_random_structured_chains(capsys):
    """bench/bench_planner.py: on its 200 random chains of dense, Diagonal, Kronecker,
    sparse and matrix-free links (lengths up to 100, past DP_MAX), the planner's flops are
    at most those of the pure bracketings and of the strict all-tangent / all-adjoint
    modes; and the counts are the planner's model on a chain worked by hand."""
    from mcfast import _plan
    bp = _bench_module("bench_planner")
    hand = bp.flops([_plan.LinkInfo("dense", 3, 2), _plan.LinkInfo("diag", 3, 3),
                     _plan.LinkInfo("dense", 4, 3)])
    # J3 (J2 J1): 3·2 + 4·3·2; strict: the identity (2, resp. 4 wide) through every link
    assert hand == {"planner": 30, "forward": 30, "reverse": 4 * 3 + 4 * 3 * 2,
                    "all tangent": 2 * (6 + 3 + 12), "all adjoint": 4 * (6 + 3 + 12)}
    rows = bp.main(["--chains=200"])
    assert len(rows) == 200 and max(r[0] for r in rows) > _plan.DP_MAX
    kinds = {i.kind for r in rows for i in r[4]}
    assert kinds == {"dense", "diag", "kron", "sparse", "op"}
    assert all(0 < r[1] <= 1 and 0 < r[2] <= 1 for r in rows)
    assert "| all | 200 |" in capsys.readouterr().out
