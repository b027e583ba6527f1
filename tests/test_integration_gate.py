"""The integration tests run only when everything a real deployment needs is there, and say why not."""

from __future__ import annotations

from tests.integration import test_automation as integration


def test_without_the_opt_in_nothing_is_deployed(monkeypatch):
    monkeypatch.delenv("HERMES_EKS_INTEGRATION", raising=False)
    monkeypatch.setattr(integration.shutil, "which", lambda tool: f"/usr/bin/{tool}")
    monkeypatch.setenv("AWS_PROFILE", "admin")
    assert integration.missing("dev") == ["HERMES_EKS_INTEGRATION=1 is not set (the explicit opt-in to real deployments)"]


def test_each_missing_prerequisite_is_named(monkeypatch):
    monkeypatch.setenv("HERMES_EKS_INTEGRATION", "1")
    monkeypatch.setattr(integration.shutil, "which", lambda tool: None)
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(integration.Path, "home", lambda: integration.Path("/nonexistent"))
    assert integration.missing("dev") == ["no `pulumi` on PATH", "no `kubectl` on PATH", "no `aws` on PATH",
                                          "no AWS credentials (environment, ~/.aws, or web identity)"]
    assert "no `aws` on PATH" not in integration.missing("local")


def test_with_everything_present_the_aws_test_runs(monkeypatch):
    monkeypatch.setenv("HERMES_EKS_INTEGRATION", "1")
    monkeypatch.setattr(integration.shutil, "which", lambda tool: f"/usr/bin/{tool}")
    monkeypatch.setenv("AWS_PROFILE", "admin")
    assert integration.missing("dev") == []
