"""Regenerate the README's benchmark table from bench/results/run.json (scale.json, peer.json).

`make bench` and `make bench-scale` run this after measuring; `python bench/report.py` redoes it
from the last results. Only the text between the two markers in README.md is replaced; the prose
around it (what each figure means, why a goal is not met) is written by hand from the same run.
Each row says its goal (issue 20) and whether this run met it.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
README = ROOT / "README.md"
START, END = "<!-- bench-table:start -->", "<!-- bench-table:end -->"


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS / name
    return json.loads(path.read_text("utf-8")) if path.exists() else None


def _verdict(value: float | None, goal: float, higher_is_better: bool = True) -> str:
    if value is None:
        return "not measured"
    met = value >= goal if higher_is_better else value <= goal
    return "met" if met else "**not met**"


def rows(
    run: dict[str, Any] | None,
    scale: dict[str, Any] | None,
    peer: dict[str, Any] | None = None,
) -> list[list[str]]:
    out: list[list[str]] = []
    if run:
        w, e, p = run.get("webhook"), run.get("email"), run.get("pipeline")
        x, s = run.get("end_to_end"), run.get("screening")
        c, d = run.get("encryption"), run.get("desk")
        if w:
            out.append(
                [
                    "signed SMS webhooks, 16 connections",
                    f"{w['app']['per_s']:,}/s, p99 {w['app']['p99_ms']} ms",
                    f"bare Starlette: {w['bare']['per_s']:,}/s",
                    f"{w['ratio']}×",
                    "",
                    "",
                ]
            )
            out.append(
                [
                    "the same, vs a bare endpoint that also enqueues",
                    f"{w['app']['per_s']:,}/s",
                    f"bare Starlette + RQ enqueue: {w['bare_queue']['per_s']:,}/s",
                    f"{w['ratio_vs_bare_queue']}×",
                    "≥ 0.7×",
                    _verdict(w["ratio_vs_bare_queue"], 0.7),
                ]
            )
            steady = w["app_at_200_per_s"]
            out.append(
                [
                    "webhooks at a steady 200/s",
                    f"p50 {steady['p50_ms']} ms, p99 {steady['p99_ms']} ms",
                    "",
                    "",
                    "p99 < 50 ms",
                    _verdict(steady["p99_ms"], 50, higher_is_better=False),
                ]
            )
        if e:
            out.append(
                [
                    "email accepted over SMTP",
                    f"{e['intake']['per_s']:,}/s",
                    f"aiosmtpd handler that discards: {e['bare']['per_s']:,}/s",
                    f"{e['ratio']}×",
                    "≥ 0.5×",
                    _verdict(e["ratio"], 0.5),
                ]
            )
            if "bare_queue" in e:
                out.append(
                    [
                        "the same, vs an aiosmtpd handler that enqueues",
                        f"{e['intake']['per_s']:,}/s",
                        f"aiosmtpd + RQ enqueue: {e['bare_queue']['per_s']:,}/s",
                        f"{e['ratio_vs_bare_queue']}×",
                        "",
                        "",
                    ]
                )
        if p:
            for cls, label in (("simple", "SimpleWorker"), ("fork", "forking Worker")):
                out.append(
                    [
                        f"pipeline, 1 / 2 {label}s",
                        f"{p[f'{cls}_pipeline_1']['referrals_per_s']} / "
                        f"{p[f'{cls}_pipeline_2']['referrals_per_s']} referrals/s",
                        f"no-op RQ jobs, same workers: {p[f'{cls}_noop_1']['jobs_per_s']} / "
                        f"{p[f'{cls}_noop_2']['jobs_per_s']}/s",
                        f"{p[f'{cls}_ratio_1']}× / {p[f'{cls}_ratio_2']}×",
                        "≥ 0.5×",
                        _verdict(min(p[f"{cls}_ratio_1"], p[f"{cls}_ratio_2"]), 0.5),
                    ]
                )
            if "simple_cpu_ms_per_referral_1" in p:
                out.append(
                    [
                        "worker CPU per referral, 1 worker: the job + RQ's own per job",
                        f"in-process {p['simple_cpu_ms_per_referral_1']} + "
                        f"{p['simple_noop_cpu_ms_per_job_1']} ms; forking "
                        f"{p['fork_cpu_ms_per_referral_1']} + "
                        f"{p['fork_noop_cpu_ms_per_job_1']} ms",
                        "RQ's own includes the fork and start-up spread over the jobs; CPU "
                        "time, which a busy machine distorts less than rates",
                        "",
                        "",
                        "",
                    ]
                )
        if x:
            out.append(
                [
                    f"end to end at {x['rate_per_s']} referrals/s, 2 {x['workers']} workers",
                    f"p50 {x['p50_ms'] / 1000:.2f} s, p99 {x['p99_ms'] / 1000:.2f} s",
                    f"{x['acknowledged']}/{x['sent']} acknowledged",
                    "",
                    "p99 ≤ 2 s",
                    _verdict(x["p99_ms"], 2000, higher_is_better=False),
                ]
            )
        if s:
            out.append(
                [
                    "screening, one core",
                    f"{s['screen_per_s']:,} messages/s",
                    f"one keyword regex: {s['baseline_regex_per_s']:,}/s",
                    f"{s['ratio_vs_baseline']}×",
                    "",
                    "",
                ]
            )
        if c:
            out.append(
                [
                    f"pipeline with encryption at rest and the blind index, 1 SimpleWorker, "
                    f"{c['n']} referrals",
                    f"{c['encrypted']['referrals_per_s']} referrals/s, a job p50 "
                    f"{c['encrypted']['job_p50_ms']} ms",
                    f"the same on a store without keys: {c['plain']['referrals_per_s']}/s, "
                    f"p50 {c['plain']['job_p50_ms']} ms",
                    f"{c['ratio']}× (a job {c['job_p50_ratio']}×)",
                    "",
                    "",
                ]
            )
            out.append(
                [
                    "worker CPU encryption adds per referral",
                    f"{c['cpu_ms_per_referral_added']} ms",
                    f"worker CPU, whole run: {c['encrypted']['worker_cpu_s']} s with keys, "
                    f"{c['plain']['worker_cpu_s']} s without",
                    f"{c['cpu_ratio']}×",
                    "",
                    "",
                ]
            )
        if d:
            healthz = d["pages"]["baseline /healthz"]["p50_ms"]
            for label, figures in d["pages"].items():
                if label == "baseline /healthz":
                    continue
                out.append(
                    [
                        f"desk at {d['referrals']:,} referrals (encrypted, blind index): {label}",
                        f"p50 {figures['p50_ms']:.1f} ms, p95 {figures['p95_ms']:.1f} ms",
                        f"`/healthz`: {healthz:.1f} ms",
                        f"{d['ratio_to_healthz'][label]}×",
                        "",
                        "",
                    ]
                )
    if scale:
        sizes = list(scale["sizes"])
        big, small = sizes[-1], sizes[0]
        labels = {
            "queue_page": "queue page (active, 50)",
            "search": "search: a surname (1 in 2,000 share it)",
            "search_reference": "search: a reference",
            "api_list": "API list, first page",
            "api_list_deep": "API list, keyset page halfway",
            "api_list_deep_offset": "API list, the same page by OFFSET",
            "merge_lookup": "merge candidates",
            "sla": "SLA (unclaimed emergencies)",
        }
        for name, label in labels.items():
            ms = scale["sizes"][big]["ms"].get(name)
            if ms is None:
                continue
            ratio = scale["ratio_to_smallest"][big][name]
            goal = "" if name == "api_list_deep_offset" else "≤ 2×"
            out.append(
                [
                    f"{label} at {int(big):,} referrals",
                    f"{ms} ms",
                    f"at {int(small):,}: {scale['sizes'][small]['ms'][name]} ms",
                    f"{ratio}×",
                    goal,
                    _verdict(ratio, 2, higher_is_better=False) if goal else "",
                ]
            )
        memory = scale.get("memory")
        if memory:
            out.append(
                [
                    f"RSS after {memory['referrals']:,} referrals",
                    f"worker {memory['worker_mb_after']} MB, web {memory['web_mb_after']} MB",
                    f"after warm-up: worker {memory['worker_mb_before']} MB, "
                    f"web {memory['web_mb_before']} MB",
                    "",
                    f"growth ≤ {memory['bound_mb']} MB",
                    _verdict(memory["growth_mb"], memory["bound_mb"], higher_is_better=False),
                ]
            )
    if peer:
        out.append(
            [
                f"CPU per email vs django-helpdesk, the same {peer['emails']['total']} emails "
                "(default worker, SQLite)",
                f"{peer['intake_cpu_ms_per_email']} ms",
                f"{peer['peer']}: {peer['peer_cpu_ms_per_email']} ms "
                f"({peer['peer_cpu_ms_per_email_with_startup']} with its start-up)",
                f"{peer['ratio']}×",
                "≤ 0.5×",
                _verdict(peer["ratio"], 0.5, higher_is_better=False),
            ]
        )
        for side, label in (("intake", "intake"), ("peer", "django-helpdesk")):
            r = peer["rounds"][-1][side]
            stored = r.get("stored_messages", r.get("stored_as_ticket_or_followup"))
            out.append(
                [
                    f"correctness on those emails: {label}",
                    f"stored {stored} (should {r['should_store']}), acknowledged "
                    f"{r['acknowledged']} (may {r['may_acknowledge']}, wrongly "
                    f"{r['acknowledged_when_must_not']})",
                    f"auto-replies and bounces kept out {r['kept_out']} of {r['kept_out_of']}, "
                    f"crashed on {r['crashed']}",
                    "",
                    "",
                    "",
                ]
            )
    else:
        out.append(
            [
                "CPU per email vs django-helpdesk",
                "",
                "",
                "",
                "≤ 0.5×",
                "not measured (`python bench/peer.py`)",
            ]
        )
    return out


def table(
    run: dict[str, Any] | None, scale: dict[str, Any] | None, peer: dict[str, Any] | None = None
) -> str:
    lines = []
    for label, data in (
        ("`make bench`", run),
        ("`make bench-scale`", scale),
        ("`bench/peer.py` (in `make bench-scale`)", peer),
    ):
        if data:
            m = data["machine"]
            lines.append(
                f"{label}: {m['nproc']} cores, {m['cpu']}, Python {m['python']}, "
                f"{data.get('database', '')}, load average at start "
                f"{m.get('loadavg_at_start', '?')}, {data.get('seconds', '?')} s."
            )
    lines.append("")
    lines.append("| what | intake | baseline (same run) | ratio | goal | |")
    lines.append("| --- | --- | --- | --- | --- | --- |")
    for row in rows(run, scale, peer):
        lines.append("| " + " | ".join(row) + " |")
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    lines.append("")
    lines.append(f"Regenerated by `bench/report.py` on {stamp} from `bench/results/`.")
    return "\n".join(lines)


def main() -> int:
    run, scale, peer = _load("run.json"), _load("scale.json"), _load("peer.json")
    text = README.read_text("utf-8")
    if START not in text or END not in text:
        print(f"README.md has no {START} ... {END} markers", file=sys.stderr)
        return 1
    head, rest = text.split(START, 1)
    _old, tail = rest.split(END, 1)
    README.write_text(f"{head}{START}\n{table(run, scale, peer)}\n{END}{tail}", "utf-8")
    print(table(run, scale, peer))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
