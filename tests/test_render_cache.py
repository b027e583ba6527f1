"""tests/render_cache.py: a render is reused only when everything that decides it is the same."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

import pytest

import settings
from components.dashboard_login import scrypt_password_hash
from tests import fake_cloud, render_cache
from tests.harness import reveal, run_program

SECRET = "kubernetes:core/v1:Secret"


@dataclass
class Rendered:
    value: list
    error: BaseException | None = None


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(render_cache.DIRECTORY_VARIABLE, str(tmp_path))
    return tmp_path


def counting(result_error=None):
    calls = []

    def render():
        calls.append(1)
        return Rendered([len(calls)], result_error)
    return render, calls


def test_the_same_render_is_reused_as_a_copy_of_its_own(cache):
    render, calls = counting()
    first = render_cache.cached(render, "dev", {"hermes-eks:storageSize": "20"})
    first.value.append("changed by a test")
    second = render_cache.cached(render, "dev", {"hermes-eks:storageSize": "20"})
    assert calls == [1] and second.value == [1]
    assert "1 rendered" in render_cache.summary(cache) and "1 reused" in render_cache.summary(cache)


def test_other_config_renders_again(cache):
    render, calls = counting()
    render_cache.cached(render, "dev", {"hermes-eks:storageSize": "20"})
    render_cache.cached(render, "dev", {"hermes-eks:storageSize": "30"})
    render_cache.cached(render, "prod", {"hermes-eks:storageSize": "20"})
    assert calls == [1, 1, 1]


def test_a_changed_fake_cloud_renders_again(cache, monkeypatch):
    render, calls = counting()
    render_cache.cached(render, "dev")
    monkeypatch.setattr(fake_cloud, "EXISTING_CLUSTERS", ["hermes-dev"])
    render_cache.cached(render, "dev")
    fake_cloud.EXISTING_CLUSTERS.append("other")  # changed in place, not replaced
    render_cache.cached(render, "dev")
    assert calls == [1, 1, 1]


def test_a_changed_program_file_renders_again(cache, monkeypatch):
    render, calls = counting()
    render_cache.cached(render, "dev")
    monkeypatch.setattr(render_cache, "source_digest", lambda: "a mutated settings.py")
    render_cache.cached(render, "dev")
    assert calls == [1, 1]


def test_nothing_is_cached_while_a_program_module_is_patched(cache, monkeypatch):
    render, calls = counting()
    monkeypatch.setattr(settings, "load_settings", lambda *args, **kwargs: None)
    assert render_cache.program_patched()
    render_cache.cached(render, "dev")
    render_cache.cached(render, "dev")
    assert calls == [1, 1]
    monkeypatch.undo()
    assert not render_cache.program_patched()


def test_a_failed_render_is_not_kept(cache):
    render, calls = counting(result_error=ValueError("bad"))
    render_cache.cached(render, "dev")
    render_cache.cached(render, "dev")
    assert calls == [1, 1]


def test_without_a_session_directory_nothing_is_cached(monkeypatch):
    monkeypatch.delenv(render_cache.DIRECTORY_VARIABLE, raising=False)
    render, calls = counting()
    render_cache.cached(render, "dev")
    render_cache.cached(render, "dev")
    assert calls == [1, 1]


def test_a_reused_render_of_the_program_equals_a_fresh_one(cache, monkeypatch):
    stored = run_program("local", {"storageSize": "31Gi"})
    reused = run_program("local", {"storageSize": "31Gi"})
    monkeypatch.delenv(render_cache.DIRECTORY_VARIABLE)
    fresh = run_program("local", {"storageSize": "31Gi"})
    assert "1 rendered" in render_cache.summary(cache) and "1 reused" in render_cache.summary(cache)
    # Registration order is the event loop's, not the program's: compared by URN.
    def by_urn(program):
        return sorted(program.resources, key=lambda r: r.urn)
    assert by_urn(reused) == by_urn(fresh) == by_urn(stored)
    assert reused.outputs == fresh.outputs and reused.invokes == fresh.invokes


def test_other_packages_render_again(cache, monkeypatch):
    render, calls = counting()
    render_cache.cached(render, "dev")
    monkeypatch.setattr(render_cache, "installed_packages", lambda: "the test venv installed again")
    render_cache.cached(render, "dev")
    assert calls == [1, 1]


def test_renders_kept_for_the_next_run_drop_every_other_generation(tmp_path):
    stale = tmp_path / "0123456789abcdef"  # renders of files as they were before an edit
    stale.mkdir()
    (stale / "key.pickle").write_bytes(b"")
    kept = render_cache.kept_directory(tmp_path)
    assert list(tmp_path.iterdir()) == [kept]
    (kept / "key.pickle").write_bytes(b"")
    (kept / "outcomes.log").write_text("rendered 1.000\n")
    # The next session with the same files: the same renders, a fresh count.
    assert render_cache.kept_directory(tmp_path) == kept
    assert (kept / "key.pickle").exists() and not (kept / "outcomes.log").exists()


def test_a_process_output_is_kept_per_script_and_reused(cache):
    runs = []

    def run():
        runs.append(1)
        return f"output {len(runs)}"
    assert render_cache.cached_output(run, "script a") == "output 1"
    assert render_cache.cached_output(run, "script a") == "output 1"
    assert render_cache.cached_output(run, "script b") == "output 2"
    assert runs == [1, 1]


def test_a_failed_process_keeps_no_output(cache):
    def failing():
        raise AssertionError("the process failed")
    with pytest.raises(AssertionError):
        render_cache.cached_output(failing, "script")
    assert render_cache.cached_output(lambda: "ran again", "script") == "ran again"


def test_a_render_leaves_hashlibs_own_scrypt_in_place_and_its_hash_verifies(cache):
    """tests/harness.py computes the dashboard password's scrypt hash once per input within renders;
    tests computing a hash themselves (test_hermes_agent.py) get hashlib's real scrypt."""
    real = hashlib.scrypt
    program = run_program("local", {"storageSize": "31Gi"})
    assert hashlib.scrypt is real and type(real).__name__ == "builtin_function_or_method"
    password = reveal(program.outputs["dashboard_password"])
    salt = program.one("random:index/randomBytes:RandomBytes", "hermes-dashboard-password-salt").outputs["base64"]
    stored = reveal(program.one(SECRET).inputs["stringData"])
    assert stored["HERMES_DASHBOARD_BASIC_AUTH_PASSWORD_HASH"] == scrypt_password_hash(password, base64.b64decode(salt))


def test_a_reused_render_keeps_the_warnings_its_preview_would_show(cache):
    """pulumi.warn runs only while the program runs: a render taken from the cache must carry them."""
    from tests.test_messaging import BASE, TELEGRAM_TOKEN  # noqa: PLC0415 - one render of that module's

    config = {**BASE, "messaging": {"telegram": {"botToken": {"secure": TELEGRAM_TOKEN}, "allowAllUsers": True}}}
    stored, reused = run_program("local", config), run_program("local", config)
    assert "1 rendered" in render_cache.summary(cache) and "1 reused" in render_cache.summary(cache)
    assert [w for w in stored.warnings if "allowAllUsers" in w] != []
    assert reused.warnings == stored.warnings
