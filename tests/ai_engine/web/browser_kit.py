"""A headless Debian Chromium driven by Selenium for the admin page tests. Selenium is blocking:
every browser step runs in a worker thread while the engine keeps running in the event loop.
Uses /usr/bin/chromium and /usr/bin/chromedriver only (Makefile system-deps); nothing is downloaded."""
from __future__ import annotations

import functools
import shutil
from contextlib import contextmanager
from pathlib import Path

import anyio
import pytest

SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
WAIT_S = 10.0

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

__all__ = ["Browser", "By", "EC", "Keys", "browser"]


class Browser:
    def __init__(self, driver, base_url: str):
        self.driver = driver
        self.base_url = base_url

    async def run(self, fn, *args):
        return await anyio.to_thread.run_sync(functools.partial(fn, *args))

    async def get(self, path: str) -> None:
        await self.run(self.driver.get, self.base_url + path)

    async def wait(self, condition, what: str, timeout: float = WAIT_S):
        """Wait for an end state in the page (not a speed check: the bound only stops a hang)."""
        return await self.run(lambda: WebDriverWait(self.driver, timeout, poll_frequency=0.05).until(condition, what))

    async def find(self, css: str):
        return await self.run(self.driver.find_element, By.CSS_SELECTOR, css)

    async def find_all(self, css: str):
        return await self.run(self.driver.find_elements, By.CSS_SELECTOR, css)

    async def text(self, css: str) -> str:
        return await self.run(lambda: self.driver.find_element(By.CSS_SELECTOR, css).text)

    async def js(self, script: str, *args):
        return await self.run(self.driver.execute_script, script, *args)

    async def js_async(self, script: str, *args):
        return await self.run(self.driver.execute_async_script, script, *args)

    async def path(self) -> str:
        url = await self.run(lambda: self.driver.current_url)
        return url[len(self.base_url):] if url.startswith(self.base_url) else url

    async def size(self, width: int, height: int) -> None:
        await self.run(self.driver.set_window_size, width, height)

    async def screenshot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await self.run(self.driver.save_screenshot, str(SCREENSHOTS / f"{name}.png"))

    async def accessibility_problems(self) -> list[str]:
        """Basic checks on the page as shown: every field labelled, every button named, and text
        contrast at least 4.5:1 (WCAG AA) against the background it is drawn on."""
        return await self.js(A11Y_JS)

    async def login(self, token: str) -> None:
        await self.get("/admin/login")
        field = await self.find("#token")
        await self.run(field.send_keys, token)
        await self.run(field.submit)


@contextmanager
def browser(base_url: str):
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.skip("Debian's chromium and chromium-driver are not installed (make system-deps)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,900",
                "--autoplay-policy=no-user-gesture-required", "--no-first-run", "--disable-extensions"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(20)
    driver.set_script_timeout(20)
    try:
        yield Browser(driver, base_url)
    finally:
        driver.quit()


A11Y_JS = """
const problems = [];
for (const f of document.querySelectorAll('input:not([type=hidden]), select, textarea'))
  if (!f.labels || !f.labels.length) problems.push('no label: ' + (f.id || f.name));
for (const b of document.querySelectorAll('button, a'))
  if (!(b.getAttribute('aria-label') || b.textContent).trim()) problems.push('no name: ' + b.outerHTML);
const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
const lum = ([r, g, b]) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
const background = (el) => { for (; el; el = el.parentElement) { const c = rgb(getComputedStyle(el).backgroundColor);
  if (c.length === 3 || c[3] > 0) return c.slice(0, 3); } return [255, 255, 255]; };
for (const el of document.querySelectorAll('body *')) {
  const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
  if (!own || !el.getClientRects().length) continue;
  const a = lum(rgb(getComputedStyle(el).color)), b = lum(background(el));
  const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  if (ratio < 4.5) problems.push('contrast ' + ratio.toFixed(2) + ': ' + el.textContent.trim().slice(0, 40));
}
return problems;
"""
