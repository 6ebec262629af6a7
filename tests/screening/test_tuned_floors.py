"""Floors on the tuned labelled sets: a retrain must not regress on what it was fitted to.

Its own file so that the test run's two workers (pytest-xdist, whole files each) can take it
apart from the other evaluation tests: it screens about 11,000 messages.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from intake.screening.evaluate import evaluate


def _load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


# Floors on the TUNED sets (every one of them is now training data for the model, so these are
# fitted figures, not generalisation; the honest figures are the leave-one-set-out ones in the
# README and the blind batches, which are never asserted on here: batch 17 and the newest).
# Measured with the round-13 model (issue 13: training sets K to N and blind batches 18 to 33
# added in rounds 8 to 13):
# set: (emergency recall, emergency as routine, urgent-or-emergency recall, routine raised,
#       urgent to emergency, category micro-F1)
TUNED_FLOORS = {
    "holdout_batch2.jsonl": (1.000, 0, 1.000, 0.056, 0.000, 0.914),
    "holdout_batch3.jsonl": (1.000, 0, 1.000, 0.000, 0.000, 0.916),
    "holdout_batch4.jsonl": (1.000, 0, 0.991, 0.000, 0.000, 0.939),
    "holdout_batch5.jsonl": (1.000, 0, 1.000, 0.026, 0.000, 0.967),
    "train_a.jsonl": (1.000, 0, 1.000, 0.076, 0.004, 0.952),
    "train_b.jsonl": (1.000, 0, 1.000, 0.023, 0.008, 0.928),
    "batch6.jsonl": (1.000, 0, 1.000, 0.054, 0.013, 0.941),
    "train_c.jsonl": (1.000, 0, 1.000, 0.030, 0.000, 0.926),
    # blind once (round 2: 0.917, 0 routine, 0.985, 0.029, 0.067, 0.727), tuned on in round 3
    "batch8.jsonl": (1.000, 0, 1.000, 0.009, 0.000, 0.943),
    # blind twice (round 3: 0.964, 0 routine, 0.983, 0.094, 0.100, 0.633), tuned on in round 4
    "batch9.jsonl": (1.000, 0, 1.000, 0.047, 0.000, 0.955),
    "train_d.jsonl": (1.000, 0, 1.000, 0.032, 0.006, 0.974),
    "train_e.jsonl": (1.000, 0, 1.000, 0.057, 0.000, 0.970),
    "train_g.jsonl": (1.000, 0, 1.000, 0.027, 0.000, 0.957),
    "train_h.jsonl": (1.000, 0, 1.000, 0.100, 0.000, 0.974),
    # blind once each on round 4 (10: 0.982, 0, 1.000, 0.013, 0.061, 0.781; 11: 0.900, 1,
    # 0.992, 0.062, 0.100, 0.757), tuned on in round 5
    "batch10.jsonl": (1.000, 0, 1.000, 0.000, 0.000, 0.945),
    "batch11.jsonl": (1.000, 0, 1.000, 0.013, 0.000, 0.953),
    # blind once each on round 5 (12: 0.873, 1, 0.992, 0.075, 0.092, 0.715; 13: 0.964, 0,
    # 1.000, 0.100, 0.061, 0.788), tuned on in round 6
    "batch12.jsonl": (1.000, 0, 1.000, 0.050, 0.015, 0.950),
    "batch13.jsonl": (1.000, 0, 1.000, 0.050, 0.000, 0.958),
    # blind once on round 6 (0.964, 0, 1.000, 0.125, 0.123, 0.794), tuned on in round 7
    "batch14.jsonl": (1.000, 0, 1.000, 0.062, 0.000, 0.963),
    # round 7 training sets (round 6 before training: I 1.000, 0, 1.000, 0.246, 0.190, 0.750;
    # J 0.925, 0, 1.000, 0.118, 0.218, 0.756)
    "train_i.jsonl": (1.000, 0, 1.000, 0.131, 0.020, 0.947),
    "train_j.jsonl": (1.000, 0, 1.000, 0.073, 0.009, 0.967),
    # blind once each on round 7 (15: 0.964, 0, 0.992, 0.148, 0.172, 0.776; 16: 0.909, 0,
    # 1.000, 0.200, 0.108, 0.769), tuned on in round 7b
    "batch15.jsonl": (1.000, 0, 1.000, 0.099, 0.000, 0.966),
    "batch16.jsonl": (1.000, 0, 1.000, 0.087, 0.000, 0.945),
    # blind once each on round 7b (18: 0.836, 0, 1.000, 0.087, 0.046, 0.757; 19: 0.909, 0,
    # 1.000, 0.104, 0.015, 0.736) and training set K (round 7b: 0.918, 1, 0.981, 0.183,
    # 0.165, 0.735), tuned on in round 8
    "batch18.jsonl": (1.000, 0, 1.000, 0.062, 0.000, 0.940),
    "batch19.jsonl": (1.000, 0, 1.000, 0.065, 0.000, 0.961),
    "train_k.jsonl": (1.000, 0, 1.000, 0.107, 0.037, 0.960),
    # blind once each on round 8 (20: 1.000, 0, 1.000, 0.113, 0.200, 0.781; 21: 0.929, 0,
    # 0.967, 0.090, 0.121, 0.777; 22: 0.855, 1, 0.950, 0.113, 0.092, 0.757), tuned on in
    # round 9
    "batch20.jsonl": (1.000, 0, 1.000, 0.075, 0.015, 0.955),
    "batch21.jsonl": (1.000, 0, 1.000, 0.077, 0.000, 0.961),
    "batch22.jsonl": (1.000, 0, 1.000, 0.075, 0.000, 0.965),
    # blind once each on round 9 (23: 1.000, 0, 0.983, 0.113, 0.092, 0.793; 24: 0.927, 1,
    # 0.983, 0.087, 0.139, 0.785) and training set L (round 9: 0.840, 1, 0.981, 0.111, 0.073,
    # 0.707), tuned on in round 10
    "batch23.jsonl": (1.000, 0, 1.000, 0.100, 0.000, 0.965),
    "batch24.jsonl": (1.000, 0, 1.000, 0.062, 0.000, 0.970),
    "train_l.jsonl": (1.000, 0, 1.000, 0.078, 0.000, 0.941),
    # blind once each on round 9 and round 10 (25: 0.909/0.945, 0, 0.975, 0.100, 0.046; 26:
    # 0.909/0.927, 1, 0.958/0.967, 0.138, 0.046; 27: 0.927/0.964, 0, 0.958/0.950, 0.163,
    # 0.046/0.108), tuned on in round 11
    "batch25.jsonl": (1.000, 0, 1.000, 0.062, 0.000, 0.939),
    "batch26.jsonl": (1.000, 0, 1.000, 0.075, 0.000, 0.933),
    "batch27.jsonl": (1.000, 0, 1.000, 0.125, 0.000, 0.943),
    # blind once each on round 9 and round 11 (28: 0.964/0.982, 0/0, 0.975, 0.062/0.050,
    # 0.092; 29: 0.818/0.855, 2/3, 0.975/0.950, 0.138/0.100, 0.046/0.077; 30: 0.982/1.000, 0,
    # 1.000/0.992, 0.138/0.125, 0.154/0.169), tuned on in round 12
    "batch28.jsonl": (1.000, 0, 1.000, 0.025, 0.000, 0.947),
    "batch29.jsonl": (1.000, 0, 1.000, 0.075, 0.000, 0.939),
    "batch30.jsonl": (1.000, 0, 1.000, 0.113, 0.000, 0.968),
    # blind once each on round 9 and round 12 (31: 0.945/0.945, 0/0, 0.975, 0.125/0.113,
    # 0.108; 32: 0.964/0.982, 0/1, 0.975/0.967, 0.100/0.087, 0.123/0.092; 33: 0.927/0.927, 0/0,
    # 0.992/1.000, 0.062, 0.031/0.015), and training sets M and N (round 9 before training: M
    # 0.878, 0, 0.918, 0.200, 0.013, 0.692; N 0.967, 1, 0.986, 0.180, 0.087, 0.777), tuned on
    # in round 13
    "batch31.jsonl": (1.000, 0, 0.992, 0.113, 0.000, 0.957),
    "batch32.jsonl": (1.000, 0, 1.000, 0.075, 0.000, 0.939),
    "batch33.jsonl": (1.000, 0, 1.000, 0.050, 0.000, 0.946),
    "train_m.jsonl": (1.000, 0, 1.000, 0.171, 0.013, 0.919),
    "train_n.jsonl": (1.000, 0, 1.000, 0.160, 0.000, 0.967),
}


@pytest.mark.parametrize("name", sorted(TUNED_FLOORS))
def test_tuned_sets_do_not_regress(name: str) -> None:
    """Small slack below the measured figure (rounding, a retrain with corrections); a real
    regression on a set the model was fitted to is far larger than this."""
    em, as_routine, ue, raised, over, f1 = TUNED_FLOORS[name]
    report = evaluate(_load(Path(__file__).resolve().parent / "data" / name))
    assert report["per_class"]["emergency"]["recall"] >= em - 0.02
    assert report["emergency_as_routine"] <= as_routine
    assert report["urgent_or_emergency_recall_ci"][0] / report["urgent_or_emergency_recall_ci"][1] \
        >= ue - 0.02
    assert report["routine_wrongly_raised"] <= raised + 0.02
    assert report["urgent_to_emergency"] <= over + 0.03
    assert report["category_micro_f1"] >= f1 - 0.03
