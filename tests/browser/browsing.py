"""Helpers for the browser tests: devices, axe-core checks, screenshots."""

from __future__ import annotations

import json
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True, "device_scale_factor": 2}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
#: Where the journeys save their screenshots (`make screenshots` sets it); none when unset.
SCREENSHOTS = os.environ.get("SCREENSHOTS_DIR")


def check_accessibility(page, what: str) -> None:
    """axe-core finds no violations on the page as it is now (all of axe's default rules)."""
    page.wait_for_load_state()
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=AXE.read_text())
    results = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    violations = [
        {
            "rule": violation["id"],
            "impact": violation["impact"],
            "help": violation["help"],
            "nodes": [node["target"] for node in violation["nodes"]][:5],
            "summary": violation["nodes"][0].get("failureSummary", "") if violation["nodes"] else "",
        }
        for violation in results["violations"]
    ]
    assert not violations, f"axe on {what} ({page.url}):\n" + json.dumps(violations, indent=2)


def screenshot(page, name: str, *, full_page: bool = True) -> None:
    """Save docs/screenshots/<name>.png when the screenshots are being made."""
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=full_page, animations="disabled")
