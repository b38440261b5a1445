import subprocess
import sys

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
