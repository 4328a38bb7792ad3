"""The study statistics against numbers worked out by hand on a made-up result table.

t(0.975, 2) = 4.302653 (printed t tables); with three seeds a 95% half-width is 4.302653 · s / √3.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from cifar_core.study.stats import (
    AT_CHANCE,
    BETTER,
    NO_DIFFERENCE,
    REFERENCE,
    TOO_FEW,
    WORSE,
    compare_variants,
    comparison_table,
    conclusion,
    paired_differences,
    t_interval,
)

T_975_2 = 4.302653
CHANCE = "validation accuracy stayed at chance level"
# variant -> final validation accuracy for seeds 0, 1, 2
VAL = {
    "none": [0.50, 0.52, 0.48],
    "translate": [0.55, 0.56, 0.54],  # +0.05, +0.04, +0.06 over none
    "cutmix": [0.49, 0.55, 0.47],  # -0.01, +0.03, -0.01: inside the noise
    "rotation": [0.40, 0.43, 0.37],  # -0.10, -0.09, -0.11
    "broken": [0.90, 0.90, 0.90],  # highest, but one run flagged at chance level
}


def made_up_runs() -> pd.DataFrame:
    rows = [
        {"variant": variant, "seed": seed, "state": "finished", "final_val_acc": acc, "chance_warning": None}
        for variant, accs in VAL.items()
        for seed, acc in enumerate(accs)
    ]
    rows[-1]["chance_warning"] = CHANCE
    rows.append({"variant": "resized_crop", "seed": 0, "state": "finished", "final_val_acc": 0.60, "chance_warning": None})
    rows.append({"variant": "resized_crop", "seed": 1, "state": "failed", "final_val_acc": math.nan, "chance_warning": None})
    rows.append({"variant": "resized_crop", "seed": 2, "state": "waiting", "final_val_acc": math.nan, "chance_warning": None})
    return pd.DataFrame(rows)


def test_t_interval_matches_the_hand_computed_half_width():
    interval = t_interval([0.50, 0.52, 0.48])
    assert interval.n == 3 and interval.mean == pytest.approx(0.50)
    assert interval.half_width == pytest.approx(T_975_2 * 0.02 / math.sqrt(3), rel=1e-5)  # 0.049683
    assert (interval.low, interval.high) == pytest.approx((0.50 - 0.049683, 0.50 + 0.049683), abs=1e-6)
    assert interval.excludes_zero()  # 45.0% to 55.0%: zero is far outside


def test_t_interval_of_one_value_has_no_width_and_nan_values_are_dropped():
    single = t_interval([0.7, math.nan])
    assert (single.mean, single.n) == (0.7, 1) and math.isnan(single.half_width) and not single.excludes_zero()
    assert t_interval([]).n == 0 and math.isnan(t_interval([]).mean)


def test_paired_differences_are_per_seed_and_only_over_seeds_both_finished():
    runs = made_up_runs()
    diffs = paired_differences(runs, "translate", "none")
    assert list(diffs.index) == [0, 1, 2] and diffs.tolist() == pytest.approx([0.05, 0.04, 0.06])
    assert paired_differences(runs, "resized_crop", "none").tolist() == pytest.approx([0.10])  # seeds 1, 2 unfinished


def test_paired_intervals_and_verdicts_follow_the_hand_computed_numbers():
    comparisons = {c.variant: c for c in compare_variants(made_up_runs(), "none")}
    translate = comparisons["translate"].difference
    assert translate.mean == pytest.approx(0.05) and translate.half_width == pytest.approx(T_975_2 * 0.01 / math.sqrt(3), rel=1e-5)
    cutmix = comparisons["cutmix"].difference
    # differences -0.01, 0.03, -0.01: mean 0.003333, s = 0.023094, half-width 4.302653 * 0.023094 / sqrt(3) = 0.057369
    assert cutmix.mean == pytest.approx(0.0033333, abs=1e-6) and cutmix.half_width == pytest.approx(0.057369, rel=1e-4)
    assert {name: c.verdict for name, c in comparisons.items()} == {
        "none": REFERENCE,
        "translate": BETTER,
        "cutmix": NO_DIFFERENCE,
        "rotation": WORSE,
        "broken": AT_CHANCE,
        "resized_crop": TOO_FEW,
    }
    assert comparisons["broken"].chance_runs == 1


def test_sentences_quote_the_numbers_in_points():
    sentences = {c.variant: c.sentence() for c in compare_variants(made_up_runs(), "none")}
    assert sentences["none"] == "none (reference): 50.0 ± 5.0%, 3 seeds"
    assert sentences["translate"] == "translate: +5.0 ± 2.5 points over none, 3 seeds"
    assert sentences["cutmix"] == "cutmix: no detectable difference at this size from none (+0.3 ± 5.7 points, 3 seeds)"
    assert sentences["rotation"] == "rotation: 10.0 ± 2.5 points below none, 3 seeds"
    assert sentences["broken"].startswith(f"broken: at chance level in 1 run(s), so not compared ({CHANCE}")
    assert sentences["resized_crop"] == "resized_crop: too few paired seeds to tell (1 seed paired with none; at least 2 are needed)"


def test_the_conclusion_names_the_largest_detectable_gain_and_never_a_chance_level_variant():
    text = conclusion(compare_variants(made_up_runs(), "none"))
    assert text == (
        "Largest detectable gain over none: translate, +5.0 ± 2.5 points (3 seeds). "
        "Detectably worse than none: rotation. At chance level (never named best): broken."
    )


def test_no_winner_is_called_inside_the_noise():
    runs = made_up_runs()
    runs = runs[runs["variant"].isin(["none", "cutmix"])]
    assert conclusion(compare_variants(runs, "none")) == "No variant beat none detectably at this size (3 seeds)."


def test_a_reference_at_chance_level_compares_nothing():
    runs = made_up_runs()
    runs.loc[runs["variant"] == "none", "chance_warning"] = CHANCE
    assert conclusion(compare_variants(runs, "none")).startswith("The reference none stayed at chance level")


def test_comparison_table_shows_mean_interval_and_paired_difference():
    table = comparison_table(compare_variants(made_up_runs(), "none", variants=["none", "translate"]))
    assert table.to_dict("records") == [
        {
            "variant": "none",
            "seeds": 3,
            "val acc (mean ± 95% CI)": "50.0 ± 5.0%",
            "vs none (paired, points)": "reference",
            "verdict": REFERENCE,
        },
        {
            "variant": "translate",
            "seeds": 3,
            "val acc (mean ± 95% CI)": "55.0 ± 2.5%",
            "vs none (paired, points)": "+5.0 ± 2.5",
            "verdict": BETTER,
        },
    ]
