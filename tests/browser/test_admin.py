"""The admin screens in Chromium: users, groups, the privilege matrix, apps, and the 403 page
a non-admin gets. Each screen is shot at desktop (1280 by 800) and phone (390 by 844) width."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.browser.test_stories import login
from tests.helpers.browser import ADMIN_PASSWORD, DEMO_PASSWORD, record_errors, shot

pytestmark = pytest.mark.browser

DEMO_APP = "demo-sales"
PHONE = {"width": 390, "height": 844}


def api(stack: str, username: str = "admin", password: str = ADMIN_PASSWORD) -> httpx.Client:
    token = httpx.post(f"{stack}/_api/login", json={"username": username, "password": password}).json()["token"]
    return httpx.Client(base_url=f"{stack}/_api", headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    page = record_errors(context.new_page())
    yield page
    context.close()


def no_horizontal_overflow(page: Any) -> None:
    width = page.viewport_size["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width, "the page scrolls sideways"


def admin_requests(page: Any) -> list[str]:
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url) if "/_api/users" in r.url or "/_api/groups" in r.url else None)
    return seen


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_a_viewer_opening_an_admin_page_sees_the_403_page(stack: str, page: Any, phone: Any, device: str) -> None:
    page = page if device == "desktop" else phone
    login(page, stack, "demo-viewer", DEMO_PASSWORD)
    page.get_by_text("Demo — Sales").wait_for()
    assert page.locator("a:has-text('Settings')").count() == 0  # no admin link in the top bar
    asked = admin_requests(page)
    for path in ("/settings", "/settings/users", "/settings/privileges?user=admin", "/settings/instance"):
        page.goto(stack + path)
        page.locator("[data-testid=forbidden]").wait_for()
        assert "You need to be an administrator" in page.locator("[data-testid=forbidden] h1").inner_text()
        assert page.locator("[data-table], form, textarea").count() == 0
    if device == "phone":
        no_horizontal_overflow(page)
    shot(page, f"admin-403-{device}")
    page.click("[data-testid=forbidden] a:has-text('Back to your apps')")
    page.get_by_text("Demo — Sales").wait_for()
    assert asked == []  # the admin API was not even asked
    assert page.console_errors == []


def test_an_admin_creates_a_user_grants_view_in_the_matrix_and_the_user_sees_the_app(stack: str, page: Any) -> None:
    login(page, stack, "admin", ADMIN_PASSWORD)
    page.click("a:has-text('Settings')")
    page.wait_for_selector("[data-user=demo-viewer]")
    page.click("[data-action=new-user]")
    form = page.locator("[data-form=user]")
    form.locator("input[name=username]").fill("carla")
    form.locator("input[name=password]").fill("carla-password-1")
    form.locator("[data-action=add-attribute]").click()
    form.locator("input[name=attribute-key]").fill("country")
    form.locator("input[name=attribute-value]").fill("France")
    shot(page, "admin-user-new-desktop")
    form.locator("button[type=submit]").click()
    row = page.locator("[data-user=carla]")
    row.wait_for()
    assert "Active" in row.inner_text()
    assert page.locator("[role=status]").inner_text() == "User carla created."

    # The matrix: nothing granted yet; ticking view on the demo app, then saving.
    row.locator("a:has-text('Privileges')").click()
    matrix = page.locator("[data-table=privileges][data-subject='user:carla']")
    matrix.wait_for()
    view = matrix.locator(f"[data-app={DEMO_APP}] input[data-privilege=view]")
    assert not view.is_checked()
    save = page.locator("[data-action=save-privileges]")
    assert save.is_disabled()
    view.check()
    assert save.is_enabled()
    shot(page, "admin-privileges-desktop")
    save.click()
    page.get_by_text("Privileges of carla saved.").wait_for()
    assert save.is_disabled()
    carla = api(stack).get("/users/carla").json()
    assert carla["privileges"] == {DEMO_APP: ["view"]}
    assert carla["attributes"] == {"country": "France"}

    page.click("button:has-text('Sign out')")
    login(page, stack, "carla", "carla-password-1")
    page.get_by_text("Demo — Sales").wait_for()
    assert page.locator("a:has-text('Settings')").count() == 0
    assert page.console_errors == []


def test_contribute_includes_the_privileges_below_it_in_the_matrix(stack: str, page: Any) -> None:
    admin = api(stack)
    admin.post("/groups", json={"name": "matrix-team"}).raise_for_status()
    login(page, stack, "admin", ADMIN_PASSWORD)
    page.goto(f"{stack}/settings/privileges?group=matrix-team")
    row = page.locator(f"[data-table=privileges] [data-app={DEMO_APP}]")
    row.wait_for()
    row.locator("input[data-privilege=contribute]").check()
    assert row.locator("input[data-privilege=view]").is_checked()
    assert row.locator("input[data-privilege=view]").is_disabled()
    page.click("[data-action=save-privileges]")
    page.get_by_text("Privileges of matrix-team saved.").wait_for()
    assert admin.get("/groups/matrix-team").json()["privileges"] == {DEMO_APP: ["contribute"]}
    row.locator("input[data-privilege=contribute]").uncheck()
    assert row.locator("input[data-privilege=validate]").is_checked()
    page.click("[data-action=save-privileges]")
    page.get_by_text("Privileges of matrix-team saved.").wait_for()
    assert admin.get("/groups/matrix-team").json()["privileges"] == {DEMO_APP: ["validate"]}


def test_an_admin_edits_resets_and_deletes_a_user_but_never_touches_a_super_admin(stack: str, page: Any) -> None:
    root = api(stack)
    ops_admin = {"username": "ops-admin", "password": "ops-admin-pw-1", "role": "ADMIN"}
    root.post("/users", json=ops_admin).raise_for_status()
    root.post("/users", json={"username": "dora", "password": "dora-password-1"}).raise_for_status()
    root.post("/groups", json={"name": "editors"}).raise_for_status()
    login(page, stack, "ops-admin", "ops-admin-pw-1")
    page.goto(stack + "/settings/users")
    page.wait_for_selector("[data-user=dora]")

    # The super admin's row offers nothing to an admin; an admin's form offers no super admin role.
    super_row = page.locator("[data-user=admin]")
    assert super_row.locator("button").count() == 0
    assert "Only a super admin" in super_row.inner_text()
    page.fill("input[name=user-search]", "dor")
    assert page.locator("[data-table=users] tbody tr[data-user]").count() == 1
    page.locator("[data-user=dora] [data-action=edit]").click()
    form = page.locator("[data-form=user]")
    options = form.locator("select[name=role] option").all_inner_texts()
    assert options == ["User", "Admin"]
    form.locator("label.chip:has-text('editors') input").check()
    form.locator("input[name=expires]").fill("2031-03-31")
    form.locator("input[name=disabled]").check()
    form.locator("button[type=submit]").click()
    page.get_by_text("User dora saved.").wait_for()
    dora = root.get("/users/dora").json()
    assert dora["groups"] == ["editors"]
    assert dora["disabled"] is True
    assert dora["expirationDate"].startswith("2031-03-31T23:59:59")
    assert "Disabled" in page.locator("[data-user=dora]").inner_text()
    root.patch("/users/dora", json={"disabled": False}).raise_for_status()

    # Reset: a generated password, shown once, that works; the old one no longer does.
    page.reload()
    page.fill("input[name=user-search]", "dora")
    page.locator("[data-user=dora] [data-action=reset-password]").click()
    page.locator("dialog[open] [data-action=confirm]").click()
    shown = page.locator("[data-testid=new-password] .password-value")
    shown.wait_for()
    password = shown.inner_text().strip()
    assert len(password) == 16
    signs_in = lambda pw: httpx.post(f"{stack}/_api/login", json={"username": "dora", "password": pw}).status_code  # noqa: E731
    assert signs_in(password) == 200
    assert signs_in("dora-password-1") == 401

    # Delete, after a confirmation that names the user; cancelling keeps them.
    page.locator("[data-user=dora] [data-action=delete]").click()
    dialog = page.locator("dialog[open]")
    assert "Delete the user dora?" in dialog.inner_text()
    dialog.locator("button:has-text('Cancel')").click()
    assert root.get("/users/dora").status_code == 200
    page.locator("[data-user=dora] [data-action=delete]").click()
    page.locator("dialog[open] [data-action=confirm]").click()
    page.get_by_text("User dora deleted.").wait_for()
    assert root.get("/users/dora").status_code == 404
    assert page.console_errors == []


def test_an_admin_sets_a_groups_members(stack: str, page: Any) -> None:
    root = api(stack)
    root.post("/users", json={"username": "gil", "password": "gil-password-1"}).raise_for_status()
    login(page, stack, "admin", ADMIN_PASSWORD)
    page.goto(stack + "/settings/groups")
    page.click("[data-action=new-group]")
    form = page.locator("[data-form=group]")
    form.locator("input[name=group-name]").fill("field-sales")
    form.locator("[data-member=gil] input").check()
    form.locator("[data-member=demo-viewer] input").check()
    shot(page, "admin-group-form-desktop")
    form.locator("button[type=submit]").click()
    page.get_by_text("Group field-sales created.").wait_for()
    assert root.get("/groups/field-sales").json()["members"] == ["demo-viewer", "gil"]
    page.locator("[data-group=field-sales] [data-action=edit]").click()
    page.locator("[data-form=group] [data-member=demo-viewer] input").uncheck()
    page.locator("[data-form=group] button[type=submit]").click()
    page.get_by_text("Group field-sales saved.").wait_for()
    assert root.get("/groups/field-sales").json()["members"] == ["gil"]
    assert "gil" in page.locator("[data-group=field-sales]").inner_text()


def test_an_admin_renames_describes_and_deletes_an_app_after_typing_its_id(stack: str, page: Any) -> None:
    root = api(stack)
    root.post("/small-apps", json={"id": "scratch-app", "name": "Scratch"}).raise_for_status()
    login(page, stack, "admin", ADMIN_PASSWORD)
    page.goto(stack + "/settings/apps")
    card = page.locator("[data-app=scratch-app]")
    card.locator("[data-action=edit]").click()
    card.locator("input[name=app-name]").fill("Scratch pad")
    card.locator("textarea[name=app-description]").fill("Trials before a real app.")
    card.locator("button[type=submit]").click()
    page.get_by_text("App Scratch pad saved.").wait_for()
    assert root.get("/small-apps/scratch-app").json()["description"] == "Trials before a real app."

    card.locator("[data-action=delete]").click()
    dialog = page.locator("dialog[open]")
    assert "Scratch pad (scratch-app)" in dialog.inner_text()
    confirm = dialog.locator("[data-action=confirm]")
    assert confirm.inner_text() == "Delete Scratch pad"
    assert confirm.is_disabled()
    dialog.locator("input[name=confirm-text]").fill("scratch")
    assert confirm.is_disabled()
    dialog.locator("input[name=confirm-text]").fill("scratch-app")
    shot(page, "admin-app-delete-desktop")
    confirm.click()
    page.get_by_text("App Scratch pad deleted.").wait_for()
    assert root.get("/small-apps/scratch-app").status_code == 404
    assert page.locator(f"[data-app={DEMO_APP}]").count() == 1  # the others stay


SCREENS = {
    "users": "[data-table=users] [data-user=demo-viewer]",
    "groups": "[data-table=groups]",
    "privileges?user=demo-builder": "[data-table=privileges] [data-app]",
    "apps": f"[data-app={DEMO_APP}]",
    "permissions": "[data-testid=permission-preview]",
    "instance": "[data-provider=local]",
    "instance?view=cson": "textarea[name=instance-settings]",
}


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_each_admin_screen_fits_its_screen(stack: str, page: Any, phone: Any, device: str) -> None:
    page = page if device == "desktop" else phone
    login(page, stack, "admin", ADMIN_PASSWORD)
    for path, ready in SCREENS.items():
        page.goto(f"{stack}/settings/{path}")
        page.wait_for_selector(ready)
        if path == "instance?view=cson":
            page.wait_for_function("() => document.querySelector('textarea[name=instance-settings]').value.length > 0")
        no_horizontal_overflow(page)
        shot(page, f"admin-{path.replace('?view=', '-').split('?')[0]}-{device}")
    page.goto(f"{stack}/settings/users")
    page.locator("[data-user=demo-viewer] [data-action=edit]").click()
    page.locator("[data-form=user]").wait_for()
    no_horizontal_overflow(page)
    shot(page, f"admin-user-edit-{device}")
    assert page.console_errors == []
