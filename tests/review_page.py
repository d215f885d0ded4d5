"""Drives a review page (`replicant export --format review-html`) in headless Chromium through
WebDriver, as a reviewer would: types a name, labels pairs with the keyboard (1, 2, 3, 0 and
the arrows), writes a note, reloads (the labels must still be there), and saves the labels.
Prints one JSON object: what the page showed at each check and the saved file's path.

    python review_page.py PAGE.html DOWNLOAD_DIR REVIEWER
"""
import json
import os
import shutil
import sys
import time

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

page, downloads, reviewer = sys.argv[1], os.path.abspath(sys.argv[2]), sys.argv[3]
options = webdriver.ChromeOptions()
for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
    options.add_argument(arg)
options.add_experimental_option(
    "prefs", {"download.default_directory": downloads, "download.prompt_for_download": False}
)
# Debian's Chromium and its driver, found on PATH (selenium would otherwise try to download one).
options.binary_location = shutil.which("chromium") or shutil.which("chromium-browser") or ""
service = webdriver.ChromeService(executable_path=shutil.which("chromedriver"))
driver = webdriver.Chrome(options=options, service=service)
seen = {}
try:
    driver.get("file://" + os.path.abspath(page))
    body = driver.find_element(By.TAG_NAME, "body")
    text = lambda id_: driver.find_element(By.ID, id_).text

    # A key before a name is refused: nothing is labelled.
    body.send_keys("1")
    seen["without_name"] = text("progress")
    name = driver.find_element(By.ID, "reviewer")
    name.send_keys(reviewer)
    name.send_keys(Keys.ESCAPE)
    # Pair 1 full copy, pair 2 near copy (each label moves on), back to pair 2 and a note.
    body.send_keys("1")
    body.send_keys("2")
    body.send_keys(Keys.ARROW_LEFT)
    note = driver.find_element(By.ID, "note")
    note.click()
    note.send_keys("the same bridge")
    note.send_keys(Keys.ESCAPE)
    body.send_keys(Keys.ARROW_RIGHT)
    # Pair 3 distinct, pair 4 full copy then cleared (0), pair 4 left unlabelled.
    body.send_keys("3")
    body.send_keys("1")
    body.send_keys(Keys.ARROW_LEFT)
    body.send_keys("0")
    seen["before_reload"] = text("progress")
    seen["position_before_reload"] = text("position")
    driver.refresh()
    seen["after_reload"] = text("progress")
    seen["position_after_reload"] = text("position")
    seen["reviewer_after_reload"] = driver.find_element(By.ID, "reviewer").get_attribute("value")
    driver.find_element(By.ID, "save").click()
    saved = None
    for _ in range(100):
        files = [f for f in os.listdir(downloads) if f.endswith(".json")]
        if files:
            saved = os.path.join(downloads, files[0])
            break
        time.sleep(0.1)
    seen["saved"] = saved
    seen["message"] = text("message")
finally:
    driver.quit()
# The saved file against its published schema, when jsonschema is there (CI installs it).
try:
    import jsonschema
except ImportError:
    seen["schema"] = "jsonschema not installed"
else:
    schema = os.path.join(os.path.dirname(__file__), "..", "docs", "schemas",
                          "review-page-labels.v1.schema.json")
    jsonschema.Draft202012Validator(json.load(open(schema))).validate(json.load(open(saved)))
    seen["schema"] = "valid"
print(json.dumps(seen))
