"""The web view in a real browser: Debian's headless chromium, driven by selenium through
Debian's chromium-driver, against a real ``gitstore serve`` process on 127.0.0.1.

ivan (admin) logs in with his token, opens a ticket, posts a public reply and an
internal note and sees both appear, sees a commit made by another process appear
without reloading (the page listens to ``/events``), and searches; bob
(customer_facing) then logs in and never gets the internal note's word.

Skips when chromium, chromedriver or selenium are absent. ``UPDATE_SCREENSHOTS=1``
also writes the list and ticket screenshots shown in the README to docs/screenshots/.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "docs" / "screenshots"
GITSTORE = [sys.executable, "-m", "gitstore_cli.main"]
SECRET = "zebrafirmware"
"""A word only internal notes contain."""
WAIT = 30.0
"""Seconds a step may take before the test gives up (a bound, never a measure)."""

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="Debian's chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)",
)


def gitstore(path: Path, *args: str, actor: str = "lead") -> str:
    """Run the gitstore CLI on the store at ``path``; return its stdout."""
    proc = subprocess.run([*GITSTORE, "-C", str(path), "--no-fsync", "--actor", actor, *args],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def make_store(path: Path) -> dict[str, str]:
    """A help desk's store with roles and tokens; returns the tokens by actor."""
    subprocess.run([*GITSTORE, "--no-fsync", "init", str(path)], check=True, capture_output=True)
    gitstore(path, "role", "set", "bob", "customer_facing")
    gitstore(path, "role", "set", "ivan", "admin")
    tickets = [
        ("1001", "Ana Ruiz", "Acme", "high", "web_chat", "The label printer in the warehouse prints blank pages"),
        ("1002", "Ben Okafor", "Globex", "low", "email", "Please refund order 77, it arrived damaged"),
        ("1003", "Chloe Martin", "Initech", "low", "email", "How do I add a second user to our account?"),
        ("1004", "Dev Patel", "Umbrella", "high", "trello", "Checkout fails with error 502 since this morning"),
    ]
    for t_no, client, company, priority, platform, first in tickets:
        gitstore(path, "ticket", "create", t_no, "--client", client, "--company", company, "--priority", priority,
                 "--platform", platform)
        gitstore(path, "message", "add", t_no, "--external", "--sender", "customer", "--sender-id",
                 client.split()[0].lower(), first)
    gitstore(path, "message", "add", "1001", "--internal", "--sender", "technical_member", "--sender-id", "ops",
             "--type", "update", f"Driver 4.2 has the {SECRET} regression; rolling back")
    gitstore(path, "message", "add", "1004", "--internal", "--sender", "technical_member", "--sender-id", "sre",
             "--type", "escalation", "Payment gateway timeouts: paging the on-call")
    gitstore(path, "state", "set", "1004", "assigned_member=ivan", "conversation_status=escalated")
    gitstore(path, "stage", "set", "1002", "classifier", "--reason", "refund request")
    return {name: gitstore(path, "token", "create", name).strip() for name in ("ivan", "bob")}


class Server:
    """``gitstore serve --port 0`` in a subprocess; ``url`` once it listens."""

    def __init__(self, path: Path):
        self.proc = subprocess.Popen([*GITSTORE, "-C", str(path), "--no-fsync", "serve", "--host", "127.0.0.1",
                                      "--port", "0"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        found = threading.Event()
        self.url = ""

        def drain() -> None:  # read stderr to its end, so the server never blocks on a full pipe
            assert self.proc.stderr is not None
            for line in self.proc.stderr:
                self.lines.append(line)
                listening = re.search(r"on (http://127\.0\.0\.1:\d+)/", line)
                if listening and not self.url:
                    self.url = listening.group(1)
                    found.set()
            found.set()

        threading.Thread(target=drain, daemon=True).start()
        found.wait(WAIT)
        assert self.url, "gitstore serve did not start:\n" + "".join(self.lines)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(WAIT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def browser():
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,900",
                 "--force-device-scale-factor=1", "--lang=en-US"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(WAIT)
    yield driver
    driver.quit()


@pytest.fixture
def served(tmp_path):
    path = tmp_path / "helpdesk"
    tokens = make_store(path)
    server = Server(path)
    yield path, tokens, server.url
    server.stop()


def wait_for(browser, condition, what: str):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    # a page that reloads itself (a redirect after a post, a live reload from /events)
    # drops the elements a condition was reading: ask again
    return WebDriverWait(browser, WAIT, ignored_exceptions=(StaleElementReferenceException,)).until(
        condition, message=f"waited for {what}"
    )


def log_in(browser, url: str, token: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(url + "/")
    wait_for(browser, lambda b: "/login" in b.current_url, "the login page")
    browser.find_element(By.ID, "token").send_keys(token)
    browser.find_element(By.ID, "login").click()
    wait_for(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "table.tickets"), "the ticket list")


def page_text(browser) -> str:
    return browser.find_element("tag name", "body").text


def save(browser, tmp_path: Path, name: str) -> None:
    shot = tmp_path / name
    assert browser.save_screenshot(str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, SCREENSHOTS / name)


def test_ivan_replies_and_notes_and_bob_never_sees_the_note(browser, served, tmp_path):
    from selenium.webdriver.common.by import By

    path, tokens, url = served
    log_in(browser, url, tokens["ivan"])
    rows = [r.get_attribute("data-ticket") for r in browser.find_elements(By.CSS_SELECTOR, "tr.row")]
    assert sorted(rows) == ["1001", "1002", "1003", "1004"]
    save(browser, tmp_path, "ticket-list.png")

    browser.find_element(By.LINK_TEXT, "1001").click()
    wait_for(browser, lambda b: b.find_elements(By.ID, "reply-form"), "ticket 1001")
    notes = browser.find_elements(By.CSS_SELECTOR, "li.message-internal")
    assert len(notes) == 1 and SECRET in notes[0].text and "INTERNAL NOTE" in notes[0].text.upper()

    browser.find_element(By.ID, "reply-content").send_keys("Thanks Ana, we are rolling back the printer driver.")
    browser.find_element(By.ID, "send-reply").click()
    wait_for(browser, lambda b: "rolling back the printer driver" in page_text(b), "the reply on the page")
    browser.find_element(By.ID, "note-content").send_keys("Rollback of driver 4.2 scheduled for 18:00 UTC")
    browser.find_element(By.ID, "send-note").click()
    wait_for(browser, lambda b: "scheduled for 18:00 UTC" in page_text(b), "the note on the page")

    def settled(b) -> bool:  # read inside a wait: a live reload may replace the page meanwhile
        notes = b.find_elements(By.CSS_SELECTOR, "li.message-internal")
        replies = b.find_elements(By.CSS_SELECTOR, "li.message-external")
        return [("scheduled for 18:00 UTC" in n.text) for n in notes] == [False, True] and bool(replies) and (
            "rolling back the printer driver" in replies[-1].text)

    wait_for(browser, settled, "the note after the older note, the reply last of the external messages")

    # another process writes: the page, listening to /events, reloads by itself
    gitstore(path, "message", "add", "1001", "--external", "--sender", "customer", "--sender-id", "ana",
             "Great, the labels print again!")
    wait_for(browser, lambda b: "the labels print again" in page_text(b), "the live update")
    save(browser, tmp_path, "ticket.png")

    search = browser.find_element(By.ID, "search-box")
    search.send_keys("refund")
    search.submit()
    wait_for(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "li.hit") and "Ticket 1002" in page_text(b)
             and [m.text.lower() for m in b.find_elements(By.CSS_SELECTOR, ".snippet mark")] == ["refund"],
             "search hits for ticket 1002 with the word marked")

    browser.find_element(By.ID, "logout").click()
    wait_for(browser, lambda b: "/login" in b.current_url, "the login page after logout")

    log_in(browser, url, tokens["bob"])
    assert SECRET not in browser.page_source and "Rollback of driver" not in browser.page_source
    browser.get(url + "/tickets/1001")
    wait_for(browser, lambda b: b.find_elements(By.ID, "timeline"), "ticket 1001 as bob")
    source = browser.page_source
    assert "rolling back the printer driver" in source and "the labels print again" in source
    assert SECRET not in source and "Rollback of driver" not in source
    assert not browser.find_elements(By.CSS_SELECTOR, "li.message-internal")
    assert not browser.find_elements(By.ID, "note-form")
    browser.get(url + "/search?q=" + SECRET)
    wait_for(browser, lambda b: "Nothing found" in page_text(b), "bob's empty search")
    assert "Rollback of driver" not in browser.page_source and "regression" not in browser.page_source


def test_the_browser_does_not_show_the_token_cookie_to_scripts(browser, served):
    _path, tokens, url = served
    log_in(browser, url, tokens["ivan"])
    assert browser.execute_script("return document.cookie") == ""  # HttpOnly: no script reads the token
    cookies = {c["name"]: c for c in browser.get_cookies()}
    assert cookies["gitstore_token"]["httpOnly"] and cookies["gitstore_token"]["sameSite"] == "Strict"
