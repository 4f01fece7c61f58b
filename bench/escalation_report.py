"""The escalation tables (issue 12) from question-benchmark runs: always-small, always-large and
the cascade, side by side; how often each signal fired, its precision and recall; and, from
the small model's recorded answer confidence, the cascade each low-confidence threshold would
give (modeled: an escalated question gets the always-large run's outcome and Wh, which is what a
cold escalation runs, the runs being deterministic at temperature 0 with a fixed seed).

    .venv/bin/python bench/escalation_report.py CASCADE_RUN_DIR LARGE_RUN_DIR --out FILE.json \
        [--thresholds 0.5,0.6,0.7]

Each RUN_DIR is a `bench/qa_bench.py` run folder (~/.cache/smallagent/bench/qa/runs/...); its
details.json holds each question's record, the cascade's with every model's attempt. Always-small
is the cascade's first attempts (the same model, settings and seed: the run it would have been).
Wh is smallagent's own (Ollama's durations x the CPU power model) for every column, so the three
compare like with like; the proxy's figure for the whole cascade is printed beside it. Only ids
and figures go to --out (the answers stay in the run folders: BIG-bench's canary).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from smallagent.escalation import ESCALATING, SIGNAL_NAMES


def load(run_dir: Path) -> dict[str, dict[str, Any]]:
    """smallagent's record of each question (a run may hold the peers' too)."""
    rows = json.loads((run_dir / "details.json").read_text())
    return {row["id"]: row for row in rows if row.get("agent", "smallagent") == "smallagent"}


def signal_names(attempt: dict[str, Any]) -> list[str]:
    return [signal.split(":", 1)[0] for signal in attempt["signals"]]


def threshold_policies(
    per_question: list[dict[str, Any]], thresholds: list[float]
) -> list[dict[str, Any]]:
    """Each threshold's cascade, modeled from the two runs: escalate when one of the other
    escalating signals fired on the first answer, or its confidence is below the threshold.
    (A request limit, escalate_within, changes the small model's answers themselves: it is
    measured by a cascade run of its own, not modeled here.)"""
    n = len(per_question)
    large_wh = sum(row["large_wh"] for row in per_question) / n
    large_passed = sum(row["large_passed"] for row in per_question)
    print("| escalate below | success | % of always-large | Wh / question | "
          "% of always-large | escalated | precision | recall |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    policies = []
    for threshold in thresholds:
        passed = escalated = rescued = caught = failures = 0
        wh = 0.0
        for row in per_question:
            others = any(name in ESCALATING and name != "low_confidence" for name in row["signals"])
            sure = row["small_confidence"]
            up = others or (sure is not None and sure < threshold)
            wh += row["small_wh"] + (row["large_wh"] if up else 0.0)
            ok = row["large_passed"] if up else row["small_passed"]
            passed += ok
            escalated += up
            rescued += up and ok and not row["small_passed"]
            failures += not row["small_passed"]
            caught += up and not row["small_passed"]
        policy = {
            "threshold": threshold, "success": passed, "questions": n,
            "wh_per_question": wh / n,
            "escalated": escalated, "rescued": rescued, "caught": caught, "failures": failures,
        }  # fmt: skip
        policies.append(policy)
        print(
            f"| {threshold} | {passed}/{n} | "
            f"{passed / max(large_passed, 1):.0%} | {wh / n:.4f} | "
            f"{wh / n / large_wh:.0%} | {escalated} | {rescued}/{escalated} | {caught}/{failures} |"
        )
    return policies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cascade", type=Path)
    parser.add_argument("large", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--thresholds",
        default="0.5,0.6,0.7,0.8,0.9",
        help="low-confidence thresholds to model, comma-separated",
    )
    args = parser.parse_args()
    cascade, large = load(args.cascade), load(args.large)
    ids = [qid for qid in cascade if qid in large]
    per_question = []
    for qid in ids:
        record = cascade[qid]["agent_record"] or {}
        attempts = record.get("attempts") or []
        if not attempts:
            continue  # an error before any attempt was recorded
        small = attempts[0]
        per_question.append(
            {
                "id": qid,
                "kind": cascade[qid]["kind"],
                "small_passed": small["passed"],
                "small_wh": small["wh"],
                "small_confidence": small.get("confidence"),
                "small_requests": small.get("requests", 0),
                "signals": signal_names(small),
                "escalated": small["escalated"],
                "cascade_passed": cascade[qid]["passed"],
                "cascade_wh": sum(attempt["wh"] for attempt in attempts),
                "cascade_proxy_wh": cascade[qid]["wh"],
                "large_passed": large[qid]["passed"],
                "large_wh": (large[qid]["agent_record"] or {}).get("own_wh", 0.0),
            }
        )
    n = len(per_question)

    def rate(key: str) -> str:
        passed = sum(row[key] for row in per_question)
        return f"{passed}/{n}"

    def wh(key: str) -> float:
        return sum(row[key] for row in per_question) / n

    print(f"questions: {n}")
    print("| configuration | success | Wh / question (smallagent's own) |")
    print("|---|---:|---:|")
    for label, passed, energy in (
        ("always 0.5B (the cascade's first attempts)", "small_passed", "small_wh"),
        ("always 1.5B", "large_passed", "large_wh"),
        ("cascade 0.5B → 1.5B", "cascade_passed", "cascade_wh"),
    ):
        print(f"| {label} | {rate(passed)} | {wh(energy):.4f} |")
    print(f"(the cascade by the proxy: {wh('cascade_proxy_wh'):.4f} Wh / question)")
    failures = [row for row in per_question if not row["small_passed"]]
    escalated = [row for row in per_question if row["escalated"]]
    rescued = [row for row in escalated if row["cascade_passed"] and not row["small_passed"]]
    print(
        f"escalated {len(escalated)}/{n}; precision {len(rescued)}/{len(escalated)} "
        f"(escalations that turned a failure into a success); recall "
        f"{sum(row['escalated'] for row in failures)}/{len(failures)} (small-model failures caught)"
    )
    print("| signal | escalates | fired | on a small-model failure | on a success |")
    print("|---|---|---:|---:|---:|")
    signals: dict[str, dict[str, int]] = {}
    for name in SIGNAL_NAMES:
        fired = [row for row in per_question if name in row["signals"]]
        on_failure = sum(not row["small_passed"] for row in fired)
        signals[name] = {"fired": len(fired), "on_failure": on_failure}
        print(
            f"| {name} | {'yes' if name in ESCALATING else 'no'} | {len(fired)} | {on_failure} | "
            f"{len(fired) - on_failure} |"
        )
    policies = threshold_policies(per_question, [float(t) for t in args.thresholds.split(",")])
    if args.out:
        args.out.write_text(
            json.dumps(
                {
                    "cascade_run": args.cascade.name,
                    "large_run": args.large.name,
                    "questions": per_question,
                    "signals": signals,
                    "threshold_policies": policies,
                },
                indent=1,
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
