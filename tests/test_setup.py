"""The project's own files describe one set of dependencies: requirements.txt (pip),
requirements.lock (its exact versions and hashes, made by `make lock`), environment.yml
(conda) and pyproject.toml must not drift apart."""
import re
import tomllib
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
# conda-forge names that differ from PyPI names
CONDA_TO_PIP = {"pytorch-cpu": "torch", "pytorch": "torch"}


def _name(spec: str) -> str:
    return re.split(r"[<>=!~\[ ]", spec.strip(), maxsplit=1)[0].lower()


def pip_requirements() -> dict[str, str]:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    specs = [l.split("#")[0].strip() for l in lines]
    return {_name(s): s for s in specs if s}


def conda_requirements() -> dict[str, str]:
    """The conda dependencies of environment.yml (a plain list; parsed without a YAML library)."""
    names = {}
    in_pip = False
    text = (ROOT / "environment.yml").read_text()
    deps = text.split("dependencies:", 1)[1]  # skip the channels list
    for line in deps.splitlines():
        line = line.split("#")[0].rstrip()
        if not line.strip():
            continue
        if re.match(r"^\s+- pip:\s*$", line):
            in_pip = True
            continue
        m = re.match(r"^(\s+)- (.+)$", line)
        if not m:
            in_pip = False
            continue
        spec = m.group(2).strip()
        if in_pip:
            if spec != "-e .":
                names[_name(spec)] = spec
            continue
        name = _name(spec)
        if name in ("python", "pip"):
            continue
        names[CONDA_TO_PIP.get(name, name)] = spec
    return names


def test_environment_yml_matches_requirements():
    pip, conda = pip_requirements(), conda_requirements()
    assert set(pip) == set(conda), (
        f"requirements.txt and environment.yml drifted: only in pip {sorted(set(pip) - set(conda))}, "
        f"only in conda {sorted(set(conda) - set(pip))}")


def _bound(spec: str) -> str:
    return spec.replace(" ", "")[len(_name(spec)):]


def test_lower_bounds_agree():
    pip, conda = pip_requirements(), conda_requirements()
    for name, spec in pip.items():
        if name == "torch":  # pinned for pip (the CPU build on disk); conda-forge gives pytorch-cpu
            continue
        assert _bound(spec) == _bound(conda[name]), f"{name}: requirements.txt says {spec}, environment.yml {conda[name]}"


def test_pyproject_runtime_deps_are_in_requirements():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = {_name(d) for d in meta["dependencies"]}
    for extra in meta["optional-dependencies"].values():
        deps |= {_name(d) for d in extra}
    assert deps == set(pip_requirements()), (
        f"pyproject.toml and requirements.txt drifted: {sorted(deps ^ set(pip_requirements()))}")


def locked() -> dict[str, dict]:
    """requirements.lock as {name: {"version", "hashes", "top": listed in requirements.txt}}."""
    entries, entry = {}, None
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9._-]+)==(\S+)", line)
        if m:
            entry = entries[canonicalize_name(m.group(1))] = {"version": m.group(2), "hashes": [], "top": False}
        elif entry is not None and "--hash=sha256:" in line:
            entry["hashes"].append(line.split("--hash=sha256:")[1].split()[0])
        elif entry is not None and re.search(r"#\s+(via )?-r requirements\.txt$", line):
            entry["top"] = True
    return entries


def test_the_lock_pins_every_package_exactly_with_hashes():
    lock = locked()
    assert len(lock) > 50  # the whole closure, not only the direct requirements
    for name, entry in lock.items():
        assert entry["hashes"] and all(len(h) == 64 for h in entry["hashes"]), f"{name} has no sha256 hash in requirements.lock"


def test_lock_requirements_and_environment_name_the_same_packages():
    lock = locked()
    direct = {canonicalize_name(n) for n in pip_requirements()}
    assert {n for n, e in lock.items() if e["top"]} == direct, "requirements.lock is stale: run `make lock`"
    assert {canonicalize_name(n) for n in conda_requirements()} == direct


def test_locked_versions_satisfy_requirements_and_environment():
    lock, pip, conda = locked(), pip_requirements(), conda_requirements()
    for name, spec in pip.items():
        version = lock[canonicalize_name(name)]["version"]
        assert SpecifierSet(_bound(spec)).contains(version, prereleases=True), \
            f"requirements.lock has {name}=={version}, requirements.txt asks {spec}: run `make lock`"
        conda_spec = _bound(conda[name])
        assert SpecifierSet(conda_spec).contains(version, prereleases=True), \
            f"requirements.lock has {name}=={version}, environment.yml asks {conda[name]}"


def test_the_lock_takes_the_cpu_build_of_torch():
    # a plain torch==2.13.0 on Linux can resolve to the multi-GB CUDA build
    torch = locked()["torch"]
    assert torch["version"] == "2.13.0+cpu" and len(torch["hashes"]) == 1
    assert not [n for n in locked() if n.startswith("nvidia-")]
