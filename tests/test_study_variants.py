"""Study variants: the grid parser (typed values, every malformed case named) and ablation sets."""

from __future__ import annotations

import pytest
from study_support import ABLATION_VARIANTS

from cifar_core.errors import ConfigError
from cifar_core.study import ablation_variants, grid_variants, parse_grid
from cifar_core.study.definition import plan_study, run_id_for
from cifar_core.train import TrainConfig

BASE = TrainConfig(data="synthetic", epochs=2, limit=200)


def test_grid_parses_values_by_the_fields_type():
    axes = parse_grid(" aug_p=0.03, 0.06 ; mix_p=0.01,0.02,0.03;", BASE)
    assert axes == {"aug_p": [0.03, 0.06], "mix_p": [0.01, 0.02, 0.03]}
    typed = parse_grid("epochs=1,3;shuffle=true,no;optimizer=sgd,adam;limit=none,300;budget_minutes=None,1", BASE)
    assert typed == {
        "epochs": [1, 3],
        "shuffle": [True, False],
        "optimizer": ["sgd", "adam"],
        "limit": [None, 300],
        "budget_minutes": [None, 1.0],
    }
    assert all(type(value) is int for value in typed["epochs"])


def test_grid_variants_are_every_combination_first_axis_slowest():
    variants = grid_variants(BASE, parse_grid("aug_p=0.03,0.06;mix_p=0.01,0.02,0.03", BASE))
    assert [v.name for v in variants] == [
        "aug_p=0.03, mix_p=0.01",
        "aug_p=0.03, mix_p=0.02",
        "aug_p=0.03, mix_p=0.03",
        "aug_p=0.06, mix_p=0.01",
        "aug_p=0.06, mix_p=0.02",
        "aug_p=0.06, mix_p=0.03",
    ]
    assert variants[4].changes == {"aug_p": 0.06, "mix_p": 0.02}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("aug_p 0.03,0.06", "Grid part 'aug_p 0.03,0.06' has no '='"),
        ("colour=red", "Unknown config field 'colour' in the grid"),
        ("aug_p=", "Grid field aug_p has an empty value in 'aug_p='"),
        ("aug_p=0.03,,0.06", "Grid field aug_p has an empty value"),
        ("aug_p=0.03;aug_p=0.06", "Field aug_p appears twice in the grid"),
        ("aug_p=1.5", "Grid value aug_p=1.5 is invalid: aug_p must be between 0 and 1; got 1.5."),
        ("epochs=1.5", "Grid value epochs='1.5' is not an integer."),
        ("lr=fast", "Grid value lr='fast' is not a number."),
        ("shuffle=maybe", "Grid value shuffle='maybe' is not a true/false."),
        ("optimizer=adam,rmsprop", "Grid value optimizer='rmsprop' is invalid: optimizer must be one of adam, sgd"),
        ("aug_p=0.03,0.03", "Grid field aug_p repeats the value 0.03."),
        ("seed=0,1", "seed cannot be varied in a grid: repeat a study over seeds"),
        ("augment_ops=rotation", "augment_ops cannot be varied in a grid"),
        (" ; ", "The grid is empty"),
    ],
)
def test_malformed_grids_are_refused_naming_the_problem(text, message):
    with pytest.raises(ConfigError) as caught:
        parse_grid(text, BASE)
    assert message in str(caught.value)


def test_a_grid_combination_that_is_invalid_as_a_whole_is_refused():
    base = TrainConfig(data="synthetic", epochs=4)
    axes = parse_grid("epochs=1,4;warmup_epochs=0,2", base)  # each value is fine against the base alone
    with pytest.raises(ConfigError, match="Grid combination epochs=1, warmup_epochs=2.0 is invalid: warmup_epochs must be between 0 and 1"):
        grid_variants(base, axes)


def test_ablation_of_two_ops_is_none_each_alone_and_all():
    variants = ablation_variants(BASE, ["rotation", "cutmix"])
    assert [(v.name, v.changes["augment_ops"]) for v in variants] == [
        ("none", []),
        ("rotation", ["rotation"]),
        ("cutmix", ["cutmix"]),
        ("all", ["rotation", "cutmix"]),
    ]


def test_ablation_of_the_four_study_ops_adds_all_but_one():
    variants = ablation_variants(BASE, ["rotation", "resized_crop", "translate", "cutmix"])
    assert [v.name for v in variants] == ABLATION_VARIANTS
    assert variants[5].changes["augment_ops"] == ["resized_crop", "translate", "cutmix"]
    assert [len(ablation_variants(BASE, ["translate"])), len(ablation_variants(BASE, ["rotation", "translate", "cutmix"]))] == [2, 8]


def test_ablation_keeps_probabilities_and_only_the_chosen_ops_parameters():
    base = BASE.replace(aug_p=0.4, mix_p=0.2, augment_params={"rotation": {"degrees": [-15, 15]}, "cutmix": {"alpha": 1.0}})
    study = plan_study(base, "/tmp/runs-root-not-created", ablate=["rotation", "cutmix"], seeds=2)
    # seed by seed: every variant once with the first seed, then again with the next
    assert [(p.variant, p.seed) for p in study.runs[:5]] == [("none", 0), ("rotation", 0), ("cutmix", 0), ("all", 0), ("none", 1)]
    rotation_only = study.config_for(study.runs[1])
    assert (study.runs[1].variant, rotation_only.augment_ops) == ("rotation", ["rotation"])
    assert (rotation_only.aug_p, rotation_only.mix_p) == (0.4, 0.2)
    assert rotation_only.augment_params == {"rotation": {"degrees": [-15, 15]}}


@pytest.mark.parametrize(
    ("ops", "base", "message"),
    [
        ([], BASE, "Name at least one augmentation"),
        (["rotation", "warp"], BASE, "Unknown augmentation(s) warp to ablate"),
        (["rotation", "rotation"], BASE, "rotation named twice"),
        (["rotation", "cutmix"], BASE.replace(mix_p=0.0), "cutmix (mix_p is 0) never applies"),
    ],
)
def test_bad_ablations_are_refused(ops, base, message):
    with pytest.raises(ConfigError) as caught:
        ablation_variants(base, ops)
    assert message in str(caught.value)


def test_every_run_shares_the_split_and_variants_share_each_seed():
    study = plan_study(BASE.replace(seed=7), "/tmp/runs-root-not-created", grid="dropout=0,0.2", seeds=3)
    configs = [study.config_for(planned) for planned in study.runs]
    assert [(p.variant, p.seed) for p in study.runs] == [
        ("dropout=0.0", 7),
        ("dropout=0.2", 7),
        ("dropout=0.0", 8),
        ("dropout=0.2", 8),
        ("dropout=0.0", 9),
        ("dropout=0.2", 9),
    ]
    assert {config.split_seed for config in configs} == {7}
    assert [config.seed for config in configs] == [7, 7, 8, 8, 9, 9]


def test_run_ids_name_study_variant_and_seed_and_stay_valid():
    assert (
        run_id_for("grid-20260101-000000-abcd", 3, "aug_p=0.03, mix_p=0.01", 1) == "grid-20260101-000000-abcd-03-aug_p-0.03-mix_p-0.01-s1"
    )
    long = run_id_for("grid-20260101-000000-abcd", 3, "x" * 200, 2**31 - 1)
    assert len(long) == 80 and long.endswith("-s2147483647")
