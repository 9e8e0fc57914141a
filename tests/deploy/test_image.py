"""What deploy/ promises that can be checked without building the image: a slim base, a
non-root user, one image for every Tether service, a wheel that carries everything Tether reads
at run time, and no secret written into the compose file."""

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

from tests.fixtures.topology import COMPOSE, DEPLOY, ROOT, compose_file, tether_services
from tether.settings_checks import unknown_variables

DOCKERFILE = DEPLOY / "Dockerfile"


def _instructions(stage: str) -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (keyword, arguments), continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", stage)
    lines = [line.strip() for line in joined.splitlines()]
    return [
        (word.upper(), rest.strip())
        for word, _, rest in (line.partition(" ") for line in lines if line and line[0] != "#")
    ]


def _final_stage() -> list[tuple[str, str]]:
    instructions = _instructions(DOCKERFILE.read_text())
    last_from = max(i for i, (word, _) in enumerate(instructions) if word == "FROM")
    return instructions[last_from:]


def test_the_image_runs_tether_on_a_slim_python_as_a_fixed_non_root_user() -> None:
    final = _final_stage()
    assert final[0] == ("FROM", "python:3.11-slim")
    users = [rest for word, rest in final if word == "USER"]
    assert users
    assert re.fullmatch(r"[1-9]\d{3,}(:[1-9]\d{3,})?", users[-1]), users
    assert ("ENTRYPOINT", '["tether"]') in final
    assert any(word == "HEALTHCHECK" and "tether" in rest for word, rest in final)
    installs = [rest for word, rest in final if word == "RUN" and "pip install" in rest]
    assert installs
    assert all(".whl" in rest and "[dev]" not in rest for rest in installs)


def test_the_build_context_leaves_out_local_data_and_keys() -> None:
    ignored = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    patterns = [line for line in ignored if line and not line.startswith("#")]
    # Everything is left out, then only what the wheel is built from let back in.
    assert patterns[0] == "*"
    assert {p for p in patterns if p.startswith("!")} == {"!pyproject.toml", "!README.md", "!src/"}


def test_every_tether_service_runs_the_one_image() -> None:
    services = tether_services(compose_file())
    assert set(services) == {"migrate", "web-1", "web-2", "worker-1", "worker-2"}
    assert len({s["image"] for s in services.values()}) == 1
    for service in services.values():
        assert service["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
        assert service["env_file"] == ".env"


def test_servers_and_workers_start_only_after_the_one_shot_migrate_succeeded() -> None:
    services = tether_services(compose_file())
    assert services["migrate"]["command"] == ["migrate"]
    assert services["migrate"]["restart"] == "no"
    for name in ("web-1", "web-2", "worker-1", "worker-2"):
        after: dict[str, Any] = services[name]["depends_on"]
        assert after["migrate"] == {"condition": "service_completed_successfully"}, name
        assert services[name]["restart"] == "unless-stopped"


def test_rabbitmq_is_an_alternative_broker_behind_a_profile() -> None:
    services = compose_file()["services"]
    assert services["rabbitmq"]["profiles"] == ["rabbitmq"]
    assert "profiles" not in services["redis"]
    assert "profiles" not in services["postgres"]


def test_the_compose_file_holds_no_secret_only_references_to_the_env_file() -> None:
    text = COMPOSE.read_text()
    assert "TETHER_SECRET_KEYS" not in text
    for service in compose_file()["services"].values():
        for name, value in (service.get("environment") or {}).items():
            if "PASS" in name or "SECRET" in name:
                assert str(value).startswith("${"), name
    assert ":${POSTGRES_PASSWORD" in text


def test_the_env_file_example_names_only_settings_tether_knows() -> None:
    names = re.findall(r"^#?\s*(TETHER_\w+)=", (DEPLOY / ".env.example").read_text(), re.M)
    assert "TETHER_SECRET_KEYS" in names
    assert unknown_variables(dict.fromkeys(names, "")) == []
    assert "deploy/.env" in (ROOT / ".gitignore").read_text().splitlines()


def test_the_wheel_the_image_installs_carries_templates_static_files_and_migrations(
    tmp_path: Path,
) -> None:
    # Built as the Dockerfile builds it: from what the build context lets in, nothing more.
    context = tmp_path / "context"
    shutil.copytree(ROOT / "src", context / "src", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, context / name)
    wheels = tmp_path / "wheels"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(context)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = wheels.glob("tether-*.whl")
    inside = set(zipfile.ZipFile(wheel).namelist())
    package = ROOT / "src" / "tether"
    needed = {
        f"tether/{path.relative_to(package)}"
        for path in package.rglob("*")
        if path.is_file()
        and "__pycache__" not in path.parts
        and (path.suffix != ".py" or "migrations" in path.parts)
    }
    assert any("/templates/" in n for n in needed)
    assert any("/static/" in n for n in needed)
    assert any(n.startswith("tether/migrations/versions/") for n in needed)
    assert needed - inside == set()
