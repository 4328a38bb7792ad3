"""Config diffs name exactly the fields that differ."""

from cifar_core.runs.compare import config_diff
from cifar_core.train import TrainConfig


def test_identical_configs_have_no_differences():
    config = TrainConfig(data="synthetic").to_dict()
    assert config_diff(config, dict(config)) == []


def test_changed_top_level_and_nested_fields_are_listed_by_dotted_name():
    first = TrainConfig(data="synthetic").to_dict()
    second = TrainConfig(
        data="synthetic",
        dropout=0.5,
        model="mobilenet_v3_large",
        model_options={"pretrained": False},
        augment_params={"cutmix": {"alpha": 1.0}},
    ).to_dict()
    assert config_diff(first, second) == [
        ("augment_params.cutmix", None, {"alpha": 1.0}),
        ("dropout", 0.2, 0.5),
        ("model", "simple_cnn", "mobilenet_v3_large"),
        ("model_options.pretrained", None, False),
    ]
