"""Matrix events as clients send them, from the captured shapes in tests/fixtures/matrix/."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

SHAPES = Path(__file__).resolve().parent.parent / "fixtures" / "matrix"


def shape(name: str, /, **fill: str) -> tuple[str, dict[str, Any]]:
    """(event type, content) of the shape `name`, each `{{key}}` replaced by fill[key]; a
    `{{key_html}}` gets the value HTML-escaped, as a client writes it into formatted_body."""
    data = json.loads((SHAPES / f"{name}.json").read_text())
    values = {**{f"{key}_html": html.escape(value, quote=False) for key, value in fill.items()}, **fill}

    def filled(value: Any) -> Any:
        if isinstance(value, str):
            for key, text in values.items():
                value = value.replace("{{" + key + "}}", text)
            if "{{" in value:
                raise KeyError(f"{name}: no value for a placeholder in {value!r}")
            return value
        if isinstance(value, list):
            return [filled(item) for item in value]
        if isinstance(value, dict):
            return {key: filled(item) for key, item in value.items() if not key.startswith("_")}
        return value

    return data["type"], filled(data["content"])
