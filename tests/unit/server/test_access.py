"""Signed browser ids, the instructor secret and its throttle, and who may change a run."""

import json
import os
import pwd
import stat
import threading

import pytest

from cvlab.server import access
from cvlab.errors import InvalidInput
from cvlab.settings import Settings
from cvlab.training import runs
from cvlab.training.config import TrainConfig


def settings(tmp_path, **env) -> Settings:
    return Settings.from_env({"CVLAB_HOME": str(tmp_path / "home"), **env})


def test_the_signing_key_is_made_once_private_and_shared_by_threads(tmp_path):
    keys = []
    threads = [threading.Thread(target=lambda: keys.append(access.server_key(settings(tmp_path)))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(keys)) == 1 and len(keys[0]) == access.KEY_BYTES
    path = settings(tmp_path).identity_key_file
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["identity.key"]  # no temporary file left behind


def test_a_signed_id_verifies_only_with_its_key_and_unaltered():
    key, other = b"k" * 32, b"o" * 32
    browser = access.new_browser_id()
    signed = access.sign(key, browser)
    assert access.verify(key, signed) == browser
    assert access.verify(other, signed) is None  # another server's cookie
    value, signature = signed.rsplit(".", 1)
    assert access.verify(key, f"{value}.{'0' * len(signature)}") is None
    assert access.verify(key, f"{access.new_browser_id()}.{signature}") is None  # someone else's id, my signature
    assert access.verify(key, value) is None  # no signature at all
    for hostile in ("", None, "x" * 5000 + "." + signature, "../../etc." + signature, "alice"):
        assert access.verify(key, hostile) is None
    assert access.cookie_name(key) != access.cookie_name(other)


def test_the_secret_is_compared_with_compare_digest(monkeypatch):
    seen = []
    real = access.hmac.compare_digest
    monkeypatch.setattr(access.hmac, "compare_digest", lambda a, b: seen.append((a, b)) or real(a, b))
    long = "a-long-s3cret-ü-of-the-lab"
    assert access.secret_matches(long, long)  # non-ASCII works: compared as bytes
    assert not access.secret_matches("a-long-s3cret", long)
    assert seen == [(long.encode(), long.encode()), (b"a-long-s3cret", long.encode())]
    assert not access.secret_matches("", "")  # no secret configured: nobody is the instructor


def test_a_secret_too_short_for_a_shared_server_matches_nothing():
    assert not access.secret_matches("teach", "teach")
    assert "shorter than 16 characters" in access.weak_secret_problem("teach")
    assert access.weak_secret_problem("x" * 16) == ""


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_wrong_guesses_wait_longer_and_longer_then_are_forgotten():
    clock = Clock()
    throttle = access.GuessThrottle(free=3, first_wait_s=5, max_wait_s=40, forget_after_s=3600, clock=clock)
    tried = []
    wrong = lambda: tried.append(1) or False
    for _ in range(3):
        assert throttle.attempt(["me"], wrong) is False
    assert throttle.wait_s("me") == 5
    with pytest.raises(access.TooManyGuesses, match=r"try again in 5 s \(at \d\d:\d\d:\d\d\)"):
        throttle.attempt(["me"], lambda: True)  # locked: even the right secret is not looked at
    assert len(tried) == 3
    waits = []
    for _ in range(4):
        clock.now += throttle.wait_s("me")
        throttle.attempt(["me"], wrong)
        waits.append(throttle.wait_s("me"))
    assert waits == [10, 20, 40, 40]  # doubling, up to the cap
    assert throttle.wait_s("someone else") == 0
    clock.now += 3601
    assert throttle.wait_s("me") == 0 and throttle.attempt(["me"], lambda: True)


def test_the_server_wide_count_stops_guesses_from_many_sessions():
    throttle = access.GuessThrottle(free=20, first_wait_s=5, max_wait_s=900, forget_after_s=3600, clock=Clock())
    for session in range(20):  # a new session for every guess, as a script reloading the page would
        assert not throttle.attempt([f"session-{session}", "server"], lambda: False)
    with pytest.raises(access.TooManyGuesses):
        throttle.attempt(["a fresh session", "server"], lambda: True)


def test_the_instructor_secret_comes_from_the_secrets_file_before_the_environment(tmp_path):
    toml = tmp_path / "secrets.toml"
    toml.write_text('cvlab_instructor_secret = "from-file"\n')
    env = settings(tmp_path, CVLAB_INSTRUCTOR_SECRET="from-env")
    assert access.configured_instructor_secret(env, search=[tmp_path / "missing.toml", toml]) == "from-file"
    assert access.configured_instructor_secret(env, search=[tmp_path / "missing.toml"]) == "from-env"
    (tmp_path / "broken.toml").write_text("not = [toml")
    assert access.configured_instructor_secret(settings(tmp_path), search=[tmp_path / "broken.toml"]) == ""


def test_the_account_comes_from_the_password_database_not_the_environment(monkeypatch):
    monkeypatch.setenv("USER", "alice")
    monkeypatch.setenv("LOGNAME", "alice")
    assert access.account_id() == f"os:{pwd.getpwuid(os.getuid()).pw_name}"


def test_a_typed_name_is_not_an_identity(tmp_path):
    store = runs.RunStore(tmp_path)
    alices = store.create(TrainConfig(), "alice", owner_id="browser:A").name
    with pytest.raises(runs.NotAllowed, match="only its owner"):
        store.request(alices, "alice", stop=True)  # her name is not her id
    with pytest.raises(runs.NotAllowed):
        store.delete(alices, "browser:B")
    assert store.info(alices).owner_id == "browser:A" and store.info(alices).owner == "alice"
    store.request(alices, "browser:A", stop=True)
    assert store.info(alices).status == "stopped" and store.info(alices).reason == "stopped by alice before it started"
    store.delete(alices, "browser:A")


def test_a_run_from_before_ids_is_the_instructors_to_change(tmp_path):
    store = runs.RunStore(tmp_path)
    old = store.create(TrainConfig(), "alice")
    record = json.loads((old / "run.json").read_text())
    del record["owner_id"]
    (old / "run.json").write_text(json.dumps(record))
    info = store.info(old.name)
    assert info.owner == "alice" and info.owner_id == ""
    for asker in ("alice", "", access.account_id()):
        with pytest.raises(runs.NotAllowed, match="before runs recorded who started them"):
            store.request(old.name, asker, stop=True)
    store.request(old.name, "browser:anyone", instructor=True, stop=True)
    assert store.info(old.name).reason == "stopped by the instructor before it started"


def test_runs_made_by_code_on_the_server_belong_to_its_account(tmp_path):
    store = runs.RunStore(tmp_path)
    run = store.create(TrainConfig(), "bench")
    assert store.info(run.name).owner_id == access.account_id()
    assert not runs.may_change(store.info(run.name), "", False)
    with pytest.raises(InvalidInput):
        store.delete(run.name, access.account_id())  # still queued: stop it first
