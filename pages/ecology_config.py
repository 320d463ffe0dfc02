"""研判配置: the administrator's form for the political-ecology scoring configuration (weights,
grade lines, caps, the minimum sample). Validating and writing it are
xuncha.figures.ecology_config's; the page draws the form and records each change in the
audit trail with the old and new digests."""

import streamlit as st

from xuncha import figures, ui
from xuncha.auth import EDIT_CONFIG
from xuncha.figures import ecology_config, ecology_names
from xuncha.figures.ecology import GRADES

# The signed-in administrator themself, never a user being previewed.
ui.require(EDIT_CONFIG, own=True)
root = ui.store().root
config = figures.config_for_store(root)

st.title("研判配置")
st.caption(
    "政治生态研判（研判参考）的权重、等次线、封顶规则和样本线。保存时按读取配置文件的同一规则校验，"
    "保存在数据目录旁，此后的每个得分都使用并记录新的配置版本；每次修改记入审计日志。"
)
st.markdown(f"当前配置：{ui.md(ecology_names.config_name(root, config))}")
done = st.session_state.pop("_eco_saved", None)
if done:
    st.success(done, icon=":material/check_circle:")

with st.form("eco_config_edit"):
    cols = st.columns(len(config.dimensions))
    weights = {
        d: col.number_input(
            f"{spec.label}权重",
            min_value=0.0,
            max_value=100.0,
            value=float(config.weights[d]),
            step=5.0,
            key=f"eco_w_{d}",
        )
        for col, (d, spec) in zip(cols, config.dimensions.items(), strict=True)
    }
    g = st.columns(4)
    grades = {
        "good": g[0].number_input("“好”不低于", 0.0, 100.0, float(config.grades["good"]), 1.0),
        "fairly_good": g[1].number_input(
            "“较好”不低于", 0.0, 100.0, float(config.grades["fairly_good"]), 1.0
        ),
        "average": g[2].number_input(
            "“一般”不低于", 0.0, 100.0, float(config.grades["average"]), 1.0
        ),
    }
    min_findings = g[3].number_input("样本不足：问题少于", 1, 100, int(config.min_findings), 1)
    c = st.columns(4)
    caps = {
        "fourth_form": c[0].selectbox(
            "有第四种形态：最高", GRADES, index=GRADES.index(config.caps["fourth_form"])
        ),
        "rebound": c[1].selectbox(
            "反弹封顶：最高", GRADES, index=GRADES.index(config.caps["rebound"])
        ),
        "overdue": c[2].selectbox(
            "逾期率超限：最高", GRADES, index=GRADES.index(config.caps["overdue"])
        ),
        "overdue_rate_above": c[3].number_input(
            "逾期率上限（%）", 0.0, 100.0, float(config.caps["overdue_rate_above"]), 1.0
        ),
    }
    r = st.columns(3)
    caps["rebound_rate_above"] = r[0].number_input(
        "反弹封顶：反弹率超过（%）", 0.0, 100.0, float(config.caps["rebound_rate_above"]), 5.0
    )
    caps["rebound_findings_at_least"] = r[1].number_input(
        "且反弹问题不少于（个）", 1, 1000, int(config.caps["rebound_findings_at_least"]), 1
    )
    shrinkage_k = r[2].number_input(
        "小同类组收缩参数 k",
        0.0,
        100.0,
        float(config.shrinkage_k),
        1.0,
        help="同类组有 n 个可比单位时，计分时同类组占 n ÷ (n + k)，其余参照本轮全部单位；0 为只看同类组。",
    )
    save = st.form_submit_button("保存配置", type="primary")
reset = st.button("恢复默认配置", key="eco_reset")

if save:
    try:
        change = ecology_config.save_edited(
            root,
            config,
            weights=weights,
            grades=grades,
            caps=caps,
            min_findings=int(min_findings),
            shrinkage_k=float(shrinkage_k),
        )
    except figures.EcologyConfigError as exc:
        st.error(str(exc))
        st.stop()
    ui.record("config_change", **change.audit_details())
    st.session_state["_eco_saved"] = (
        f"已保存为{ecology_names.config_name(root, change.new_digest)}。"
    )
    st.rerun()
if reset:
    reset_change = ecology_config.reset_to_defaults(root)
    if reset_change is not None:
        ui.record("config_change", **reset_change.audit_details())
        st.session_state["_eco_saved"] = "已恢复默认配置。"
        st.rerun()
