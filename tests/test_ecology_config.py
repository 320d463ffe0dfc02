"""The political-ecology configuration: defaults, validation in Chinese, digest, saving."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import AS_OF
from xuncha.figures import MIN_SAMPLE, ecology, ecology_config
from xuncha.figures.ecology import EcologyConfig, EcologyConfigError, save_config
from xuncha.filters import Filters, resolve_scope


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_defaults_are_those_of_domain_section_six_as_amended_by_issue_20() -> None:
    config = EcologyConfig.load(None)
    assert dict(config.weights) == {"P": 25, "R": 35, "D": 15, "X": 15, "S": 10}
    # percentile scores (50: as good as the middle unit), lines chosen on the demo city
    assert dict(config.grades) == {"good": 62, "fairly_good": 52, "average": 40}
    assert config.caps == {
        "fourth_form": "一般",
        "rebound": "较好",
        "overdue": "较好",
        "overdue_rate_above": 20.0,
        "rebound_rate_above": 75.0,
        "rebound_findings_at_least": 3,
    }
    assert config.shrinkage_k == 4.0
    assert config.min_findings == MIN_SAMPLE == 5
    assert [config.grade_for(s) for s in (62, 61.99, 52, 51.99, 40, 39.99)] == [
        "好",
        "较好",
        "较好",
        "一般",
        "一般",
        "差",
    ]


def test_every_indicator_and_dimension_has_a_chinese_label_direction_and_help() -> None:
    config = EcologyConfig.load(None)
    assert tuple(config.indicators) == ecology.INDICATORS
    dims = {s.dimension for s in config.indicators.values()}
    assert dims == set(ecology.DIMENSIONS)
    for spec in [*config.indicators.values(), *config.dimensions.values()]:
        assert spec.label and spec.help, spec.key
    directions = {k: s.direction for k, s in config.indicators.items()}
    plus = {k for k, d in directions.items() if d == "+"}
    assert plus == {"completion_rate", "on_time_rate", "regulations_per_finding"}


def test_the_evidence_query_names_only_known_indicators(demo_reader: Any) -> None:
    scope = resolve_scope(demo_reader, Filters(as_of=AS_OF))
    names = set(demo_reader.query("ecology_evidence", scope.params(unit_id=None))["indicator"])
    assert names <= set(ecology.INDICATORS) | {"fourth_form"}
    assert "finding_density" not in names  # every finding would be "behind" it


def test_the_configuration_survives_saving_and_loading(tmp_path: Path) -> None:
    config = EcologyConfig.load(None).with_values(
        weights={"R": 40.5, "S": 0},
        indicators={"share_l1_a": {"label": '政治"问题"\\占比\x7f', "enabled": False}},
    )
    path = save_config(config, tmp_path / "ecology.toml")
    again = EcologyConfig.load(path)
    assert again == config and again.digest() == config.digest()
    assert again.indicators["share_l1_a"].label == '政治"问题"\\占比\x7f'
    assert again.source == str(path)
    assert [p.name for p in tmp_path.iterdir()] == ["ecology.toml"]  # no temporary left


def test_saving_replaces_an_existing_file_whole(tmp_path: Path) -> None:
    target = write(tmp_path, "旧内容\n", "ecology.toml")
    save_config(EcologyConfig.load(None).with_values(weights={"P": 30}), target)
    assert tomllib.loads(target.read_text(encoding="utf-8"))["weights"]["P"] == 30
    with pytest.raises(EcologyConfigError, match="目录不存在"):
        save_config(EcologyConfig.load(None), tmp_path / "nowhere" / "x.toml")


def test_the_digest_covers_what_changes_a_score_and_not_the_wording() -> None:
    base = EcologyConfig.load(None)
    reworded = base.with_values(dimensions={"R": {"label": "整改落实", "help": "另一种说法"}})
    assert reworded.digest() == base.digest()
    for change in (
        {"weights": {"S": 11}},
        {"grades": {"average": 41}},
        {"caps": {"rebound_rate_above": 50.0}},
        {"caps": {"rebound_findings_at_least": 5}},
        {"normalisation": {"shrinkage_k": 2.0}},
        {"caps": {"rebound": "一般"}},
        {"caps": {"overdue_rate_above": 25.0}},
        {"indicators": {"overdue_rate": {"direction": "+"}}},
        {"indicators": {"overdue_rate": {"dimension": "D"}}},
        {"indicators": {"overdue_rate": {"enabled": False}}},
    ):
        assert base.with_values(**change).digest() != base.digest(), change
    assert len(base.digest()) == 64


def test_a_file_that_gives_only_some_values_keeps_the_defaults_for_the_rest(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, "[weights]\nR = 50\nS = 0\n")
    config = EcologyConfig.load(path)
    assert dict(config.weights) == {"P": 25, "R": 50, "D": 15, "X": 15, "S": 0}
    assert config.grades == EcologyConfig.load(None).grades


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[weights]\nR = -1\n", "权重不能为负数"),
        ("[weights]\nP = 0\nR = 0\nD = 0\nX = 0\nS = 0\n", "权重不能全为 0"),
        ("[weights]\nR = '三十五'\n", "须为数字"),
        ("[weights]\nR = true\n", "须为数字"),
        ("[weights]\nQ = 5\n", "未知的维度"),
        ("[grades]\ngood = 70\nfairly_good = 85\n", "等次线须满足"),
        ("[grades]\naverage = 70\n", "等次线须满足"),
        ("[grades]\ngood = 120\n", "等次线须满足"),
        ("[caps]\nrebound = '优秀'\n", "须为等次之一"),
        ("[caps]\noverdue_rate_above = 120\n", "0–100"),
        ("[sample]\nmin_findings = 0\n", "正整数"),
        ("[indicators.popularity]\ndimension = 'P'\n", "未知的指标"),
        ("[indicators.overdue_rate]\ndirection = 'down'\n", "方向须为 + 或 -"),
        ("[indicators.overdue_rate]\ndimension = 'Q'\n", "维度须为"),
        ("[indicators.overdue_rate]\ncolour = 'red'\n", "未知的项"),
        ("[indicators.overdue_rate]\nenabled = 'yes'\n", "true 或 false"),
        ("[indicators.overdue_rate]\nlabel = ''\n", "非空文字"),
        ("[indicators.regulations_per_finding]\nenabled = false\n", "没有启用的指标"),
        ("weights = 3\n", "须为一节"),
        ("colour = 'red'\n", "未知的项"),
        ("format = 2\n", "配置格式版本"),
        ("[weights\nR = 1\n", "不是有效的 TOML"),
    ],
)
def test_a_bad_configuration_is_refused_with_a_chinese_message(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(EcologyConfigError, match=re.escape(message)):
        EcologyConfig.load(write(tmp_path, text))


def test_a_missing_or_unreadable_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(EcologyConfigError, match="配置文件不存在"):
        EcologyConfig.load(tmp_path / "none.toml")
    (tmp_path / "gbk.toml").write_bytes("[weights]\nR = 1 # 整改\n".encode("gb18030"))
    with pytest.raises(EcologyConfigError, match="须为 UTF-8 编码"):
        EcologyConfig.load(tmp_path / "gbk.toml")


def test_an_edited_configuration_is_validated_too() -> None:
    with pytest.raises(EcologyConfigError, match="权重不能为负数"):
        EcologyConfig.load(None).with_values(weights={"X": -5})


def test_disabling_every_indicator_of_an_unweighted_dimension_is_allowed() -> None:
    config = EcologyConfig.load(None).with_values(
        weights={"S": 0}, indicators={"regulations_per_finding": {"enabled": False}}
    )
    assert not config.indicators["regulations_per_finding"].enabled


def test_edited_toml_text_is_read_over_the_defaults_and_validated() -> None:
    config = EcologyConfig.from_toml("[grades]\ngood = 90\n", source="页面")
    assert config.grades["good"] == 90 and config.grades["average"] == 40
    assert config.source == "页面"
    with pytest.raises(EcologyConfigError, match="不是有效的 TOML"):
        EcologyConfig.from_toml("[grades\n")
    with pytest.raises(EcologyConfigError, match="等次线须满足"):
        EcologyConfig.from_toml("[grades]\ngood = 50\n")
    with pytest.raises(EcologyConfigError, match="收缩参数"):
        EcologyConfig.from_toml("[normalisation]\nshrinkage_k = -1\n")
    with pytest.raises(EcologyConfigError, match="rebound_findings_at_least"):
        EcologyConfig.from_toml("[caps]\nrebound_findings_at_least = 0\n")
    with pytest.raises(EcologyConfigError, match="反弹率封顶线"):
        EcologyConfig.from_toml("[caps]\nrebound_rate_above = 120\n")


# -- the administrator's edit (xuncha.figures.ecology_config, the 研判配置 page) -------------


def edit(config: EcologyConfig, **changes: Any) -> dict[str, Any]:
    """The form's values for `config` with some of them changed."""
    values: dict[str, Any] = {
        "weights": dict(config.weights),
        "grades": dict(config.grades),
        "caps": dict(config.caps),
        "min_findings": config.min_findings,
    }
    for key, value in changes.items():
        values[key] = {**values[key], **value} if isinstance(value, dict) else value
    return values


def test_an_edit_is_saved_beside_the_data_in_a_private_folder_and_described_for_the_audit(
    tmp_path: Path,
) -> None:
    defaults = EcologyConfig.load(None)
    change = ecology_config.save_edited(
        tmp_path, defaults, **edit(defaults, weights={"R": 50.0}, min_findings=7)
    )
    path = ecology.store_config_path(tmp_path)
    assert path == tmp_path / "config" / "ecology.toml"
    assert path.parent.stat().st_mode & 0o777 == 0o700
    saved = ecology.config_for_store(tmp_path)
    assert saved.weights["R"] == 50.0 and saved.min_findings == 7
    assert (change.old_digest, change.new_digest) == (defaults.digest(), saved.digest())
    assert change.old_digest != change.new_digest and not change.reset
    assert change.audit_details() == {
        "config": "ecology",
        "old_digest": defaults.digest(),
        "new_digest": saved.digest(),
        "values": saved.scoring_values(),
    }


def test_an_edit_the_configuration_refuses_writes_nothing(tmp_path: Path) -> None:
    defaults = EcologyConfig.load(None)
    with pytest.raises(EcologyConfigError, match="等次线须满足"):
        ecology_config.save_edited(
            tmp_path, defaults, **edit(defaults, grades={"good": 60.0, "average": 70.0})
        )
    with pytest.raises(EcologyConfigError, match="权重不能全为 0"):
        ecology_config.save_edited(
            tmp_path, defaults, **edit(defaults, weights=dict.fromkeys(defaults.weights, 0.0))
        )
    assert not (tmp_path / "config").exists()
    assert ecology.config_for_store(tmp_path).digest() == defaults.digest()


def test_a_reset_removes_the_stores_configuration_and_without_one_changes_nothing(
    tmp_path: Path,
) -> None:
    defaults = EcologyConfig.load(None)
    assert ecology_config.reset_to_defaults(tmp_path) is None
    edited = ecology_config.save_edited(
        tmp_path, defaults, **edit(defaults, caps={"rebound": "一般"})
    )
    change = ecology_config.reset_to_defaults(tmp_path)
    assert change is not None and change.reset
    assert not ecology.store_config_path(tmp_path).exists()
    assert ecology.config_for_store(tmp_path).digest() == defaults.digest()
    assert change.audit_details() == {
        "config": "ecology",
        "old_digest": edited.new_digest,
        "new_digest": defaults.digest(),
        "reset": True,
    }
    assert ecology_config.reset_to_defaults(tmp_path) is None
