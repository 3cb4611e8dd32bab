"""The Chinese edition: every notebook has a twin in notebooks/zh/ with the same code, Chinese prose,
the same figures quoted, and stored outputs; `minilab.i18n` translates figures and widgets."""
import re
import sys
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import nbformat
import pytest

from minilab import i18n

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
import zh_twin  # noqa: E402

ENGLISH = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
CJK = re.compile(r"[\u4e00-\u9fff]")


def twin_of(path: Path) -> Path:
    return path.parent / "zh" / path.name


def read(path: Path):
    return nbformat.read(path, as_version=4)


@pytest.fixture(autouse=True)
def english_afterwards():
    yield
    i18n.use_language("en")


@pytest.mark.parametrize("path", ENGLISH, ids=lambda p: p.stem)
def test_twin_has_the_english_code_cell_for_cell(path):
    zh_path = twin_of(path)
    assert zh_path.exists(), f"{path.name} has no Chinese twin: python scripts/zh_twin.py {path.name[:2]} --prose ..."
    en, zh = read(path), read(zh_path)
    switches = [c for c in zh.cells if "language" in c.metadata.get("tags", [])]
    assert len(switches) == 1 and switches[0].source == zh_twin.LANGUAGE_SOURCE, "one documented language cell"
    rest = [c for c in zh.cells if c is not switches[0]]
    assert [(c.id, c.cell_type) for c in rest] == [(c.id, c.cell_type) for c in en.cells], \
        f"{zh_path.name}: cells added, dropped or moved (run scripts/zh_twin.py {path.name[:2]})"
    for a, b in zip(en.cells, rest):
        if a.cell_type == "code":
            assert a.source == b.source, f"{zh_path.name}: code cell {a.id} differs from the English one"
            assert a.metadata.get("tags", []) == b.metadata.get("tags", []), f"{zh_path.name}: tags of {a.id}"
    setup = zh_twin.setup_index(rest)
    assert zh.cells.index(switches[0]) == setup + 1, "the language cell follows the set-up cell"


def numbers(text: str) -> set[str]:
    """The figures quoted in a prose cell, written one way (1,234 -> 1234, − -> -); single digits are skipped."""
    text = text.replace("−", "-").replace("–", "-")
    found = re.findall(r"\d[\d,]*(?:\.\d+)?", text)
    return {n.replace(",", "") for n in found if len(n.replace(",", "").replace(".", "")) > 1}


@pytest.mark.parametrize("path", ENGLISH, ids=lambda p: p.stem)
def test_twin_prose_is_chinese_and_quotes_the_same_figures(path):
    en = {c.id: c.source for c in read(path).cells if c.cell_type == "markdown"}
    zh = {c.id: c.source for c in read(twin_of(path)).cells if c.cell_type == "markdown"}
    for cell_id, source in zh.items():
        assert len(CJK.findall(source)) >= 2, f"{path.name} cell {cell_id}: no Chinese prose"
        lost = numbers(en[cell_id]) - numbers(source)
        assert not lost, f"zh/{path.name} cell {cell_id}: the English prose quotes {sorted(lost)}, the Chinese does not"


@pytest.mark.parametrize("path", ENGLISH, ids=lambda p: p.stem)
def test_twin_is_committed_with_the_outputs_of_a_run(path):
    cells = [c for c in read(twin_of(path)).cells if c.cell_type == "code"]
    images = [o for c in cells for o in c.outputs if "image/png" in o.get("data", {})]
    assert sum(bool(c.outputs) for c in cells) >= len(cells) // 2 and images, \
        f"zh/{path.name}: committed without the outputs of a run"


def test_the_builder_refuses_prose_it_does_not_have(tmp_path, monkeypatch):
    monkeypatch.setattr(zh_twin, "NOTEBOOKS", tmp_path)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Title"),
                                         nbformat.v4.new_code_cell("fast = False", metadata={"tags": ["parameters"]}),
                                         nbformat.v4.new_code_cell("fast = fast or False"),
                                         nbformat.v4.new_markdown_cell("Some prose.")])
    nbformat.write(nb, tmp_path / "99_demo.ipynb")
    first, last = nb.cells[0].id, nb.cells[3].id
    with pytest.raises(SystemExit, match=last):
        zh_twin.build("99", {first: "# 标题"})
    out = zh_twin.build("99", {first: "# 标题", last: "一段文字。"})
    twin = read(out)
    assert [c.source for c in twin.cells] == ["# 标题", "fast = False", "fast = fast or False",
                                              zh_twin.LANGUAGE_SOURCE, "一段文字。"]
    # a later English code change flows in; the Chinese prose is kept
    nb.cells[2].source = "fast = fast or True"
    nbformat.write(nb, tmp_path / "99_demo.ipynb")
    assert read(zh_twin.build("99"))["cells"][2].source == "fast = fast or True"


def test_translate_whole_labels_phrases_and_leaves_numbers():
    assert i18n.translate("gold reward") == "gold reward"              # English until asked
    i18n.use_language("zh")
    assert i18n.translate("Run") == "运行"
    assert CJK.search(i18n.translate("gold reward"))
    out = i18n.translate("PPO after 100 iterations, one point per β")
    assert "100" in out and "PPO" in out and "iterations" not in out and CJK.search(out)
    assert i18n.translate("β = 0.1") == "β = 0.1" and i18n.translate("3.14") == "3.14"
    with pytest.raises(ValueError, match="language must be one of"):
        i18n.use_language("fr")


def test_figures_are_translated_when_drawn_and_not_in_english():
    matplotlib.use("Agg")
    i18n.use_language("zh")
    fig, ax = plt.subplots()
    ax.set(title="gold reward", xlabel="PPO iteration")
    fig.canvas.draw()
    assert CJK.search(ax.get_title()) and CJK.search(ax.get_xlabel())
    plt.close(fig)
    i18n.use_language("en")
    fig, ax = plt.subplots()
    ax.set_title("gold reward")
    fig.canvas.draw()
    assert ax.get_title() == "gold reward"
    plt.close(fig)


def test_without_a_chinese_font_figures_stay_english_and_say_why(monkeypatch):
    import minilab.plot_style as style
    monkeypatch.setattr(style, "cjk_font", lambda: None)
    with pytest.warns(UserWarning, match="no font with Chinese glyphs"):
        assert i18n.use_language("zh") == "en"
    fig, ax = plt.subplots()
    ax.set_title("gold reward")
    fig.canvas.draw()
    assert ax.get_title() == "gold reward"
    plt.close(fig)


def test_panel_speaks_chinese():
    from ipywidgets import FloatSlider
    from minilab.widgets import Panel
    i18n.use_language("zh")
    panel = Panel(lambda beta: beta, {"beta": FloatSlider(value=0.1, description="β"),
                                      "steps": FloatSlider(value=1, description="steps")}, lambda r: None)
    assert panel.button.description == "运行" and CJK.search(panel.status.value)
    assert panel.controls["beta"].description == "β" and CJK.search(panel.controls["steps"].description)
    panel.run()
    assert CJK.search(panel.status.value) and "1" in panel.status.value


def test_glossary_names_the_terms_the_chinese_notebooks_use():
    glossary = (REPO / "docs" / "GLOSSARY.md").read_text(encoding="utf-8")
    for term in ("奖励模型", "近端策略优化", "KL 惩罚", "奖励黑客", "黄金奖励", "监督微调", "`beta`", "`clip_eps`"):
        assert term in glossary, term


def test_category_ticks_are_translated_and_token_boxes_are_not():
    matplotlib.use("Agg")
    i18n.use_language("zh")
    fig, (a, b) = plt.subplots(1, 2)
    a.bar(["facts", "style"], [1, 2])                                  # category axis
    b.bar([0, 1], [1, 2])
    b.set_xticks([0, 1], ["correctness", "concision"])                 # fixed names
    b.text(0, 0, "tokens", family="monospace")                         # a token box (plots.tokens_strip)
    fig.canvas.draw()
    fig.canvas.draw()                                                  # twice: translated once, not mangled
    assert all(CJK.search(t.get_text()) for t in a.get_xticklabels() + b.get_xticklabels())
    assert b.texts[0].get_text() == "tokens"
    plt.close(fig)
    assert i18n.status("done", 3) == "完成（第 3 次）"
    i18n.use_language("en")
    assert i18n.status("done", 3) == "done (run 3)"
