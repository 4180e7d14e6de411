"""The README's Python examples run as written, and its two opening commands are the documented ones."""

import pathlib
import re

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def test_readme_python_examples_run():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks
    for code in blocks:
        if code.startswith("# setup.py"):
            continue  # a build script for the reader's own package, not an example to run
        exec(compile(code, str(README), "exec"), {"__name__": "readme"})


def test_readme_opens_with_the_two_commands():
    first_block = re.search(r"```\n(.*?)```", README.read_text(), flags=re.S).group(1)
    assert first_block.splitlines() == [
        "python -m pip install . && python -m mcfast",
        'python -m pip install ".[test]" && python -m pytest',
    ]
