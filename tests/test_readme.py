"""The README's example must run and do what its comments say."""

import pathlib
import re

import numpy as np

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def test_ten_line_example_runs_and_converges():
    text = README.read_text()
    section = text.split("## Ten lines", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len([line for line in code.splitlines() if line.strip()]) <= 12
    namespace = {}
    exec(compile(code.replace("print(", "_ = ("), "README", "exec"), namespace)
    np.testing.assert_allclose(namespace["w"].detach().numpy().ravel(), [1.0, -2.0, 0.5],
                               atol=1e-3)
    assert namespace["loss"].item() < 1e-6


def test_readme_states_the_two_commands():
    text = README.read_text()
    assert "tinygrad-edu train lenet --dataset mnist --epochs 1" in text
    assert '.venv/bin/python -m pytest -m "not slow"' in text
    ci = (README.parent / ".ci" / "run").read_text()
    assert "bash scripts/setup.sh" in ci and '.venv/bin/python -m pytest -m "not slow"' in ci
