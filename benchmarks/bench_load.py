"""The Predict page under load: N browser sessions uploading photos at the same time.

Usage: python benchmarks/bench_load.py [--clients 1 4 8 20] [--photos 3]

For each N, N Chromium sessions (one browser, one context each) open the Predict page of one real
``streamlit run`` server, then all upload ``--photos`` photos at once (640x480, one face each,
every file different so no cache answers). Upload-to-answer is from handing the files to the
uploader until every photo's first face label is on screen. Prints p50 and p95 over the
sessions, the errors (a timeout or a Streamlit exception on the page) and whether the server
still answered its health check. Needs Debian's chromium, playwright and ../shared.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import re
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PIL import Image, ImageOps  # noqa: E402
from playwright.async_api import async_playwright, expect  # noqa: E402

from tests.e2e.server import CHROMIUM, CHROMIUM_ARGS, REPO_ROOT, free_port, start_server  # noqa: E402

PHOTO = REPO_ROOT.parent / "shared" / "photos" / "fr_obama.jpg"
TIMEOUT_MS = 600_000


def photo_640x480(variant: int) -> bytes:
    canvas = ImageOps.fit(Image.open(PHOTO).convert("RGB"), (640, 480), centering=(0.5, 0.15))
    canvas.putpixel((variant % 640, variant // 640 % 480), (variant % 256, 7, 9))  # a different file each time
    buffer = io.BytesIO()
    canvas.save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


async def one_session(browser, url: str, files: list[str], start_together: asyncio.Event) -> float | str:
    context = await browser.new_context(viewport={"width": 1200, "height": 900})
    page = await context.new_page()
    try:
        await page.goto(url)
        await expect(page.get_by_text("Upload one or more photos")).to_be_visible(timeout=TIMEOUT_MS)
        await start_together.wait()
        started = time.perf_counter()
        await page.locator("input[type=file]").first.set_input_files(files)
        await expect(page.get_by_text(re.compile(r"^face 1: "))).to_have_count(len(files), timeout=TIMEOUT_MS)
        elapsed = time.perf_counter() - started
        if await page.get_by_test_id("stException").count():
            return "exception on the page"
        return elapsed
    except Exception as exc:  # a timeout or a closed page: counted as an error
        return f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
    finally:
        await context.close()


async def round_of(browser, url: str, clients: int, photos: int, tmp: Path, first_variant: int) -> list:
    files = []
    for c in range(clients):
        mine = []
        for k in range(photos):
            path = tmp / f"c{first_variant + c}_{k}.jpg"
            path.write_bytes(photo_640x480((first_variant + c) * photos + k))
            mine.append(str(path))
        files.append(mine)
    start_together = asyncio.Event()
    sessions = [asyncio.create_task(one_session(browser, url, f, start_together)) for f in files]
    await asyncio.sleep(0)
    # Let every session load the page before the uploads start together.
    await asyncio.sleep(5 + clients * 1.5)
    start_together.set()
    return await asyncio.gather(*sessions)


def healthy(base: str) -> bool:
    try:
        return urllib.request.urlopen(base + "/_stcore/health", timeout=10).read() == b"ok"
    except OSError:
        return False


async def main_async(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="fer_bench_load_"))
    port = free_port()
    server = start_server(tmp, port)
    base = f"http://127.0.0.1:{port}"
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            await round_of(browser, base + "/Predict", 1, 1, tmp, 10_000)  # warm-up: TensorFlow, model, detector
            print("clients  photos each   p50 (s)   p95 (s)  errors  server healthy")
            variant = 0
            for clients in args.clients:
                results = await round_of(browser, base + "/Predict", clients, args.photos, tmp, variant)
                variant += clients
                times = sorted(r for r in results if isinstance(r, float))
                errors = [r for r in results if not isinstance(r, float)]
                p50 = statistics.median(times) if times else float("nan")
                p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))] if times else float("nan")
                print(f"{clients:7d}  {args.photos:11d}  {p50:8.2f}  {p95:8.2f}  {len(errors):6d}  {healthy(base)}",
                      flush=True)
                for error in errors[:3]:
                    print(f"         error: {error}")
            await browser.close()
    finally:
        server.terminate()
        server.wait(20)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 8, 20])
    parser.add_argument("--photos", type=int, default=3)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
