"""Data permissions in Chromium: row-level rules made in the admin screen's forms (no JSON),
checked with "test as user", saved, released — then the viewer's own data requests get only
their rows. Shot at desktop (1440 by 900) and phone (390 by 844) width."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.browser.test_admin import PHONE, api, no_horizontal_overflow
from tests.browser.test_stories import login
from tests.helpers.browser import ADMIN_PASSWORD, shot

pytestmark = pytest.mark.browser

APP = "rls-shop"
SALES_CSV = "country,city,revenue\nFrance,Paris,100\nFrance,Lyon,50\nSpain,Madrid,70\nItaly,Roma,90\nSpain,Sevilla,30\n"
PASSWORD = "rls-password-1"


def _setup(stack: str) -> httpx.Client:
    admin = api(stack)
    admin.post("/small-apps", json={"id": APP, "name": "RLS shop"}).raise_for_status()
    admin.put(
        f"/{APP}/domain/sales?stage=staging", content=SALES_CSV, headers={"Content-Type": "text/csv"}
    ).raise_for_status()
    admin.post(f"/{APP}/data/release").raise_for_status()
    admin.post("/groups", json={"name": "rls-managers"}).raise_for_status()
    for username, extra in (
        ("rls-fr", {"attributes": {"country": "France"}}),
        ("rls-boss", {"attributes": {"country": "Italy"}, "groups": ["rls-managers"]}),
    ):
        admin.post(
            "/users", json={"username": username, "password": PASSWORD, "privileges": {APP: ["view"]}, **extra}
        ).raise_for_status()
    return admin


def _rows(stack: str, username: str) -> list[str]:
    viewer = api(stack, username, PASSWORD)
    answer = viewer.post(f"/{APP}/data", json={"query": {"domain": "sales"}})
    answer.raise_for_status()
    return sorted(r["city"] for r in answer.json()["data"])


def test_a_row_rule_made_in_the_form_limits_what_a_viewer_sees(stack: str, browser: Any) -> None:
    admin = _setup(stack)
    # Before any rule, the viewer sees every row.
    assert _rows(stack, "rls-fr") == ["Lyon", "Madrid", "Paris", "Roma", "Sevilla"]

    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    login(page, stack, "admin", ADMIN_PASSWORD)
    page.click("a:has-text('Settings')")
    page.click(".admin-tabs a:has-text('Data permissions')")
    page.select_option("select[name=permissions-app]", APP)
    page.wait_for_url(f"**/settings/permissions?app={APP}")
    page.locator("select[name=preview-domain] option[value=sales]").wait_for(state="attached")
    page.get_by_text("No rule: every viewer of this app sees every row.").wait_for()

    # Rule 1: every user sees the rows of their own country (an attribute).
    page.click("[data-action=add-rule]")
    rule = page.locator("[data-rule='0']")
    assert rule.locator("select[name=rule-domain]").input_value() == "sales"
    assert rule.locator("select[name=rule-effect]").input_value() == "CUSTOM"
    options = rule.locator("select[name=clause-column] option").all_inner_texts()
    assert "country (string)" in options and "revenue (integer)" in options  # the domain's columns
    rule.locator("select[name=clause-column]").select_option("country")
    assert rule.locator("select[name=clause-source]").input_value() == "attribute"
    rule.locator("input[name=clause-attribute]").fill("country")

    # Another app while the rule is not saved: asked first; kept, nothing is lost.
    page.select_option("select[name=permissions-app]", "demo-sales")
    dialog = page.locator("dialog[open]")
    dialog.get_by_text("Leave the unsaved rules?").wait_for()
    dialog.get_by_role("button", name="Cancel").click()
    assert page.locator("select[name=permissions-app]").input_value() == APP
    assert rule.locator("input[name=clause-attribute]").input_value() == "country"

    # Test as rls-fr: the rules on screen, not yet saved.
    page.select_option("select[name=preview-user]", "rls-fr")
    count = page.locator("[data-testid=preview-count]")
    count.filter(has_text="rls-fr sees 2 of 5 rows of sales").wait_for()
    preview = page.locator("[data-testid=permission-preview]")
    assert "Decided by rule 1." in preview.inner_text()
    assert "country is France" in preview.inner_text()
    assert sorted(preview.locator("td:nth-child(2)").all_inner_texts()) == ["Lyon", "Paris"]

    # Rule 2: managers see everything; rls-boss (Italy, a manager) then sees all 5.
    page.click("[data-action=add-rule]")
    rule2 = page.locator("[data-rule='1']")
    rule2.locator("select[name=rule-scope]").select_option("USER_GROUP")
    rule2.locator("select[name=rule-group]").select_option("rls-managers")
    rule2.locator("select[name=rule-effect]").select_option("SEE_ALL")
    page.select_option("select[name=preview-user]", "rls-boss")
    count.filter(has_text="rls-boss sees 5 of 5 rows of sales").wait_for()
    assert "Decided by rules 1, 2." in preview.inner_text()
    shot(page, "admin-permissions-desktop")

    # A half-filled rule: the save is refused with the fields named, nothing sent.
    page.click("[data-action=add-rule]")
    rule3 = page.locator("[data-rule='2']")
    rule3.locator("select[name=rule-scope]").select_option("USER_GROUP")
    page.click("[data-action=save-rules]")
    rule3.get_by_text("Pick the group this rule is for.").wait_for()
    rule3.get_by_text("Pick a column.").wait_for()
    assert page.locator("[role=alert]:has-text('field(s) to fix above')").is_visible()
    shot(page, "admin-permissions-errors-desktop")
    assert admin.get(f"/{APP}/permissions").json()["rules"] == []
    rule3.locator("[data-action=remove-rule]").click()

    page.click("[data-action=save-rules]")
    page.get_by_text("Data permissions of RLS shop saved in staging.").wait_for()
    assert admin.get(f"/{APP}/permissions").json()["rules"] == [
        {
            "domain": "sales",
            "scope": "ALL_USERS",
            "effect": "CUSTOM",
            "condition": {"column": "country", "operator": "eq", "value": "{{ user.attributes.country }}"},
        },
        {"domain": "sales", "scope": "USER_GROUP", "group": "rls-managers", "effect": "SEE_ALL"},
    ]
    # Saved in staging only: production still serves every row until a release.
    assert _rows(stack, "rls-fr") == ["Lyon", "Madrid", "Paris", "Roma", "Sevilla"]
    page.click("[data-action=release]")
    page.locator("[data-action=confirm-release]:enabled").click()
    page.get_by_text("Released: viewers now get these rules.").wait_for()
    assert _rows(stack, "rls-fr") == ["Lyon", "Paris"]
    assert _rows(stack, "rls-boss") == ["Lyon", "Madrid", "Paris", "Roma", "Sevilla"]

    # The saved rules come back in the forms after a reload.
    page.reload()
    page.locator("[data-rule='1'] select[name=rule-group]").wait_for()
    assert page.locator("[data-rule='0'] input[name=clause-attribute]").input_value() == "country"
    assert page.locator("[data-action=save-rules]").is_disabled()
    assert errors == []
    context.close()


def test_the_permissions_screen_on_a_phone(stack: str, browser: Any) -> None:
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    phone = context.new_page()
    errors: list[str] = []
    phone.on("pageerror", lambda e: errors.append(str(e)))
    admin = api(stack)
    if admin.get(f"/small-apps/{APP}").status_code == 404:
        _setup(stack)
    login(phone, stack, "admin", ADMIN_PASSWORD)
    phone.goto(f"{stack}/settings/permissions?app={APP}")
    phone.locator("[data-testid=permission-preview]").wait_for()
    if phone.locator("[data-rule='0']").count() == 0:
        phone.click("[data-action=add-rule]")
        phone.locator("[data-rule='0'] select[name=clause-column]").select_option("country")
        phone.locator("[data-rule='0'] input[name=clause-attribute]").fill("country")
    phone.select_option("select[name=preview-user]", "rls-fr")
    phone.locator("[data-testid=preview-count]").filter(has_text="rls-fr sees 2 of 5").wait_for()
    no_horizontal_overflow(phone)
    shot(phone, "admin-permissions-phone")
    assert errors == []
    context.close()


def test_rules_saved_meanwhile_by_someone_else_are_a_conflict_not_overwritten(stack: str, browser: Any) -> None:
    admin = api(stack)
    if admin.get(f"/small-apps/{APP}").status_code == 404:
        _setup(stack)
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    login(page, stack, "admin", ADMIN_PASSWORD)
    page.goto(f"{stack}/settings/permissions?app={APP}")
    page.locator("select[name=preview-domain] option[value=sales]").wait_for(state="attached")
    before = len(admin.get(f"/{APP}/permissions").json()["rules"])

    # Another admin saves the rules after this page read them.
    theirs = {"domain": "sales", "scope": "DEFAULT", "effect": "SEE_NOTHING"}
    admin.put(f"/{APP}/permissions", json={"rules": [theirs]}).raise_for_status()

    page.click("[data-action=add-rule]")
    mine = page.locator(f"[data-rule='{before}']")
    mine.locator("select[name=rule-effect]").select_option("SEE_ALL")
    page.click("[data-action=save-rules]")
    box = page.locator("[data-testid=rules-conflict]")
    box.wait_for()
    assert "since you read it" in box.inner_text()
    assert admin.get(f"/{APP}/permissions").json()["rules"] == [theirs]  # theirs kept
    shot(page, "admin-permissions-conflict-desktop")

    # Reload theirs: the forms show their one rule; the page saves over it from now on.
    box.locator("[data-action=reload-theirs]").click()
    page.locator("[data-rule='1']").wait_for(state="detached")
    assert page.locator("[data-rule='0'] select[name=rule-scope]").input_value() == "DEFAULT"
    page.locator("[data-rule='0'] select[name=rule-effect]").select_option("SEE_ALL")
    page.click("[data-action=save-rules]")
    page.get_by_text("Data permissions of RLS shop saved in staging.").wait_for()
    assert admin.get(f"/{APP}/permissions").json()["rules"] == [{**theirs, "effect": "SEE_ALL"}]

    # Overwrite with mine after another conflict: mine stored, the rest of the ETL config kept.
    admin.put(f"/{APP}/permissions", json={"rules": [theirs]}).raise_for_status()
    page.click("[data-action=add-rule]")
    page.locator("[data-rule='1'] select[name=rule-effect]").select_option("SEE_NOTHING")
    page.click("[data-action=save-rules]")
    box.wait_for()
    box.locator("[data-action=overwrite]").click()
    page.get_by_text("Data permissions of RLS shop saved in staging.").wait_for()
    assert box.count() == 0
    assert len(admin.get(f"/{APP}/permissions").json()["rules"]) == 2
    context.close()
