import subprocess
import sys

import pytest

import tinygrad_edu
from tinygrad_edu.cli import main


def test_version_and_help(capsys):
    try:
        main(["--version"])
    except SystemExit as e:
        assert e.code == 0
    assert f"tinygrad-edu {tinygrad_edu.__version__}" in capsys.readouterr().out
    assert main([]) == 0
    assert "usage: tinygrad-edu" in capsys.readouterr().out


def test_info_reports_devices(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "CUDA GPU" in out and "numpy" in out


def test_console_script_runs():
    result = subprocess.run([sys.executable, "-m", "tinygrad_edu.cli", "--version"],
                            capture_output=True, text=True, check=True)
    assert result.stdout.startswith("tinygrad-edu ")


@pytest.mark.parametrize("argv, message", [
    (["train", "nope"], "unknown model 'nope'"),
    (["train", "mlp", "--device", "tpu"], "--device 'tpu': expected 'cpu', 'cuda' or 'cuda:N'"),
    (["train", "mlp", "--kernel", "cuda"], "--kernel cuda runs CUDA kernels on GPU tensors"),
    (["train", "mlp", "--limit", "0"], "--limit must be at least 1, got 0"),
    (["train", "mlp", "--test-limit", "-5"], "--test-limit must be at least 1, got -5"),
    (["train", "mlp", "--epochs", "0"], "--epochs must be at least 1, got 0"),
    (["train", "mlp", "--lr", "0"], "--lr must be positive, got 0.0"),
    (["train", "mlp", "--data-dir", "/nonexistent/folder"], "is not a folder"),
    (["gradcheck", "nope"], "unknown model 'nope'"),
    (["gradcheck", "mlp", "--batch-size", "0"], "--batch-size must be at least 1, got 0"),
    (["gradcheck", "mlp", "--max-elements", "0"], "--max-elements must be at least 1"),
    (["gradcheck", "mlp", "--device", "gpu"], "--device 'gpu': expected"),
    (["graph", "nope"], "unknown model 'nope'"),
    (["graph", "mlp", "--out", "graph.xyz"], "the file type follows the suffix, one of .dot"),
])
def test_bad_argument_values_are_usage_errors(argv, message, tmp_path, monkeypatch, capsys):
    """A bad value gets one line on stderr and exit status 2 (as argparse's own checks), and
    nothing is written: train checks everything before it makes its output folder."""
    monkeypatch.chdir(tmp_path)  # train's default output folder, runs/..., would land here
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"tinygrad-edu {argv[0]}: error: ") and message in err
    assert err.count("\n") == 1  # one line, no traceback
    assert list(tmp_path.iterdir()) == []


def test_cuda_device_without_a_gpu_is_a_usage_error(monkeypatch, capsys):
    from tinygrad_edu import backend

    monkeypatch.setattr(backend, "gpu_available", lambda: False)
    assert main(["train", "mlp", "--device", "cuda"]) == 2
    assert "--device cuda: no CUDA GPU found" in capsys.readouterr().err


def test_python_dash_m_gives_the_same_usage_errors():
    """python -m tinygrad_edu.cli runs the module as __main__: its errors are the same one
    line and exit status 2 as the console script's."""
    done = subprocess.run([sys.executable, "-m", "tinygrad_edu.cli", "gradcheck", "nosuch"],
                          capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("tinygrad-edu gradcheck: error: ")
    assert "Traceback" not in done.stderr
