"""`make up` runs every service there is: the Procfile and its settings follow the CLI."""

from pathlib import Path

from newsflow_cli.main import SERVICE_COMMANDS

LOCAL = Path(__file__).resolve().parents[1] / "deploy/local"


def procfile() -> dict[str, str]:
    lines = (LOCAL / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


def test_make_up_starts_every_service():
    assert sorted(procfile()) == sorted(SERVICE_COMMANDS)


def test_each_process_runs_its_own_service():
    for name, command in procfile().items():
        assert command == f"exec newsflow {name}", "exec: honcho's signals reach the service"


def test_local_settings_keep_state_out_of_the_repository_tree():
    settings = dict(
        line.split("=", 1)
        for line in (LOCAL / "local.env").read_text().splitlines()
        if line and not line.startswith("#")
    )
    for name, value in settings.items():
        if name.endswith(("_DIR", "_INBOX")):
            assert value.startswith(("./data/", "./inbox")), f"{name}={value}: git-ignored?"
