"""The README's backup and restore, run against the real Hermes: what the agent learned survives.

The commands come from the README section "Backups and restore", subsection "Any cluster", line by line. Each
`kubectl exec` runs its command directly, with image paths mapped as tests/contract/pod.py maps them
and under the identity the model gives it in the cluster: into the Hermes container as the container's
user (root with the container's capabilities), whose `s6-setuidgid hermes` becomes the image's hermes
user (RenderedPod.hermes_identity); into the helper pod as its runAsUser/runAsGroup with its fsGroup.
The other kubectl lines act on the test's pod: scale to 0 stops it, scale to 1 starts it again on the
restored volume (init containers, the image's boot, the services); `a && b` runs b only when a succeeded
and `mv` runs on the operator's machine, as the shell does. A README line the test does not know fails
the test, so the README cannot drift from what was run. A backup that Hermes reports incomplete (it
still exits 0) must make the README's command fail, and the backup must never write to the container's
/tmp (Hermes stages database copies beside the zip; README "Backups and restore").

The helper pod is not the Deployment, so the runner does not start it: what the kubelet does for it
(its fsGroup on the volume, fsGroupChangePolicy unset: Always) is pod_runner.apply_fs_group, as for the
Hermes pod.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sqlite3
import subprocess
import tempfile
import zipfile
from pathlib import Path

import pytest

from components.hermes_agent import HERMES_HOME, HERMES_UID, IMAGE_HERMES
from tests.contract import fake_models
from tests.contract.model_pod import (AGENT_TURN_SECONDS, GATEWAY_PORT, MODEL_SERVER, PodWithModelServer, answer,
                                      bearer, chat, start)
from tests.contract.pod import IMAGE_ENV, identity
from tests.contract.pod_runner import apply_fs_group
from tests.harness import run_program

pytestmark = pytest.mark.contract

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "### Any cluster: `hermes backup` and `hermes import`"
CONFIG = {"dashboardUsername": "operator", "modelProvider": "custom", "modelDefault": "contract/backup-model",
          "modelBaseUrl": f"{MODEL_SERVER}/v1"}
FACT = "the staging database lives in eu-central-1"
S6_SETUIDGID = "/command/s6-setuidgid"


def readme_blocks() -> list[list[str]]:
    """The ```sh blocks of the backup section, as lists of commands (continuations joined)."""
    text = README.read_text()
    section = text[text.index(SECTION):]
    section = section[:section.index("\n#", len(SECTION))]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    return [[line for line in block.replace("\\\n", " ").splitlines() if line.strip()] for block in blocks]


def backup_commands() -> list[str]:
    return readme_blocks()[0]


def restore_commands() -> list[str]:
    return readme_blocks()[2]


def test_readme_has_exactly_the_blocks_this_test_runs():
    backup, snapshot, restore = readme_blocks()  # backup, EBS snapshot (needs AWS: not run here), restore
    assert len(backup) == 1 and "hermes backup" in backup[0]
    # Hermes stages its database copies beside the zip: on the volume, in the folder backups leave out.
    tokens = shlex.split(backup[0])
    script = tokens[tokens.index("sh") + 2]  # sh -c '<script>'
    assert tokens[tokens.index("sh") + 1] == "-c"
    assert "cd /opt/data/backups && " in script and " -o hermes-backup.zip " in script and "/tmp" not in script
    assert any(line.startswith("aws ec2 create-snapshot") for line in snapshot)
    assert restore[0].endswith("--replicas=0") and restore[-1].startswith("kubectl -n hermes rollout status")
    assert not any(re.search(r"\btar\b|\bcp\b", line) for block in (backup, restore) for line in block)


# --- running README lines ------------------------------------------------------------------------

class CommandFailed(AssertionError):
    """A README command exited non-zero, as the operator's shell would see it; args: argv, stderr."""


class Cluster:
    """What the README's kubectl lines act on: the pod, its volume and the helper pod."""

    def __init__(self, tmp_path: Path, program):
        self.tmp = tmp_path
        self.program = program
        self.cwd = tmp_path / "operator"  # where the operator runs kubectl; hermes-backup.zip lands here
        self.cwd.mkdir()
        self.pod = None
        self.rendered = None
        self.helper = None  # the helper pod's spec (from --overrides), while it exists

    def start_hermes(self, workdir: Path) -> None:
        workdir.mkdir(exist_ok=True)
        self.rendered = PodWithModelServer(self.program, workdir)
        self.pod = start(self.rendered)

    def stop_hermes(self) -> None:
        if self.pod is not None:
            self.pod.stop()
            self.pod = None

    def map_text(self, text: str, tmp: Path) -> str:
        home = str(self.rendered.home)
        # The container's /tmp first: the paths substituted next may themselves be under this machine's /tmp.
        text = re.sub(r"/tmp(?=/|\b)", str(tmp), text)
        text = text.replace(IMAGE_HERMES, str(self.rendered.hermes))
        return re.sub(re.escape(HERMES_HOME) + r"(?=/|\b)", home, text)

    def run(self, argv: list[str], env: dict, stdin=None, stdout=None) -> None:
        result = subprocess.run(argv, env=env, cwd=self.cwd, stdin=stdin, stdout=stdout or subprocess.PIPE,
                                stderr=subprocess.PIPE, timeout=120)
        if result.returncode != 0:
            raise CommandFailed(argv, result.stderr.decode()[-3000:])

    def exec_hermes_container(self, argv: list[str], stdout_path: str | None) -> None:
        """`kubectl exec deploy/hermes -c hermes -- s6-setuidgid hermes ...`: the container's user and env,
        its /tmp; s6-setuidgid switches to hermes (uid, gid and hermes' groups) and keeps the env."""
        assert argv[:2] == [S6_SETUIDGID, "hermes"], argv
        assert self.pod is not None, "exec into Hermes while it is not running"
        container = self.rendered.container("hermes")
        tmp = self.rendered.tmp(container)
        user = [*self.rendered.container_identity(container), *self.rendered.hermes_identity(container)]
        mapped = [self.map_text(part, tmp) for part in argv[2:]]
        with open(self.cwd / stdout_path, "wb") if stdout_path else open(os.devnull, "wb") as out:
            self.run([*user, *mapped], self.rendered.env(container), stdout=out)

    def run_helper(self, overrides: dict) -> None:
        spec = overrides["spec"]
        volume = next(v for v in spec["volumes"] if v["persistentVolumeClaim"]["claimName"] == "hermes-data")
        container = spec["containers"][0]
        mount = next(m for m in container["volumeMounts"] if m["name"] == volume["name"])
        assert mount["mountPath"] == HERMES_HOME
        context = spec["securityContext"]
        assert (context["runAsUser"], context["runAsGroup"], context["fsGroup"]) == (HERMES_UID,) * 3
        apply_fs_group(str(self.rendered.home), context["fsGroup"], context.get("fsGroupChangePolicy", "Always"))
        self.helper = spec

    def exec_helper(self, argv: list[str], stdin_path: str | None) -> None:
        assert self.helper is not None, "exec into the helper pod before it exists"
        tmp = self.tmp / "helper-tmp"  # the helper's /tmp: its image's, world-writable
        tmp.mkdir(exist_ok=True)
        tmp.chmod(0o1777)
        env = {"PATH": f"{self.rendered.hermes.parent}:/usr/bin:/bin",
               **{k: self.map_text(v, tmp) for k, v in IMAGE_ENV.items()}}
        mapped = [self.map_text(part, tmp) for part in argv]
        context = self.helper["securityContext"]
        container = self.helper["containers"][0]
        assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
        user = identity(context["runAsUser"], context["runAsGroup"], [context["runAsGroup"], context["fsGroup"]],
                        no_new_privs=container["securityContext"]["allowPrivilegeEscalation"] is False)
        with open(self.cwd / stdin_path, "rb") if stdin_path else open(os.devnull, "rb") as stdin:
            self.run([*user, *mapped], env, stdin=stdin)


def redirect(tokens: list[str], symbol: str) -> tuple[list[str], str | None]:
    if symbol in tokens:
        at = tokens.index(symbol)
        return tokens[:at], tokens[at + 1]
    return tokens, None


def run_readme_line(cluster: Cluster, line: str, restored_workdir: Path | None = None) -> None:
    """One README line; `a && b` runs b only when a succeeded, as the shell does (CommandFailed stops it)."""
    tokens = shlex.split(line)
    if "&&" in tokens:
        at = tokens.index("&&")
        run_readme_line(cluster, shlex.join(tokens[:at]), restored_workdir)
        run_readme_line(cluster, shlex.join(tokens[at + 1:]), restored_workdir)
        return
    if tokens[0] == "mv":  # on the operator's machine
        [source, target] = tokens[1:]
        (cluster.cwd / source).replace(cluster.cwd / target)
        return
    if line.startswith("IMAGE=$("):
        return  # reads the Deployment's image: the helper pod runs the same Hermes here
    assert tokens[:3] == ["kubectl", "-n", "hermes"], line
    verb = tokens[3]
    if tokens[3:] == ["scale", "deploy/hermes", "--replicas=0"]:
        cluster.stop_hermes()
    elif tokens[3:] == ["scale", "deploy/hermes", "--replicas=1"]:
        cluster.start_hermes(restored_workdir)
    elif verb == "wait" and "--for=delete" in tokens:
        assert cluster.pod is None and any(t.startswith("--timeout=") for t in tokens)
    elif verb == "wait" and "pod/hermes-restore" in tokens:
        assert cluster.helper is not None and any(t.startswith("--timeout=") for t in tokens)
    elif tokens[3:5] == ["run", "hermes-restore"]:
        overrides = next(t for t in tokens if t.startswith("--overrides="))[len("--overrides="):]
        cluster.run_helper(json.loads(overrides.replace("$IMAGE", "hermes-image")))
    elif tokens[3:5] == ["exec", "deploy/hermes"]:
        assert tokens[5:8] == ["-c", "hermes", "--"], line
        argv, out = redirect(tokens[8:], ">")
        cluster.exec_hermes_container(argv, out)
    elif verb == "exec" and "hermes-restore" in tokens:
        at = tokens.index("--")
        argv, stdin = redirect(tokens[at + 1:], "<")
        assert ("-i" in tokens[:at]) == (stdin is not None), line
        cluster.exec_helper(argv, stdin)
    elif tokens[3:6] == ["delete", "pod", "hermes-restore"]:
        cluster.helper = None
    elif tokens[3:6] == ["rollout", "status", "deploy/hermes"]:
        assert cluster.pod is not None  # the runner returned only once every probe answered
    else:
        raise AssertionError(f"the README has a restore step this test does not run: {line}")


# --- the round trip ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def round_trip():
    """Learn a session and a memory, back up live, restore onto another volume, start again."""
    # Not under pytest's basetemp: that is 0700 root (and re-chmodded by every pytest run), and the
    # helper's /tmp is here, which the README's commands reach as UID 10000.
    tmp = Path(tempfile.mkdtemp(prefix="hermes-backup-contract-"))
    tmp.chmod(0o711)
    program = run_program("local", CONFIG, remove=("openrouterApiKey",))
    cluster = Cluster(tmp, program)
    cluster.start_hermes(tmp / "before")
    try:
        api = cluster.pod
        created = api.request("POST", GATEWAY_PORT, "/api/sessions", headers=bearer(program),
                              json={"title": "backup contract"})
        assert created.status == 201, created
        session_id = created.json()["session"]["id"]
        turn = api.request("POST", GATEWAY_PORT, f"/api/sessions/{session_id}/chat", headers=bearer(program),
                           timeout=AGENT_TURN_SECONDS, json={"message": f"remember: {FACT}"})
        assert turn.status == 200, (turn, api.logs())
        assert FACT in (cluster.rendered.home / "memories" / "MEMORY.md").read_text()

        for line in backup_commands():
            run_readme_line(cluster, line)  # while the gateway runs: a live backup

        # Another volume, on which a pod has already started: its init containers wrote config.yaml.
        restored = tmp / "after"
        restored.mkdir()
        fresh = PodWithModelServer(program, restored)
        assert all(r.returncode == 0 for r in fresh.run_init_containers())
        (fresh.home / "stale-from-the-new-volume.txt").write_text("must not survive the restore")
        cluster.rendered = fresh  # the helper pod mounts this volume
        for line in restore_commands():
            run_readme_line(cluster, line, restored_workdir=restored)
        yield {"program": program, "cluster": cluster, "session_id": session_id}
    finally:
        cluster.stop_hermes()
        shutil.rmtree(tmp, ignore_errors=True)


def test_backup_is_a_consistent_sqlite_copy(round_trip):
    with zipfile.ZipFile(round_trip["cluster"].cwd / "hermes-backup.zip") as archive:
        names = set(archive.namelist())
        with tempfile.TemporaryDirectory() as scratch:
            database = archive.extract("state.db", scratch)
            with sqlite3.connect(database) as db:
                assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
                assert db.execute("SELECT count(*) FROM sessions").fetchone()[0] >= 1
    assert {"state.db", "memories/MEMORY.md", "config.yaml"} <= names
    # The snapshot is self-contained: no live WAL/shared-memory sidecar rides along.
    assert not any(n.endswith(("-wal", "-shm")) for n in names), names


def test_restore_replaces_what_the_volume_held(round_trip):
    home = round_trip["cluster"].rendered.home
    assert not (home / "stale-from-the-new-volume.txt").exists()
    assert (home / "config.yaml").exists() and (home / "state.db").exists()


def test_restored_session_is_served_by_the_api(round_trip):
    cluster, program, session_id = round_trip["cluster"], round_trip["program"], round_trip["session_id"]
    messages = cluster.pod.request("GET", GATEWAY_PORT, f"/api/sessions/{session_id}/messages",
                                   headers=bearer(program))
    assert messages.status == 200, messages
    texts = json.dumps(messages.json()["data"])
    assert f"remember: {FACT}" in texts
    listed = cluster.pod.request("GET", GATEWAY_PORT, "/api/sessions", headers=bearer(program))
    assert session_id in listed.body


def test_restored_memory_reaches_the_model(round_trip):
    cluster, program = round_trip["cluster"], round_trip["program"]
    assert answer(chat(cluster.pod, program, "what do you know?")) == fake_models.REPLY
    prompts = [json.dumps(c["body"]["messages"]) for c in cluster.rendered.calls("/chat/completions")]
    assert prompts and all(FACT in p for p in prompts)


# --- a backup never lies ---------------------------------------------------------------------------

def test_a_backup_hermes_reports_incomplete_makes_the_readme_command_fail(round_trip):
    """`hermes backup` exits 0 after "Backup incomplete"; the README's command must not."""
    cluster = round_trip["cluster"]
    good = (cluster.cwd / "hermes-backup.zip").read_bytes()
    unreadable = cluster.rendered.home / "broken.db"  # SQLite's backup API cannot copy it
    unreadable.write_text("not a database")
    os.chown(unreadable, HERMES_UID, HERMES_UID)
    try:
        with pytest.raises(CommandFailed) as failed:
            for line in backup_commands():
                run_readme_line(cluster, line)
    finally:
        unreadable.unlink()
    assert "Backup incomplete" in failed.value.args[1] and "broken.db" in failed.value.args[1]
    assert (cluster.cwd / "hermes-backup.zip").read_bytes() == good  # the last complete backup stays
    assert list((cluster.rendered.home / "backups").iterdir()) == []


def test_a_backup_writes_its_database_copies_on_the_volume_never_in_tmp(round_trip, monkeypatch):
    cluster = round_trip["cluster"]
    read_only_tmp = cluster.tmp / "read-only-tmp"  # the container's /tmp, full or sealed
    read_only_tmp.mkdir(mode=0o555)
    monkeypatch.setattr(cluster.rendered, "tmp", lambda container: read_only_tmp)
    (cluster.cwd / "hermes-backup.zip").unlink()
    for line in backup_commands():
        run_readme_line(cluster, line)
    with zipfile.ZipFile(cluster.cwd / "hermes-backup.zip") as archive:
        assert archive.testzip() is None and "state.db" in archive.namelist()
        assert not any(name.startswith("backups/") for name in archive.namelist())
    assert list((cluster.rendered.home / "backups").iterdir()) == []
