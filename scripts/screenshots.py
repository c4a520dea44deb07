"""docs/screenshots/*.png from the real pages: the browser journeys, run with screenshots on.

    .venv/bin/python scripts/screenshots.py        # or: make screenshots

Needs what the browser tests need: Debian's Chromium (/usr/bin/chromium) and `npm ci`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / "docs" / "screenshots"
JOURNEYS = [
    "tests/browser/test_journeys.py::test_booker_claims_and_shares_and_the_recipient_downloads_the_ticket",
    "tests/browser/test_journeys.py::test_organizer_edits_a_ticket_switches_downloads_off_and_reopens_personalisation",
    "tests/browser/test_door_phone.py::test_the_phones_camera_scans_a_ticket_pdfs_qr_code_and_the_door_admits_it",
    "tests/browser/test_door_phone.py::test_the_door_in_dutch",
    "tests/browser/test_whatsapp.py::test_the_whatsapp_page_works_without_its_script",
    "tests/browser/test_personalisation_closing.py",
    "tests/browser/test_import_page.py",
    "tests/browser/test_dutch.py::test_dutch_journey_shows_no_english",
]


def main() -> None:
    FOLDER.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SCREENSHOTS_DIR": str(FOLDER), "CI": "true"}  # CI: fail, never skip, without Chromium
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *JOURNEYS], cwd=ROOT, env=env)
    if result.returncode:
        raise SystemExit(result.returncode)
    for path in sorted(FOLDER.glob("*.png")):
        print(f"{path.relative_to(ROOT)}  {path.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
