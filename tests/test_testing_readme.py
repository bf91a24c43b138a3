"""The README's "Testing determinism" section: its Python code runs, and its property test passes."""
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def section_code():
    text = README.read_text(encoding="utf-8")
    section = text.split("## Testing determinism\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert blocks, "the section has no Python example"
    return "\n".join(blocks)


def test_the_readme_property_test_runs_and_passes():
    namespace = {"__name__": "readme_example"}
    exec(compile(section_code(), str(README), "exec"), namespace)  # noqa: S102 - our own README
    tests = [fn for name, fn in namespace.items() if name.startswith("test_")]
    assert len(tests) == 1
    for test in tests:
        test()


def test_the_readme_example_catches_a_forgotten_generator():
    namespace = {"__name__": "readme_example"}
    exec(compile(section_code(), str(README), "exec"), namespace)  # noqa: S102
    state_class = namespace["TrainingState"]

    class Forgetful(state_class):
        def __init__(self, seed):
            super().__init__(seed)
            drop = self.model[1]
            gen = drop.generator
            del drop.generator                     # unregistered: no longer in the checkpoint
            object.__setattr__(drop, "generator", gen)

    with pytest.raises(AssertionError, match="Resume not exact"):
        namespace["assert_resume_exact"](lambda: Forgetful(3), namespace["step"], total=3, stop_at=1)
