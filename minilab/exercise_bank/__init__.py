"""The exercises of every notebook, one module per notebook (nbNN.py); importing this registers them
in `minilab.exercises.EXERCISES`. See minilab/exercises.py for the three kinds and how to add one."""
import importlib
import pkgutil

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name.startswith("nb")):
    importlib.import_module(f"{__name__}.{_module}")
