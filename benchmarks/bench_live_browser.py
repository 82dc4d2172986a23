"""The live camera end to end: Chromium's fake camera (a 640x480 clip made from a shared photo)
streams over WebRTC to a real ``streamlit run`` server on this machine; after ``--seconds`` the
script prints the page's own line: frames analysed per second of those arriving, and the latency
from a frame's arrival to its answer.

Usage: python benchmarks/bench_live_browser.py [--seconds 25] [--fps 30] [--tta none|flip|multicrop]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from any folder

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.conftest import camera_clip  # noqa: E402
from tests.e2e.server import CHROMIUM, CHROMIUM_ARGS, free_port, start_server  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=25.0)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--tta", default=None, help="the page's TTA (default: the model card's best)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clip = camera_clip(tmp / "clip.y4m", fps=args.fps)
        port = free_port()
        server = start_server(tmp, port)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + [
                    "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                    f"--use-file-for-fake-video-capture={clip}"])
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.set_default_timeout(120_000)
                page.goto(f"http://127.0.0.1:{port}/Predict")
                page.get_by_role("heading", name="Predict").wait_for()
                page.wait_for_timeout(8000)
                if args.tta:
                    page.get_by_test_id("stSelectbox").filter(has_text="Test-time augmentation").click()
                    page.get_by_role("option", name=args.tta, exact=True).click()
                    page.wait_for_timeout(3000)
                page.get_by_test_id("stRadio").filter(has_text="Analyse").get_by_text("Live camera").click()
                page.frame_locator("iframe[title*='streamlit_webrtc']").get_by_role("button", name="START").click()
                page.wait_for_timeout(args.seconds * 1000)
                print(f"after {args.seconds:g} s, TTA {args.tta or 'from the card'}, a {args.fps} fps clip:",
                      page.get_by_text("Live:").first.inner_text())
                browser.close()
        finally:
            os.killpg(server.pid, 15)


if __name__ == "__main__":
    main()
