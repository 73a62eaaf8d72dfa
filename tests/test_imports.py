"""Every module of the package imports (a syntax or import error in one no test touches fails here)."""
import importlib
import pkgutil

import gltr


def test_every_module_imports():
    names = [m.name for m in pkgutil.walk_packages(gltr.__path__, "gltr.")]
    assert len(names) > 50
    for name in names:
        importlib.import_module(name)
