"""tinygrad-edu gradcheck | graph | bench (the study subcommands)."""

import pytest

from tinygrad_edu.cli import build_parser, main
from tinygrad_edu.study import cli as study_cli


def test_subcommands_are_registered_with_functions():
    parser = build_parser()
    for argv in (["gradcheck", "mlp"], ["graph", "mlp", "--out", "g.svg"], ["bench"]):
        args = parser.parse_args(argv)
        assert callable(args.func), argv
    assert parser.parse_args(["graph", "mlp"]).out == "graph.svg"


def test_gradcheck_command_prints_a_passing_report(capsys):
    assert main(["gradcheck", "mlp", "--batch-size", "1", "--max-elements", "4"]) == 0
    out = capsys.readouterr().out
    assert "gradcheck report:" in out and " 0 failed" in out
    assert "Linear" in out and "(Linear)" in out


def test_builtin_mlp_is_used_without_a_registry(monkeypatch, capsys):
    monkeypatch.setattr(study_cli, "_registry", lambda: None)
    model, x = study_cli.resolve_model("mlp", batch_size=3)
    assert tuple(x.shape) == (3, 8) and tuple(model(x).shape) == (3, 3)
    assert main(["gradcheck", "mlp"]) == 0
    assert "Tanh" in capsys.readouterr().out
    with pytest.raises(ValueError, match="unknown model 'resnet'"):
        study_cli.resolve_model("resnet")


def test_graph_command_writes_files(tmp_path, capsys):
    png = tmp_path / "graph.png"
    assert main(["graph", "mlp", "--out", str(png), "--backward"]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    dot = tmp_path / "graph.dot"
    assert main(["graph", "mlp", "--out", str(dot)]) == 0
    text = dot.read_text()
    assert text.startswith("digraph autograd {") and "Linear" in text
    out = capsys.readouterr().out
    assert f"wrote {png}" in out and f"wrote {dot} (dot-text)" in out


def test_bench_passes_arguments_through(tmp_path, monkeypatch, capsys):
    script = tmp_path / "bench_kernels.py"
    script.write_text("import sys\nprint('bench args:', sys.argv[1:])\nsys.exit(3)\n")
    monkeypatch.setattr(study_cli, "_bench_script", lambda: script)
    assert main(["bench", "--quick", "conv"]) == 3
    monkeypatch.setattr(study_cli, "_bench_script", lambda: None)
    assert main(["bench"]) == 1
    assert "bench_kernels.py not found" in capsys.readouterr().err


def test_bench_subprocess_output(tmp_path, monkeypatch, capfd):
    script = tmp_path / "bench_kernels.py"
    script.write_text("import sys\nprint('bench args:', sys.argv[1:])\n")
    monkeypatch.setattr(study_cli, "_bench_script", lambda: script)
    assert main(["bench", "--quick"]) == 0
    assert "bench args: ['--quick']" in capfd.readouterr().out
