"""The README's two set-up commands are what CI runs, and the installer is valid shell."""

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _setup_commands() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Set-up on a fresh machine", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)\n```", section, flags=re.S)


def test_ci_runs_exactly_the_two_readme_commands():
    commands = _setup_commands()
    assert len(commands) == 2, commands
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    for command in commands:
        assert command in ci, f".ci/run does not run the README command {command!r}"


def test_installer_is_valid_shell_that_installs_the_system_packages():
    script = REPO / "install.sh"
    subprocess.run(["bash", "-n", str(script)], check=True)
    text = script.read_text(encoding="utf-8")
    # the headers whose absence stopped the GPAW build on a fresh Debian machine
    for needed in ("libxc-dev", "libfftw3-dev", "python3-venv", "python3-dev", "g++"):
        assert needed in text

