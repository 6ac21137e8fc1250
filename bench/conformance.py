"""Replay the conformance scenarios (conformance/*.yaml) against a running deployment.

    python -m bench.conformance --url https://loyalty.example.com --key KEY [FILE ...]

Each scenario sets the program up (``PUT /api/v1/program``), then sends its steps
and compares the answers with the expected status and body subset (see
conformance/README.md). Prints one line per step and exits non-zero on any
mismatch. Use a merchant set aside for this: its program settings are changed.
"""

import argparse
import sys
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SCENARIOS = Path(__file__).resolve().parent.parent / "conformance"

# (method, path, body) -> (status, parsed body)
Send = Callable[[str, str, Any], tuple[int, Any]]


@dataclass
class Outcome:
    scenario: str
    steps: int = 0
    failures: list[str] = field(default_factory=list)


def scenario_files(names: Iterable[str] = ()) -> list[Path]:
    chosen = [Path(name) for name in names]
    return chosen or sorted(SCENARIOS.glob("*.yaml"))


def _fill(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        for name, replacement in names.items():
            value = value.replace("{" + name + "}", replacement)
        return value
    if isinstance(value, dict):
        return {key: _fill(item, names) for key, item in value.items()}
    if isinstance(value, list):
        return [_fill(item, names) for item in value]
    return value


def mismatches(expected: Any, actual: Any, where: str = "body") -> list[str]:
    """Where ``actual`` differs from ``expected`` (dicts compared on expected keys only)."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where}: expected an object, got {actual!r}"]
        found = []
        for key, value in expected.items():
            if key not in actual:
                found.append(f"{where}.{key}: missing")
            else:
                found += mismatches(value, actual[key], f"{where}.{key}")
        return found
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{where}: expected {len(expected)} items, got {actual!r}"]
        return [m for i, (e, a) in enumerate(zip(expected, actual, strict=True))
                for m in mismatches(e, a, f"{where}.{i}")]  # fmt: skip
    if expected != actual and str(expected) != str(actual):
        return [f"{where}: expected {expected!r}, got {actual!r}"]
    return []


def _pick(body: Any, dotted: str) -> str:
    for part in dotted.split("."):
        body = body[int(part)] if isinstance(body, list) else body[part]
    return str(body)


def run_scenario(path: Path, send: Send, run: str | None = None) -> Outcome:
    scenario = yaml.safe_load(path.read_text())
    names = {"run": run or uuid.uuid4().hex[:10]}
    outcome = Outcome(scenario=scenario.get("name", path.stem))
    if "program" in scenario:
        status, body = send("PUT", "/api/v1/program", scenario["program"])
        if status != 200:
            outcome.failures.append(f"program setup: {status} {body}")
            return outcome
    for number, step in enumerate(scenario["steps"], 1):
        label = f"{path.stem} #{number} {step.get('name', '')}"
        request = _fill(step["request"], names)
        status, body = send(request["method"], request["path"], request.get("body"))
        outcome.steps += 1
        expect = step.get("expect", {})
        problems = []
        if "status" in expect and status != expect["status"]:
            problems.append(f"status: expected {expect['status']}, got {status}")
        if "body" in expect:
            problems += mismatches(_fill(expect["body"], names), body)
        if problems:
            outcome.failures.append(f"{label}: " + "; ".join(problems) + f" (body: {body})")
            continue
        for name, dotted in (step.get("save") or {}).items():
            names[name] = _pick(body, dotted)
    return outcome


def http_sender(base_url: str, key: str) -> Send:
    from bench.server import call

    def send(method: str, path: str, body: Any) -> tuple[int, Any]:
        return call(base_url.rstrip("/"), method, path, key, body, timeout=60)

    return send


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="the deployment's base URL")
    parser.add_argument("--key", required=True, help="an API key: orders,checkout,manage")
    parser.add_argument("files", nargs="*", help="scenario files (default: all)")
    args = parser.parse_args()
    send = http_sender(args.url, args.key)
    failed = 0
    for path in scenario_files(args.files):
        outcome = run_scenario(path, send)
        mark = "ok  " if not outcome.failures else "FAIL"
        print(f"{mark} {outcome.scenario} ({outcome.steps} steps)")
        for failure in outcome.failures:
            print(f"     {failure}")
        failed += bool(outcome.failures)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
