"""Widgets: sliders wired to the plain functions of the course.

Every experiment is a plain function (`run_ppo(beta=..., clip_eps=..., size=...)`)
that tests and papermill call directly. A `Panel` only wires controls to it and
redraws its figures; it holds no training logic of its own:

    import matplotlib.pyplot as plt
    from ipywidgets import Dropdown, FloatSlider
    from minilab.widgets import Panel

    def draw(result):                       # draw_fn: what run_fn returned -> matplotlib figures
        policy, tok, history = result
        plt.plot(history.iter, history.gold); plt.title("gold reward")

    panel = Panel(run_ppo,
                  {"beta": FloatSlider(value=0.1, min=0, max=1, step=0.05, description="β"),
                   "size": Dropdown(options=["nano", "micro"], description="size")},
                  draw)
    panel                                   # shows the controls and runs the defaults once

    panel.result                            # (next cell) what the last run returned

`run_fn` is called with one keyword argument per control, named by its key.

Choices:
- A run starts on slider *release* (`continuous_update=False`) or on the Run
  button; the status label says "running (run 2)..." and then "done (run 2)".
  Put `tqdm.auto` inside the run function to show a progress bar in the panel.
- An exception from a run triggered by a control is shown in the panel (status and
  plot area) and the panel stays usable. The first run, with the notebook's own
  defaults, re-raises: a notebook whose defaults fail is a bug, and papermill/nbval
  must say so.
- Widget views render only in a live kernel, so the panel also displays a *static
  copy* of the first run's figures below itself, for GitHub readers and executed
  reports. When a live front-end renders the panel (it reports `_view_count`),
  the static copy is blanked so a student sees each plot once.
- `slider(value, low, high, step, description)` widens its range to include `value`:
  ipywidgets would silently clamp a value outside [min, max], and a papermill report asking
  for β = 0.8 would run β = 0.5 under the label β = 0.8.
- In the Chinese notebooks (`minilab.i18n.use_language("zh")`) the controls' descriptions, the button
  and the status are translated when the panel is built; the values are the same.
- CSS classes for tests and styling: each control `minilab-{name}`, the plot area
  `minilab-plots`, the status label `minilab-status`, the button `minilab-run`.
"""
from __future__ import annotations

import io
import traceback
from typing import Any, Callable

import ipywidgets as widgets
import matplotlib.pyplot as plt
from IPython.display import Image, display

from minilab.i18n import status, translate


def slider(value: float, low: float, high: float, step: float, description: str):
    """An IntSlider (int low, high and step) or a FloatSlider over [low, high], widened to include `value`."""
    kind = widgets.IntSlider if all(type(x) is int for x in (low, high, step)) else widgets.FloatSlider
    return kind(value=value, min=min(low, value), max=max(high, value), step=step, description=description)


class Panel:
    """Controls + Run button + status + plot area over `run_fn(**values) -> result`."""

    def __init__(self, run_fn: Callable[..., Any], controls: dict[str, widgets.Widget],
                 draw_fn: Callable[[Any], None], run_on_start: bool = True):
        self.run_fn, self.controls, self.draw_fn = run_fn, controls, draw_fn
        self.run_on_start = run_on_start
        self.runs = 0                      # completed or failed runs so far
        self.result: Any = None            # what the last successful run returned
        self.error: BaseException | None = None
        self._static = []                  # display handles of the static copy

        self.button = widgets.Button(description=translate("Run"), icon="play").add_class("minilab-run")
        self.status = widgets.Label(translate("ready")).add_class("minilab-status")
        self.plots = widgets.Output().add_class("minilab-plots")
        for name, control in controls.items():
            control.add_class(f"minilab-{name}")
            if hasattr(control, "description"):
                control.description = translate(control.description)   # Chinese in notebooks/zh/
            if hasattr(control, "continuous_update"):
                control.continuous_update = False          # run on release, not on every pixel
            control.observe(lambda change: self.run(), names="value")
        self.button.on_click(lambda button: self.run())
        self.widget = widgets.VBox([*controls.values(), widgets.HBox([self.button, self.status]), self.plots])
        self.widget._view_count = 0        # the front-end counts the views it renders (ipywidgets trait)
        self.widget.observe(self._on_view, names="_view_count")

    def values(self) -> dict[str, Any]:
        return {name: control.value for name, control in self.controls.items()}

    def run(self, raise_errors: bool = False) -> list[bytes]:
        """Call run_fn with the controls' values and redraw; returns the figures as PNG bytes."""
        run = self.runs + 1
        self.status.value = status("running", run)
        self.button.disabled = True
        pngs = []
        self.plots.clear_output(wait=True)                 # keep the old plots until new output arrives
        with self.plots:
            try:
                self.result = self.run_fn(**self.values())
                before = set(plt.get_fignums())
                self.draw_fn(self.result)
                for num in sorted(set(plt.get_fignums()) - before):
                    buffer = io.BytesIO()
                    plt.figure(num).savefig(buffer, format="png", bbox_inches="tight")
                    pngs.append(buffer.getvalue())
                plt.show()                                 # inline backend: display and close the figures
                self.error, self.status.value = None, status("done", run)
            except Exception as error:                     # keep the panel alive; say what went wrong
                plt.close("all")
                self.plots.clear_output()
                print("".join(traceback.format_exception_only(type(error), error)).strip())
                self.error = error
                self.status.value = status("error", run) + f": {type(error).__name__}: {error}"
                if raise_errors:
                    raise
            finally:
                self.runs = run
                self.button.disabled = False
        return pngs

    def show(self) -> None:
        """Display the panel; run the defaults once and display a static copy of their figures."""
        bundle = self.widget._repr_mimebundle_()
        bundle["text/plain"] = f"minilab panel ({', '.join(self.controls)}): open in JupyterLab to use it"
        display(bundle, raw=True)
        if self.run_on_start and self.runs == 0:
            for png in self.run(raise_errors=True):
                self._static.append(display(Image(png), display_id=True))

    _ipython_display_ = show

    def _on_view(self, change) -> None:
        if change["new"]:                                  # a live front-end shows the widget
            for handle in self._static:
                handle.update({"text/plain": ""}, raw=True)
            self._static = []
