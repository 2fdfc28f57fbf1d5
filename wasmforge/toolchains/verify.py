"""Checking that a toolchain image is what its recipe and the lock file say it is.

For a shipped or user recipe: the image exists, its id is the one the lock recorded, its environment
carries the recipe's ``[env]``, and every ``[[verify]]`` command runs (network off, non-root uid)
and prints the pinned version. For a user's prebuilt image, versions are theirs to choose: the
commands must run, and what they print is reported, not judged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from wasmforge.toolchains.lock import LockEntry
from wasmforge.toolchains.probe import ImageProbe, installed_packages
from wasmforge.toolchains.recipe import VerifyCheck

if TYPE_CHECKING:
    import docker

    from wasmforge.toolchains.images import ToolchainSource


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str  # the line that proves it, or why it failed

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


def check_lock(image_id: str, entry: LockEntry | None) -> CheckResult:
    if entry is None:
        return CheckResult("lock", False, "no lock entry for this engine (build it to record one)")
    if entry.image_id != image_id:
        return CheckResult(
            "lock", False, f"image is {image_id[:19]}, the lock recorded {entry.image_id[:19]}"
        )
    return CheckResult("lock", True, f"image id matches ({image_id[:19]})")


def check_env(image_env: Sequence[str], wanted: Mapping[str, str]) -> CheckResult:
    """The image's ENV carries every ``[env]`` value of the recipe."""
    actual = dict(item.split("=", 1) for item in image_env if "=" in item)
    wrong = [
        f"{k}={actual.get(k, '(unset)')} (want {v})"
        for k, v in wanted.items()
        if actual.get(k) != v
    ]
    if wrong:
        return CheckResult("env", False, "; ".join(wrong))
    return CheckResult("env", True, ", ".join(f"{k}={v}" for k, v in wanted.items()) or "none")


def check_pins(packages: Mapping[str, str], pins: Mapping[str, str]) -> CheckResult:
    """Every pinned package is installed at exactly its pinned version."""
    wrong = [
        f"{name} {packages.get(name, 'missing')} (pinned {version})"
        for name, version in pins.items()
        if packages.get(name) != version
    ]
    if wrong:
        return CheckResult("packages", False, "; ".join(wrong))
    return CheckResult("packages", True, f"{len(pins)} pinned packages at their versions")


def run_checks(
    probe: ImageProbe,
    checks: Sequence[VerifyCheck],
    *,
    environment: Mapping[str, str],
    judge_versions: bool,
) -> list[CheckResult]:
    """Run every check command in the probed image; see the module docstring for what passes."""
    results = []
    for check in checks:
        ran = probe.run(check.command, environment)
        lines = [line.strip() for line in ran.output.splitlines() if line.strip()]
        proof = next((line for line in lines if check.expect in line), None)
        if ran.exit_code != 0:
            last = lines[-1] if lines else "no output"
            results.append(CheckResult(check.name, False, f"exit {ran.exit_code}: {last}"))
        elif judge_versions and proof is None:
            seen = lines[0] if lines else "no output"
            results.append(
                CheckResult(check.name, False, f"expected {check.expect!r}, got {seen!r}")
            )
        else:
            results.append(CheckResult(check.name, True, proof or (lines[0] if lines else "ran")))
    return results


def verify_source(
    client: docker.DockerClient, source: ToolchainSource, reference: str, entry: LockEntry | None
) -> list[CheckResult]:
    """Every check for one toolchain, in order; stops early only when there is no image at all."""
    from docker.errors import ImageNotFound

    try:
        image = client.images.get(reference)
    except ImageNotFound:
        how = "pull it" if source.pinned_image else "build it"
        return [
            CheckResult(
                "present",
                False,
                f"{reference} is not on this engine ({how}: "
                f"wasmforge toolchains build {source.kind})",
            )
        ]
    results = [CheckResult("present", True, reference), check_lock(str(image.id), entry)]
    image_env = image.attrs.get("Config", {}).get("Env") or []
    results.append(check_env(image_env, source.env))
    with ImageProbe(client, reference) as probe:  # one container for every check
        if source.recipe is not None and source.recipe.packages:
            results.append(check_pins(installed_packages(probe), source.recipe.packages))
        results.extend(
            run_checks(probe, source.checks, environment=source.env,
                       judge_versions=source.judge_versions)
        )
    return results
