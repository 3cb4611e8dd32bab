"""Widget helpers."""
from minilab.widgets import slider


def test_slider_range_includes_the_requested_value():
    """A report asking for β = 0.8 must run β = 0.8, not the 0.5 an ipywidgets slider clamps it to."""
    beta = slider(0.8, 0.0, 0.5, 0.01, "β")
    assert beta.value == 0.8 and beta.max == 0.8 and beta.min == 0.0
    seed = slider(3, 0, 99, 1, "seed")
    assert type(seed).__name__ == "IntSlider" and (seed.min, seed.max, seed.value) == (0, 99, 3)
