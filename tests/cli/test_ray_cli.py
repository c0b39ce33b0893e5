"""Without Ray installed: a study runs as ever and never imports it; ``--ray`` says how to install it."""

import subprocess
import sys
import textwrap


def test_without_ray_a_study_runs_and_ray_asks_for_the_extra(tmp_path, cli_environment):
    # sys.modules["ray"] = None: Python's own way of making ``import ray`` fail, as it does where Ray is not installed
    script = textwrap.dedent(f"""
        import sys
        sys.modules["ray"] = None
        from initopt.study.runner import run_study
        spec = {{"name": "s", "workload": {{"dataset": "seed-binary", "model": "mlp", "hidden": [8]}},
                "train": {{"epochs": 1}}, "grid": {{"init": ["he_normal"], "optimizer": [{{"name": "adamw", "lr": [1e-3]}}]}}}}
        assert run_study(spec, db={str(tmp_path / "s.db")!r}).counts == {{"done": 1}}
        from initopt.cli.main import run
        sys.argv = ["initopt", "study", "run", "--ray", "auto", "--db", {str(tmp_path / "r.db")!r}]
        run()
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path, env=cli_environment)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        "initopt: error: --ray needs Ray, which is not installed: pip install 'initopt[ray]'"]


def test_resources_without_ray_are_a_usage_error(cli):
    done = cli("study", "run", "--gpus-per-bundle", "1")
    assert done.returncode == 2
    assert done.stderr.strip() == ("initopt: error: --cpus-per-bundle, --gpus-per-bundle: these are a Ray task's "
                                   "resources; add --ray")
