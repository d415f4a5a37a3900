"""Whose run is whose on the Training page: each AppTest is a separate browser session.

A typed name or ``?user=`` in a shared address shows a name and nothing more; the id the
server gave a browser (in the session, and in a signed cookie across reloads) decides who
may change a run; the instructor secret opens everything, and guessing it is throttled.
"""

import pytest
from streamlit.testing.v1 import AppTest

from cvlab.server import access
from cvlab.settings import get_settings
from cvlab.training import runs
from cvlab.ui import identity
from tests.pages.apptest import run_script

PAGE = "pages/training/live_training.py"
QUICK = dict(data="shapes", limit="300", epochs="2", batch="32", aug="none")
SECRET = "correct-horse-battery"


@pytest.fixture(autouse=True)
def no_worker_and_a_fresh_throttle(monkeypatch):
    monkeypatch.setenv("CVLAB_START_WORKER", "never")  # runs stay queued: stopping one ends it at once
    identity.GUESSES.reset()
    yield
    identity.GUESSES.reset()


def rerun(app: AppTest) -> AppTest:
    app.run()
    assert not app.exception, app.exception
    return app


def browser(section: str, name: str = "", **query) -> AppTest:
    """A new browser session on the Training page, with a name typed into the name box."""
    app = run_script(PAGE, timeout=120, section=section, **query)
    if name:
        app.text_input(key="user").input(name)
        rerun(app)
    return app


def alice_starts_a_run() -> tuple[AppTest, runs.RunInfo]:
    alice = browser("New run", "alice", **QUICK)
    alice.button(key="start").click()
    rerun(alice)
    [info] = runs.RunStore().list()
    assert info.owner == "alice" and info.owner_id.startswith("browser:") and info.status == "queued"
    return alice, info


def test_a_shared_address_or_a_typed_name_cannot_stop_someone_elses_run():
    alice, info = alice_starts_a_run()
    mallory = browser("Live", user="alice")  # alice's name in the address
    assert mallory.text_input(key="user").value == ""  # ... fills in nothing
    mallory.text_input(key="user").input("alice")  # and typing it is only a display name
    rerun(mallory)
    assert mallory.button(key="live_stop").disabled
    assert any("only alice (the browser or login that started it)" in c.value for c in mallory.caption)
    forged = mallory.button(key="live_stop")
    forged.proto.disabled = False  # as a hostile client sending a click for the disabled button would
    forged.click()
    rerun(mallory)  # Streamlit discards it; RunStore.request would refuse it too (tests/unit/server/test_access.py)
    assert runs.RunStore().info(info.run_id).status == "queued"

    alice.query_params["section"] = "Live"  # the owner, in her own session, may
    rerun(alice)
    assert not alice.button(key="live_stop").disabled
    alice.button(key="live_stop").click()
    rerun(alice)
    assert runs.RunStore().info(info.run_id).status == "stopped"


def test_a_reload_keeps_the_browser_id_through_its_signed_cookie(monkeypatch):
    alice, info = alice_starts_a_run()
    [script] = [h for h in alice.get("html") if "document.cookie" in h.proto.body]
    key = access.server_key(get_settings())
    signed = access.sign(key, info.owner_id.removeprefix("browser:"))
    assert f"{access.cookie_name(key)}={signed};" in script.proto.body and "SameSite=Strict" in script.proto.body

    monkeypatch.setattr(identity, "_browser_cookies", lambda: {access.cookie_name(key): signed})
    reloaded = browser("Live")
    assert reloaded.text_input(key="user").value == "alice"  # the name of her newest run
    assert not reloaded.button(key="live_stop").disabled
    assert not [h for h in reloaded.get("html") if "document.cookie" in h.proto.body]  # already set

    forged = signed[:-4] + ("0000" if not signed.endswith("0000") else "1111")
    monkeypatch.setattr(identity, "_browser_cookies", lambda: {access.cookie_name(key): forged})
    mallory = browser("Live", "alice")
    assert mallory.button(key="live_stop").disabled  # a cookie the server did not sign is a new browser


def test_the_instructor_may_change_any_run_with_the_secret(monkeypatch):
    monkeypatch.setenv("CVLAB_INSTRUCTOR_SECRET", SECRET)
    _, info = alice_starts_a_run()
    teacher = browser("Live", "teacher")
    assert teacher.button(key="live_stop").disabled
    teacher.text_input(key="instructor_typed").input(SECRET)
    rerun(teacher)
    assert teacher.button(key="instructor_leave")  # the secret box became "Leave instructor mode"
    assert not teacher.button(key="live_stop").disabled
    teacher.button(key="live_stop").click()
    rerun(teacher)
    assert runs.RunStore().info(info.run_id).reason == "stopped by the instructor before it started"
    rerun(teacher)  # the panel drawn with the click still showed a queued run
    teacher.button(key="live_delete").click()
    rerun(teacher)
    assert runs.RunStore().list() == []


def test_wrong_secrets_are_throttled_even_when_the_right_one_follows(monkeypatch):
    monkeypatch.setenv("CVLAB_INSTRUCTOR_SECRET", SECRET)
    _, info = alice_starts_a_run()
    clock = [5000.0]
    monkeypatch.setattr(identity.GUESSES, "clock", lambda: clock[0])
    guesser = browser("Live", "mallory")
    for word in ("password", "123456", "secret"):
        guesser.text_input(key="instructor_typed").input(word)
        rerun(guesser)
        assert any("not the instructor secret" in e.value for e in guesser.error)
    guesser.text_input(key="instructor_typed").input(SECRET)
    rerun(guesser)
    assert any("try again in 5 s" in e.value for e in guesser.error)
    assert guesser.button(key="live_stop").disabled  # the right secret was not even compared
    clock[0] += 5
    guesser.text_input(key="instructor_typed").input(SECRET)
    rerun(guesser)
    assert not guesser.button(key="live_stop").disabled
    assert runs.RunStore().info(info.run_id).status == "queued"


def test_a_students_wrong_guesses_never_lock_the_instructor_out(monkeypatch):
    """Guesses are counted per browser: however many a student makes, from however many sessions, the
    instructor's own browser is let in at once."""
    monkeypatch.setenv("CVLAB_INSTRUCTOR_SECRET", SECRET)
    _, info = alice_starts_a_run()
    for _ in range(30):  # thirty reloads, each a new session of the same browser, or thirty browsers
        mallory = browser("Live", "mallory")
        mallory.text_input(key="instructor_typed").input("guess")
        rerun(mallory)
    teacher = browser("Live", "teacher")
    teacher.text_input(key="instructor_typed").input(SECRET)
    rerun(teacher)
    assert not teacher.button(key="live_stop").disabled and not teacher.error


def test_a_short_instructor_secret_turns_instructor_mode_off(monkeypatch):
    monkeypatch.setenv("CVLAB_INSTRUCTOR_SECRET", "teach")
    teacher = browser("Live", "teacher")
    assert not [t for t in teacher.text_input if t.key == "instructor_typed"]
    assert any("shorter than 16 characters" in c.value for c in teacher.caption)


def test_the_name_shown_cannot_become_markdown():
    alice = browser("New run", "[x](http://evil.example) **b**", **QUICK)
    alice.button(key="start").click()
    rerun(alice)
    watcher = browser("Live", "bob")
    [header] = [m.value for m in watcher.markdown if "owner" in m.value]
    assert r"\[x\]\(http\:" in header and "](http" not in header


def test_with_login_configured_the_login_is_the_identity_and_no_name_box_is_offered(monkeypatch):
    monkeypatch.setattr(identity, "login_configured", lambda: True)
    monkeypatch.setattr(identity, "_login_identity", lambda: None)
    visitor = browser("New run", user="alice", **QUICK)
    assert visitor.button(key="start").disabled and visitor.button(key="login")
    assert any("Log in at the top" in i.value for i in visitor.info)
    with pytest.raises(KeyError):
        visitor.text_input(key="user")  # no name to type: the provider says who this is

    monkeypatch.setattr(identity, "_login_identity",
                        lambda: identity.Identity("login:https://idp.example|1234", "Alice Doe", True))
    alice = browser("New run", **QUICK)
    assert any("Signed in as" in c.value and "Alice Doe" in c.value for c in alice.caption)
    alice.button(key="start").click()
    rerun(alice)
    [info] = runs.RunStore().list()
    assert (info.owner, info.owner_id) == ("Alice Doe", "login:https://idp.example|1234")


def test_the_login_id_is_the_providers_subject_and_issuer(monkeypatch):
    class User(dict):
        is_logged_in = True

    monkeypatch.setattr(identity.st, "user", User(sub="1234", iss="https://idp.example", email="A@x.edu", name="Al"))
    assert identity._login_identity() == identity.Identity("login:https://idp.example|1234", "Al", True)
    monkeypatch.setattr(identity.st, "user", User(email="Alice@X.edu"))  # a provider that gives no subject
    assert identity._login_identity() == identity.Identity("login:alice@x.edu", "Alice@X.edu", True)
    User.is_logged_in = False
    assert identity._login_identity() is None
