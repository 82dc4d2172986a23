"""Dashboard latency in a real browser against a real ``streamlit run`` server.

Usage: python benchmarks/bench_dashboard.py [--uploads 20]

Prints, per page, the time from navigation to the page fully rendered (Streamlit idle and
the page's main element visible): cold (first visit after the server started, which pays
for importing TensorFlow and loading the model or dataset) and warm (a later visit). Then
the upload-to-answer latency for a 640x480 photo with one face (p50, p95): from handing the
file to the uploader until the face's label is on screen. Every upload is a slightly
different JPEG so no cache answers it. Needs Debian's chromium, playwright and ../shared.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PIL import Image, ImageOps  # noqa: E402
from playwright.sync_api import expect, sync_playwright  # noqa: E402

from tests.e2e.server import CHROMIUM, CHROMIUM_ARGS, REPO_ROOT, free_port, start_server  # noqa: E402

PHOTO = REPO_ROOT.parent / "shared" / "photos" / "fr_obama.jpg"
ZIP_NAME = "fer2013/fer2013-train-publictest.zip"


def rendered(page, check) -> None:
    page.wait_for_timeout(100)
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=300_000)
    check(page)


def visit(page, url: str, check) -> float:
    start = time.perf_counter()
    page.goto(url)
    rendered(page, check)
    return time.perf_counter() - start


def photo_640x480(variant: int) -> bytes:
    canvas = ImageOps.fit(Image.open(PHOTO).convert("RGB"), (640, 480), centering=(0.5, 0.15))
    canvas.putpixel((variant % 640, 0), (variant % 256, 0, 0))  # a different file each time
    buffer = io.BytesIO()
    canvas.save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--uploads", type=int, default=20)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="fer_bench_dash_"))
    port = free_port()
    server = start_server(tmp, port)
    base = f"http://127.0.0.1:{port}"
    expect.set_options(timeout=300_000)
    checks = {
        "Home": ("", lambda p: expect(p.get_by_text("PublicTest accuracy")).to_be_visible()),
        "Dataset": ("/Dataset", lambda p: expect(p.get_by_text("Source")).to_be_visible()),
        "Train & Tune": ("/Train_and_Tune", lambda p: expect(p.get_by_role("button", name="Launch")).to_be_visible()),
        # With no run, the Results page shows the default model on the data folder's dataset: the first
        # visit computes its predictions on val (then cached on disk); later visits read the cache.
        "Results": ("/Results", lambda p: expect(p.get_by_text("Accuracy on val").first).to_be_visible()),
        "Predict": ("/Predict", lambda p: expect(p.get_by_text("Upload one or more photos")).to_be_visible()),
    }
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            print("page           cold (s)  warm (s)")
            for name, (path, check) in checks.items():
                cold = visit(page, base + path, check)
                warm = statistics.median(visit(page, base + path, check) for _ in range(3))
                print(f"{name:13s} {cold:9.2f} {warm:9.2f}")

            # The Dataset page with the full FER2013 zip chosen: first load (decode or disk cache) and a rerun.
            page.goto(base + "/Dataset")
            rendered(page, checks["Dataset"][1])
            start = time.perf_counter()
            page.get_by_test_id("stSelectbox").filter(has_text="Dataset").click()
            page.get_by_role("option", name=ZIP_NAME).click()
            rendered(page, lambda p: expect(p.locator(".js-plotly-plot").first).to_be_visible())
            first = time.perf_counter() - start
            url = page.url  # carries ?dataset=..., so a reload keeps the choice
            again = statistics.median(
                visit(page, url, lambda p: expect(p.locator(".js-plotly-plot").first).to_be_visible())
                for _ in range(3))
            print(f"Dataset page with FER2013 chosen: first {first:.2f} s (decodes the zip, or reads the disk "
                  f"cache), reload {again:.2f} s")

            latencies = []
            for k in range(args.uploads + 1):
                photo = tmp / f"photo_{k}.jpg"
                photo.write_bytes(photo_640x480(k))
                page.goto(base + "/Predict")
                rendered(page, checks["Predict"][1])
                start = time.perf_counter()
                page.locator("input[type=file]").first.set_input_files(str(photo))
                expect(page.get_by_text("face 1:", exact=False).first).to_be_visible()
                rendered(page, lambda p: None)
                if k:  # the first upload also builds the face detector; report it apart
                    latencies.append(time.perf_counter() - start)
                else:
                    print(f"first upload (builds the MTCNN detector): {time.perf_counter() - start:.2f} s")
            latencies.sort()
            p95 = latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))]
            print(f"upload to answer, 640x480 photo with one face, {len(latencies)} uploads: "
                  f"p50 {statistics.median(latencies):.2f} s, p95 {p95:.2f} s")
            browser.close()
    finally:
        server.terminate()
        server.wait(20)


if __name__ == "__main__":
    main()
