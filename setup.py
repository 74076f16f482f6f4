"""Build hook: the repository keeps templates/, static/ and migrations/ at the top level; the wheel carries
them inside the package (portal/templates, portal/static, portal/migrations), where create_app looks first,
so an installed portal runs from any folder. Editable installs keep reading the source tree."""
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
RESOURCES = ("templates", "static", "migrations")
# Made by `make vendor translations`, not kept in git: a wheel without them would not run.
GENERATED = ("static/vendor/htmx.min.js", "portal/translations/zh/LC_MESSAGES/messages.mo")


class BuildWithResources(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        missing = [name for name in GENERATED if not (ROOT / name).is_file()]
        if missing:
            raise SystemExit(f"missing {', '.join(missing)}: run `make vendor translations` before building")
        for name in RESOURCES:
            target = Path(self.build_lib) / "portal" / name
            shutil.rmtree(target, ignore_errors=True)  # a file deleted from the repo leaves no stale copy
            shutil.copytree(ROOT / name, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildWithResources})
