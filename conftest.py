"""pytest at the repository root: which notebooks nbval executes.

`make test` hands nbval the whole notebooks/ folder. The Chinese twins (notebooks/zh/) run the
English notebooks' code cell for cell (tests/test_zh.py checks that they cannot drift), so CI
executes two of them end to end and leaves the other ten to that check.
"""
ZH_EXECUTED = ("01_tokenization.ipynb", "02_tiny_gpt.ipynb")


def pytest_ignore_collect(collection_path, config):
    if collection_path.suffix == ".ipynb" and collection_path.parent.name == "zh" \
            and collection_path.parent.parent.name == "notebooks":
        return collection_path.name not in ZH_EXECUTED or None
    return None
