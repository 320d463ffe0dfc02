"""A deterministic, seeded generator of a believable city's inspection data (演示数据).

Everything is drawn from one numpy Generator, vectorised so that the same code builds the
default city (about 4,000 findings) in well under a second and a province-sized store
(`findings=1_000_000`) for benchmarks. Realism that the pages rely on:

- units have weak L2 categories that recur across rounds (重复问题, and 反弹 when the earlier
  finding had been closed), and each round has hot categories found in many units (共性问题);
- unit completion rates spread between about 75% and 100% for finished rounds; the latest
  round is still being rectified; some measures are overdue, some extended, some long-term;
- deadlines are written in the forms ledgers use (月底前, 年底前, 上半年, 季度, 个月内, 立行立改,
  长期坚持), statuses in the words units use.
"""

from __future__ import annotations

import calendar
import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from xuncha import audit, demo_text
from xuncha.auth import UserStore
from xuncha.evaluation import demo_entries
from xuncha.rectify import demo_activity
from xuncha.store import Reader, Store, StoreError, categories, crypto
from xuncha.store.store import BASE_CONFIG, aside_path, reader_limits

# The demo city's data are "as of" this date; deterministic whatever today is.
DEMO_AS_OF = dt.date(2026, 11, 20)
DEFAULT_SEED = 20261120
DAY = np.timedelta64(1, "D")

# (name, term, kind, start) of each round, oldest first.
ROUNDS: list[tuple[str, str, str, dt.date]] = [
    ("十三届市委第七轮巡察", "十三届", "常规", dt.date(2020, 9, 7)),
    ("十三届市委第八轮巡察", "十三届", "常规", dt.date(2021, 3, 8)),
    ("十四届市委第一轮巡察", "十四届", "常规", dt.date(2022, 3, 7)),
    ("十四届市委第二轮巡察（专项巡察）", "十四届", "专项", dt.date(2022, 9, 5)),
    ("十四届市委第三轮巡察", "十四届", "常规", dt.date(2023, 3, 6)),
    ("十四届市委第四轮巡察（整改“回头看”）", "十四届", "回头看", dt.date(2023, 9, 4)),
    ("十四届市委第五轮巡察", "十四届", "常规", dt.date(2024, 4, 8)),
    ("十四届市委第六轮巡察", "十四届", "常规", dt.date(2025, 3, 10)),
    ("十四届市委第七轮巡察", "十四届", "常规", dt.date(2026, 4, 13)),
]

OLD_FRAMEWORK_LABEL = {"A": "党的领导弱化", "B": "全面从严治党不力", "C": "党的建设缺失"}
GROUP_NUMERALS = ["一", "二", "三", "四", "五", "六", "七", "八"]

# Base frequency of each L2 category, in the order of categories.L2.
L2_CODES = [code for code, _, _ in categories.L2]
L2_BASE = np.array(
    [
        # A01..A06
        5,
        10,
        6,
        4,
        3,
        4,
        # B01..B07
        6,
        4,
        9,
        7,
        9,
        6,
        3,
        # C01..C07
        5,
        5,
        8,
        5,
        8,
        4,
        3,
        # D01..D04
        4,
        3,
        2,
        1,
        # Z99
        1,
    ],
    dtype=np.float64,
)
L2_L1 = np.array([categories.L2_PARENT[c] for c in L2_CODES])

STATUS_WORDS = {
    "DONE": ["已完成", "完成整改", "已整改", "已整改到位", "已销号", "已整改销号"],
    "PHASED": ["基本完成", "阶段性完成", "取得阶段性成效"],
    "IN_PROGRESS": ["正在整改", "正在推进", "整改中", "持续推进", "进行中", "部分整改"],
    "NOT_DONE": ["未完成", "超期未完成"],
    "LONG_TERM": ["长期坚持"],
}
SIX_DISCIPLINES = ["政治纪律", "组织纪律", "廉洁纪律", "群众纪律", "工作纪律", "生活纪律"]
FOUR_WINDS = [
    "违规吃喝",
    "违规收送礼品礼金",
    "违规发放津补贴或福利",
    "公款旅游",
    "违规配备使用公务用车",
    "超标准接待",
]
PERSONNEL = ["超职数配备", "违规提拔", "档案管理不规范", "兼职取酬", "因私出国(境)管理"]
CN_MONTHS = "一二三四五六七八九十"


@dataclass(frozen=True)
class DemoSummary:
    rounds: int
    units: int
    inspections: int
    findings: int
    measures: int
    clues: int


def build(
    con: duckdb.DuckDBPyConnection,
    *,
    seed: int = DEFAULT_SEED,
    findings: int | None = None,
    as_of: dt.date = DEMO_AS_OF,
    online: bool = True,
) -> DemoSummary:
    """Insert a whole demo city into an empty, migrated store (inside the caller's transaction).
    `online`: with the online reports, reviews and closures of xuncha.rectify.demo_activity
    and the 整改成效评估 entries and confirmations of xuncha.evaluation.demo_entries (the
    manual items of every unit of the rounds whose rectification period has ended, so the
    evaluation shows grades); their evidence file must be put first
    (demo_activity.put_demo_evidence)."""
    frames = generate(seed=seed, findings=findings, as_of=as_of)
    con.execute(
        "INSERT INTO import_batches (batch_id, kind, file_name, user_name, created_at, as_of,"
        " rows_read, findings_added, findings_updated, measures_added, measures_updated, note)"
        " VALUES (1, 'demo', NULL, 'system', ?, ?, 0, ?, 0, ?, 0, ?)",
        [
            dt.datetime.combine(as_of, dt.time(18, 0)),
            as_of,
            frames["findings"].height,
            frames["measures"].height,
            f"演示数据 seed={seed}",
        ],
    )
    for table in (
        "rounds",
        "units",
        "inspections",
        "findings",
        "measures",
        "measure_status_history",
        "measure_deadline_history",
        "clues",
        "outcomes",
    ):
        frame = frames[table]
        con.register("demo_frame", frame)
        try:
            columns = ", ".join(frame.columns)
            con.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM demo_frame")
        finally:
            con.unregister("demo_frame")
    con.execute("SELECT setval('history_seq', ?)", [_max_history_id(frames)])
    # The online reports, reviews and closures of the demo city (no figure changes), and the
    # 整改成效评估's manual items entered and confirmed.
    if online:
        demo_activity.add(con, as_of=as_of)
        demo_entries.add(con, as_of=as_of)
    con.execute(
        "INSERT OR REPLACE INTO store_meta VALUES ('demo', 'true'), ('demo_as_of', ?),"
        " ('demo_seed', ?)",
        [as_of.isoformat(), str(seed)],
    )
    return DemoSummary(
        rounds=frames["rounds"].height,
        units=frames["units"].height,
        inspections=frames["inspections"].height,
        findings=frames["findings"].height,
        measures=frames["measures"].height,
        clues=frames["clues"].height,
    )


# ------------------------------------------------------------------------------------------
# building a demo store


class DemoRefused(Exception):
    """The store holds real data or users: no demo is built over it (message in Chinese)."""


@dataclass(frozen=True)
class DemoBuild:
    summary: DemoSummary
    version: int
    moved_aside: Path | None  # the real store, renamed aside for a forced demo


def build_store(
    store: Store,
    *,
    user: str,
    source: str,
    seed: int = DEFAULT_SEED,
    findings: int | None = None,
    force: bool = False,
) -> DemoBuild:
    """Build the demo city as a new version of `store` and record it in the audit trail: the
    one way the command line (`xuncha demo`, the first `xuncha serve`) and the dashboard build
    a demo store.

    A store that holds real data (a version that is not the demo's) or users is never turned
    into a demo, which opens without a login: DemoRefused, nothing changed. With `force` the
    whole real store (its versions, users, archived briefings, configuration and audit trail)
    is first renamed aside to a sibling `STORE.before-demo-YYYYmmddHHMMSS`, with a record of
    that in its own trail, and the demo is built in a new, empty store at the path: nothing
    real stays where the demo is served. The trail is checked before anything is written
    (xuncha.audit.check_before_write) and the build recorded once it is published."""
    reasons = real_contents(store)
    moved: Path | None = None
    if reasons and not force:
        raise DemoRefused(
            f"数据仓 {store.root} 含有{'、'.join(reasons)}，不能改作演示数据仓（演示数据仓无需登录即可打开），"
            f"未作任何更改；演示数据请另建目录（如 xuncha demo --db data/demo）。"
            f"确需在此生成时用 xuncha demo --force：原数据仓将整体改名保留为 {store.root.name}.before-demo-时间"
        )
    if reasons:
        moved = _move_aside(store, reasons, user=user, source=source)
    audit.check_before_write(store.root, "生成演示数据")
    demo_activity.put_demo_evidence(store)  # before the version that names it
    summary, version = store.write(lambda con: build(con, seed=seed, findings=findings), fresh=True)
    try:
        audit.record(
            store.root,
            user=user,
            action="demo_build",
            source=source,
            data_version=version,
            seed=seed,
            findings=summary.findings,
            measures=summary.measures,
            rounds=summary.rounds,
            units=summary.units,
            replaced=str(moved) if moved else None,
        )
    except audit.AuditError as exc:
        raise audit.AuditError(
            f"演示数据已生成（数据版本 {version}），但审计记录写入失败：{exc}；"
            "请管理员立即核查（xuncha audit verify）"
        ) from exc
    return DemoBuild(summary=summary, version=version, moved_aside=moved)


def is_demo_store(reader: Reader) -> bool:
    """Whether the reader's data version is the demo generator's (store_is_demo.sql)."""
    return bool(reader.query("store_is_demo")["is_demo"][0])


def real_contents(store: Store) -> list[str]:
    """What makes `store` more than a demo, in words ([] for a demo or an empty store): a data
    version that is not the demo's (or that does not open: it cannot be told apart), users."""
    reasons: list[str] = []
    real: list[int] = []
    for number in store.versions():
        try:  # a sealed version that cannot be unsealed here cannot be told apart either
            con = crypto.connect_read_only(
                store.file_for(number), store.key(), BASE_CONFIG | reader_limits()
            )
        except (duckdb.Error, crypto.CryptoError, StoreError):
            real.append(number)
            continue
        try:
            rows = con.execute("SELECT value FROM store_meta WHERE key = 'demo'").fetchall()
        except duckdb.Error:
            rows = []
        finally:
            con.close()
        if not rows or rows[0][0] != "true":
            real.append(number)
    if real:
        listed = "、".join(str(n) for n in real)
        reasons.append(f"真实数据（数据版本 {listed} 不是演示数据）")
    users = UserStore(store.root)
    if users.path.is_file() and users.has_users():
        reasons.append(f"{len(users.list_users())} 个用户账号")
    return reasons


def _move_aside(store: Store, reasons: list[str], *, user: str, source: str) -> Path:
    """Rename the whole real store to a sibling folder, recorded in its own trail first."""
    aside = aside_path(store.root, "before-demo")
    audit.check_before_write(store.root, "生成演示数据（原数据仓改名保留）")
    audit.record(
        store.root,
        user=user,
        action="demo_build",
        step="move_aside",
        source=source,
        reasons=reasons,
        moved_to=str(aside),
    )
    # No version is published and no record appended while the folder moves.
    with store.writer_lock(), audit.locked(store.root):
        os.rename(store.root, aside)
    return aside


def _frame(columns: dict[str, object]) -> pl.DataFrame:
    """A frame from numpy arrays: object arrays become strings, datetime64 become dates."""
    series = []
    for name, values in columns.items():
        if isinstance(values, np.ndarray) and values.dtype == object:
            series.append(pl.Series(name, values.tolist(), dtype=pl.String))
        elif isinstance(values, np.ndarray) and values.dtype.kind == "M":
            series.append(pl.Series(name, values.astype("datetime64[D]")).cast(pl.Date))
        elif isinstance(values, pl.Series):
            series.append(values.alias(name))
        else:
            series.append(pl.Series(name, values))
    return pl.DataFrame(series)


def _max_history_id(frames: dict[str, pl.DataFrame]) -> int:
    ids = [
        frames["measure_status_history"]["history_id"].max(),
        frames["measure_deadline_history"]["history_id"].max(),
    ]
    return int(max(int(i) for i in ids if i is not None))


# ------------------------------------------------------------------------------------------
# generation


def generate(
    *, seed: int = DEFAULT_SEED, findings: int | None = None, as_of: dt.date = DEMO_AS_OF
) -> dict[str, pl.DataFrame]:
    rng = np.random.default_rng(seed)
    natural_units = len(demo_text.UNITS)
    # About 65 findings per unit over the nine rounds at natural scale.
    n_units = natural_units if findings is None else max(natural_units, round(findings / 65))
    units = _units(rng, n_units)
    rounds = _rounds()
    inspections = _inspections(rng, units, rounds)
    unit_traits = _unit_traits(rng, units.height)
    counts = _finding_counts(rng, inspections, units, unit_traits, findings)
    finding_frame = _findings(rng, inspections, units, rounds, unit_traits, counts)
    measures, status_hist, deadline_hist = _measures(
        rng, finding_frame, inspections, units, unit_traits, as_of
    )
    clues = _clues(rng, inspections, unit_traits, as_of)
    outcomes = _outcomes(rng, inspections, counts, as_of)
    return {
        "rounds": rounds,
        "units": units,
        "inspections": inspections.drop("peer_group", "round_seq", "round_kind"),
        "findings": finding_frame.drop("feedback_date", "entry_end", "peer_group", "stuck"),
        "measures": measures,
        "measure_status_history": status_hist,
        "measure_deadline_history": deadline_hist,
        "clues": clues,
        "outcomes": outcomes,
    }


def _units(rng: np.random.Generator, n_units: int) -> pl.DataFrame:
    rows = list(demo_text.UNITS)
    # Province scale: synthesise more units from county × place stems, in peer-group mix.
    extra = n_units - len(rows)
    if extra > 0:
        kinds = [
            ("镇", "乡镇街道", "基层治理"),
            ("街道", "乡镇街道", "基层治理"),
            ("社区", "村社区", "基层治理"),
            ("村", "村社区", "基层治理"),
        ]
        counties, stems = demo_text.COUNTIES, demo_text.TOWN_STEMS
        used = {r[0] for r in rows} | {r[1] for r in rows}
        k = 0
        while len(rows) < n_units:
            county = counties[k % len(counties)]
            stem = stems[(k // len(counties)) % len(stems)]
            serial = k // (len(counties) * len(stems)) + 1
            suffix, peer, sector = kinds[(k // len(counties)) % len(kinds)]
            k += 1
            place = f"{stem}{suffix}" if serial == 1 else f"{stem}{serial}{suffix}"
            party = "党工委" if suffix == "街道" else "党委"
            name, short = f"江城市{county}{place}{party}", f"{county}{place}"
            if name in used or short in used:
                continue
            used.update((name, short))
            rows.append((name, short, sector, peer))
    return _frame(
        {
            "unit_id": np.arange(1, n_units + 1, dtype=np.int32),
            "name": [r[0] for r in rows[:n_units]],
            "short_name": [r[1] for r in rows[:n_units]],
            "sector": [r[2] for r in rows[:n_units]],
            "peer_group": [r[3] for r in rows[:n_units]],
        }
    )


def _rounds() -> pl.DataFrame:
    return _frame(
        {
            "round_id": np.arange(1, len(ROUNDS) + 1, dtype=np.int32),
            "name": [r[0] for r in ROUNDS],
            "term": [r[1] for r in ROUNDS],
            "seq": np.arange(1, len(ROUNDS) + 1, dtype=np.int32),
            "kind": [r[2] for r in ROUNDS],
            "start_date": [r[3] for r in ROUNDS],
            "end_date": [r[3] + dt.timedelta(days=120) for r in ROUNDS],
        }
    )


def _inspections(
    rng: np.random.Generator, units: pl.DataFrame, rounds: pl.DataFrame
) -> pl.DataFrame:
    n_units = units.height
    peer = units["peer_group"].to_numpy()
    unit_ids = units["unit_id"].to_numpy()
    offset = rng.permutation(n_units)
    chosen_round: list[np.ndarray] = []
    chosen_unit: list[np.ndarray] = []
    seen: list[np.ndarray] = []
    for r_idx, (_, _, kind, _) in enumerate(ROUNDS):
        if kind == "常规":
            # Rotation: every unit comes up about every third regular round.
            mask = (offset + r_idx) % 3 == 0
        elif kind == "专项":
            mask = np.isin(peer, ["国有企业", "村社区"]) & (rng.random(n_units) < 0.7)
        else:  # 回头看: revisit about a third of those inspected in the last two rounds
            recent = np.unique(np.concatenate(seen[-2:]))
            mask = np.isin(unit_ids, recent) & (rng.random(n_units) < 0.35)
        picked = unit_ids[mask]
        chosen_round.append(np.full(picked.size, r_idx + 1, dtype=np.int32))
        chosen_unit.append(picked.astype(np.int32))
        seen.append(picked)
    round_id = np.concatenate(chosen_round)
    unit_id = np.concatenate(chosen_unit)
    n = round_id.size
    starts = np.array([np.datetime64(r[3]) for r in ROUNDS])[round_id - 1]
    entry_start = starts + rng.integers(0, 8, n) * DAY
    entry_len = np.where(np.array([ROUNDS[i - 1][2] for i in round_id]) == "回头看", 15, 30)
    entry_end = entry_start + (entry_len + rng.integers(-3, 10, n)) * DAY
    feedback = entry_end + rng.integers(35, 70, n) * DAY
    group = np.array([f"市委第{GROUP_NUMERALS[g]}巡察组" for g in range(8)])[rng.integers(0, 8, n)]
    frame = _frame(
        {
            "inspection_id": np.arange(1, n + 1, dtype=np.int32),
            "round_id": round_id,
            "unit_id": unit_id,
            "group_name": group,
            "entry_start": entry_start.astype("datetime64[D]"),
            "entry_end": entry_end.astype("datetime64[D]"),
            "feedback_date": feedback.astype("datetime64[D]"),
        }
    )
    return (
        frame.join(units.select("unit_id", "peer_group"), on="unit_id", how="left")
        .join(
            rounds.select(
                pl.col("round_id"),
                pl.col("seq").alias("round_seq"),
                pl.col("kind").alias("round_kind"),
            ),
            on="round_id",
            how="left",
        )
        .sort("inspection_id")
    )


@dataclass(frozen=True)
class _Traits:
    proneness: np.ndarray  # finding-count multiplier
    stuck: np.ndarray  # share of findings that will not be fully rectified
    weak: np.ndarray  # (units, 3) indices of weak L2 categories


def _unit_traits(rng: np.random.Generator, n_units: int) -> _Traits:
    weights = L2_BASE / L2_BASE.sum()
    weak = np.stack(
        [
            rng.choice(len(L2_CODES) - 1, size=3, replace=False, p=_renorm(weights[:-1]))
            for _ in range(min(n_units, 4096))
        ]
    )
    if n_units > weak.shape[0]:  # reuse profiles at province scale, cheaply
        weak = weak[np.arange(n_units) % weak.shape[0]]
    return _Traits(
        proneness=rng.lognormal(0.0, 0.35, n_units),
        stuck=rng.beta(1.3, 16.0, n_units) * 1.3,
        weak=weak,
    )


def _renorm(p: np.ndarray) -> np.ndarray:
    return p / p.sum()


def _finding_counts(
    rng: np.random.Generator,
    inspections: pl.DataFrame,
    units: pl.DataFrame,
    traits: _Traits,
    target: int | None,
) -> np.ndarray:
    base_by_peer = {"市直部门": 22, "乡镇街道": 26, "国有企业": 24, "学校医院": 18, "村社区": 9}
    peer = inspections["peer_group"].to_numpy()
    base = np.array([base_by_peer[p] for p in peer], dtype=np.float64)
    kind = inspections["round_kind"].to_numpy()
    base = np.where(kind == "回头看", base * 0.35, base)
    lam = base * traits.proneness[inspections["unit_id"].to_numpy() - 1]
    counts = np.maximum(rng.poisson(lam), 2)
    if target is not None:
        scaled = counts * (target / counts.sum())
        counts = np.floor(scaled).astype(np.int64)
        remainder = target - counts.sum()
        if remainder > 0:
            order = np.argsort(-(scaled - counts), kind="stable")[:remainder]
            counts[order] += 1
        counts = np.maximum(counts, 1) if target >= counts.size else counts
    return counts.astype(np.int64)


def _findings(
    rng: np.random.Generator,
    inspections: pl.DataFrame,
    units: pl.DataFrame,
    rounds: pl.DataFrame,
    traits: _Traits,
    counts: np.ndarray,
) -> pl.DataFrame:
    n = int(counts.sum())
    insp_idx = np.repeat(np.arange(inspections.height), counts)
    unit_id = inspections["unit_id"].to_numpy()[insp_idx]
    round_id = inspections["round_id"].to_numpy()[insp_idx]
    kind = inspections["round_kind"].to_numpy()[insp_idx]

    # Category weights: base × the unit's weak spots × the round's hot spots (Gumbel-max).
    hot_rng = np.random.default_rng(rng.integers(1 << 62))
    hot = np.stack([hot_rng.choice(len(L2_CODES) - 1, 3, replace=False) for _ in ROUNDS])
    focus = rng.normal(0.0, 1.6, (inspections.height, len(L2_CODES)))
    l2_idx = np.empty(n, dtype=np.int64)
    log_base = np.log(L2_BASE)
    d01, d04 = L2_CODES.index("D01"), L2_CODES.index("D04")
    for start in range(0, n, 200_000):
        stop = min(n, start + 200_000)
        m = stop - start
        logits = np.broadcast_to(log_base, (m, len(L2_CODES))).copy()
        rows = np.arange(m)
        weak = traits.weak[unit_id[start:stop] - 1]
        for j in range(3):
            logits[rows, weak[:, j]] += np.log(3.0)
        # Each inspection concentrates on some categories (what its group dug into).
        logits += focus[insp_idx[start:stop]]
        hot_rows = hot[round_id[start:stop] - 1]
        for j in range(3):
            logits[rows, hot_rows[:, j]] += np.log(4.0)
        back = kind[start:stop] == "回头看"
        logits[back, d01] += np.log(12.0)
        logits[back, d04] += np.log(5.0)
        gumbel = -np.log(-np.log(rng.random((m, len(L2_CODES)))))
        l2_idx[start:stop] = np.argmax(logits + gumbel, axis=1)
    l2 = np.array(L2_CODES)[l2_idx]
    l1 = L2_L1[l2_idx]

    severity = rng.choice(["一般", "较重", "严重"], n, p=[0.7, 0.22, 0.08])
    person_level = rng.choice(
        ["一般干部", "中层", "班子成员", "一把手"], n, p=[0.4, 0.35, 0.2, 0.05]
    )
    money_cats = np.isin(l2, ["A06", "B03", "B05", "B06", "D02"])
    has_amount = money_cats & (rng.random(n) < 0.6)
    amount = np.round(rng.lognormal(2.6, 1.1, n), 2)
    immediate = rng.random(n) < 0.12

    # Text from the template bank.
    feedback = inspections["feedback_date"].to_numpy()[insp_idx]
    year = feedback.astype("datetime64[Y]").astype(int) + 1970 - 1
    templates = demo_text.FINDING_TEMPLATES
    counts_per_l2 = np.array([len(templates[c]) for c in L2_CODES])
    pick = (rng.random(n) * counts_per_l2[l2_idx]).astype(np.int64)
    flat_titles: list[str] = []
    flat_details: list[str] = []
    offsets = np.zeros(len(L2_CODES), dtype=np.int64)
    running = 0
    for i, code in enumerate(L2_CODES):
        offsets[i] = running
        for title, detail in templates[code]:
            flat_titles.append(title)
            flat_details.append(detail)
            running += 1
    tmpl_idx = offsets[l2_idx] + pick
    short_names = units["short_name"].to_numpy()[unit_id - 1]
    small_n = rng.integers(2, 16, n)
    amount_text = np.where(has_amount, amount, np.round(rng.uniform(1, 50, n), 1))
    frame = _frame(
        {
            "title_t": np.array(flat_titles, dtype=object)[tmpl_idx],
            "detail_t": np.array(flat_details, dtype=object)[tmpl_idx],
            "unit": short_names,
            "year": year.astype(str),
            "n": small_n.astype(str),
            "amount": np.char.mod("%.1f", amount_text),
        }
    )
    title, detail = [
        frame.select(
            pl.col(col)
            .str.replace_all("{unit}", pl.col("unit"), literal=True)
            .str.replace_all("{year}", pl.col("year"), literal=True)
            .str.replace_all("{n}", pl.col("n"), literal=True)
            .str.replace_all("{amount}", pl.col("amount"), literal=True)
        ).to_series()
        for col in ("title_t", "detail_t")
    ]

    title, detail = _restate_earlier(rng, unit_id, round_id, l2, short_names, title, detail)

    # Tags by category, plus 重点关注 on a share of the serious ones.
    tags = _tags(rng, l2, severity)

    term = rounds["term"].to_numpy()[round_id - 1]
    ledger_label = {code: label for code, _, label in categories.L1}
    source = np.array([ledger_label[c] for c in l1], dtype=object)
    old = term == "十三届"
    for code, label in OLD_FRAMEWORK_LABEL.items():
        source[old & (l1 == code)] = label
    stuck_share = traits.stuck[unit_id - 1]
    # The latest round is still in rectification; older rounds mostly finished.
    return _frame(
        {
            "finding_id": np.arange(1, n + 1, dtype=np.int32),
            "inspection_id": inspections["inspection_id"].to_numpy()[insp_idx],
            "round_id": round_id,
            "unit_id": unit_id,
            "category_l1": l1,
            "category_l2": l2,
            "tags": tags,
            "title": title,
            "detail": detail,
            "severity": severity,
            "person_level": person_level,
            "amount_wan": pl.Series(np.where(has_amount, amount, np.nan)).fill_nan(None),
            "immediate": immediate,
            "source_category_text": source,
            "feedback_date": feedback.astype("datetime64[D]"),
            "entry_end": inspections["entry_end"].to_numpy()[insp_idx].astype("datetime64[D]"),
            "peer_group": inspections["peer_group"].to_numpy()[insp_idx],
            "stuck": rng.random(n) < stuck_share,
        }
    ).with_columns(pl.col("amount_wan").cast(pl.Decimal(14, 2)))


def _restate_earlier(
    rng: np.random.Generator,
    unit_id: np.ndarray,
    round_id: np.ndarray,
    l2: np.ndarray,
    short_names: np.ndarray,
    title: pl.Series,
    detail: pl.Series,
) -> tuple[pl.Series, pl.Series]:
    """Most 上轮整改不到位 (D01) findings restate an earlier finding of the same unit, in other
    words and under another category, as real reports do: the similar-text suggestions of the
    repeats page find these."""
    n = unit_id.size
    base = pl.DataFrame(
        {
            "idx": np.arange(n),
            "unit_id": unit_id,
            "round_id": round_id,
            "l2": l2,
            "title": title,
            "detail": detail,
            "key": rng.random(n),
            "take": rng.random(n) < 0.7,
            "unit": short_names,
        }
    )
    wanted = base.filter((pl.col("l2") == "D01") & pl.col("take")).select(
        "idx", "unit_id", "round_id", "unit"
    )
    earlier = base.filter(pl.col("l2") != "D01").select(
        "unit_id",
        pl.col("round_id").alias("earlier_round"),
        pl.col("title").alias("t0"),
        pl.col("detail").alias("d0"),
        "key",
    )
    picked = (
        wanted.join(earlier, on="unit_id")
        .filter(pl.col("earlier_round") < pl.col("round_id"))
        .sort("idx", "key")
        .group_by("idx", maintain_order=True)
        .first()
    )
    if picked.is_empty():
        return title, detail
    restated = picked.select(
        "idx",
        pl.format("上轮巡察指出的“{}”问题整改不到位", pl.col("t0")).alias("new_title"),
        pl.format(
            "上轮巡察反馈{}{}，整改措施落实不到位，本轮巡察发现问题依然存在：{}",
            pl.col("unit"),
            pl.col("t0"),
            pl.col("d0"),
        ).alias("new_detail"),
    )
    merged = base.select("idx", "title", "detail").join(restated, on="idx", how="left").sort("idx")
    return (
        merged.select(pl.coalesce("new_title", "title")).to_series().alias("title"),
        merged.select(pl.coalesce("new_detail", "detail")).to_series().alias("detail"),
    )


def _tags(rng: np.random.Generator, l2: np.ndarray, severity: np.ndarray) -> pl.Series:
    n = l2.size
    first = np.full(n, "", dtype=object)
    second = np.full(n, "", dtype=object)
    rules = {
        "B03": (FOUR_WINDS, "廉洁纪律"),
        "B04": (["形式主义", "官僚主义"], "工作纪律"),
        "C03": (PERSONNEL, "组织纪律"),
        "C07": (PERSONNEL, "组织纪律"),
        "A01": (None, "政治纪律"),
        "A04": (None, "政治纪律"),
        "A06": (None, "群众纪律"),
        "B05": (None, "廉洁纪律"),
        "B06": (None, "廉洁纪律"),
        "C04": (None, "组织纪律"),
        "A02": (None, "工作纪律"),
        "A03": (None, "工作纪律"),
    }
    for code, (subtypes, discipline) in rules.items():
        mask = l2 == code
        k = int(mask.sum())
        if not k:
            continue
        first[mask] = discipline
        if subtypes:
            second[mask] = np.array(subtypes, dtype=object)[rng.integers(0, len(subtypes), k)]
    focus = ((severity == "严重") & (rng.random(n) < 0.6)) | (rng.random(n) < 0.03)
    third = np.where(focus, "重点关注", "")
    frame = _frame({"a": first, "b": second, "c": third})
    return frame.select(
        pl.concat_list("a", "b", "c")
        .list.eval(pl.element().filter(pl.element() != ""))
        .alias("tags")
    ).to_series()


def _measures(
    rng: np.random.Generator,
    findings: pl.DataFrame,
    inspections: pl.DataFrame,
    units: pl.DataFrame,
    traits: _Traits,
    as_of: dt.date,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    ref = np.datetime64(as_of)
    n_f = findings.height
    per = rng.choice([1, 2, 3], n_f, p=[0.2, 0.42, 0.38])
    f_idx = np.repeat(np.arange(n_f), per)
    m = f_idx.size
    ordinal = np.arange(m) - np.repeat(np.cumsum(per) - per, per)  # 0-based within finding

    feedback = findings["feedback_date"].to_numpy().astype("datetime64[D]")[f_idx]
    entry_end = findings["entry_end"].to_numpy().astype("datetime64[D]")[f_idx]
    immediate = findings["immediate"].to_numpy()[f_idx]
    l1 = findings["category_l1"].to_numpy()[f_idx]
    peer = findings["peer_group"].to_numpy()[f_idx]
    stuck_f = findings["stuck"].to_numpy()

    # Deadline kind and date.
    kind = rng.choice(["DATE", "RELATIVE", "LONG_TERM", "IMMEDIATE"], m, p=[0.6, 0.2, 0.12, 0.08])
    kind = np.where(immediate, "IMMEDIATE", kind)
    months = rng.integers(1, 7, m)
    raw_due = _add_months(feedback, months)
    date_form = rng.choice(
        ["month_end", "day", "dotted", "year_end", "half", "quarter"],
        m,
        p=[0.42, 0.2, 0.12, 0.1, 0.08, 0.08],
    )
    due = np.where(kind == "IMMEDIATE", entry_end, raw_due)
    due = np.where(kind == "RELATIVE", raw_due, due)
    due_date = np.where(kind == "DATE", _snap(raw_due, date_form), due)
    long_flag = (kind == "LONG_TERM") | ((kind == "DATE") & (rng.random(m) < 0.08))
    deadline_original = np.where(kind == "LONG_TERM", np.datetime64("NaT"), due_date)
    deadline_text = _deadline_text(kind, date_form, deadline_original, months, long_flag, rng)

    # Outcome: a "stuck" finding keeps at least its last measure unfinished.
    stuck = stuck_f[f_idx]
    last_of_finding = ordinal == per[f_idx] - 1
    unfinished = stuck & (last_of_finding | (rng.random(m) < 0.3))
    late = rng.random(m) < 0.18
    has_deadline = ~np.isnat(deadline_original)
    base_due = np.where(has_deadline, deadline_original, feedback + 120 * DAY)
    completed = np.where(
        late,
        base_due + rng.integers(1, 80, m) * DAY,
        base_due - rng.integers(0, 45, m) * DAY,
    )
    completed = np.maximum(completed, feedback + rng.integers(2, 15, m) * DAY)
    # 立行立改: mostly fixed during 进驻 (before the deadline, its end), a few just after.
    immediate_done = np.where(
        rng.random(m) < 0.9,
        entry_end - rng.integers(0, 15, m) * DAY,
        entry_end + rng.integers(1, 30, m) * DAY,
    )
    completed = np.where(kind == "IMMEDIATE", immediate_done, completed)
    done = ~unfinished & (completed <= ref)
    # Unfinished measures end as PHASED / LONG_TERM in old rounds, open in recent ones.
    age_days = (ref - feedback).astype(int)
    open_status = np.where(
        kind == "LONG_TERM",
        "LONG_TERM",
        rng.choice(["PHASED", "IN_PROGRESS", "NOT_DONE"], m, p=[0.45, 0.42, 0.13]),
    )
    # Old rounds' leftovers are mostly 基本完成 by now, not still 整改中.
    open_status = np.where(
        (age_days > 400)
        & np.isin(open_status, ["IN_PROGRESS", "NOT_DONE"])
        & (rng.random(m) < 0.85),
        "PHASED",
        open_status,
    )
    status = np.where(done, "DONE", open_status)
    completed_on = np.where(done, completed, np.datetime64("NaT"))
    closed_on = completed + rng.integers(7, 45, m) * DAY
    closed_on = np.where(done & (closed_on <= ref), closed_on, np.datetime64("NaT"))

    # Extensions (申请延期): some late or open dated measures got a new deadline.
    extend = has_deadline & (kind != "IMMEDIATE") & ((late & done) | ~done) & (rng.random(m) < 0.25)
    ext_on = deadline_original - rng.integers(3, 20, m) * DAY
    extend &= (ext_on > feedback) & (ext_on <= ref)
    new_deadline = deadline_original + rng.integers(30, 150, m) * DAY
    deadline_current = np.where(extend, new_deadline, deadline_original)

    status_words = np.empty(m, dtype=object)
    for key, words in STATUS_WORDS.items():
        mask = status == key
        status_words[mask] = np.array(words, dtype=object)[rng.integers(0, len(words), mask.sum())]
    status_words[extend & (status == "IN_PROGRESS")] = "申请延期"

    measure_id = np.arange(1, m + 1, dtype=np.int32)
    finding_id = findings["finding_id"].to_numpy()[f_idx]
    unit_short = units["short_name"].to_numpy()[findings["unit_id"].to_numpy()[f_idx] - 1]
    text = _measure_text(rng, l1, unit_short)
    lead_pick = _pick_by_peer(rng, peer, demo_text.LEAD_ROLES)
    dept_pick = _pick_by_peer(rng, peer, demo_text.DEPARTMENTS)
    persons = np.array(demo_text.PERSON_ROLES, dtype=object)[
        rng.integers(0, len(demo_text.PERSON_ROLES), m)
    ]
    evidence = np.array(demo_text.EVIDENCE_NOTES, dtype=object)[
        rng.integers(0, len(demo_text.EVIDENCE_NOTES), m)
    ]
    comp_year = np.where(done, completed, feedback).astype("datetime64[Y]").astype(int) + 1970
    evidence = np.array(
        [e.replace("{year}", str(y)) for e, y in zip(evidence, comp_year, strict=True)],
        dtype=object,
    )
    progress = np.empty(m, dtype=object)
    for key, notes in demo_text.PROGRESS_NOTES.items():
        mask = status == key
        progress[mask] = np.array(notes, dtype=object)[rng.integers(0, len(notes), mask.sum())]

    measures = _frame(
        {
            "measure_id": measure_id,
            "finding_id": finding_id,
            "text": text,
            "lead_person": lead_pick,
            "department": dept_pick,
            "person": persons,
            "deadline_kind": kind,
            "deadline_text": deadline_text,
            "deadline_original": deadline_original,
            "deadline_current": deadline_current,
            "long_term": long_flag,
            "status": status,
            "status_text": status_words,
            "completed_on": completed_on,
            "closed_on": closed_on,
            "evidence": np.where(done, evidence, None),
            "progress": progress,
        }
    )

    # Status history: 整改中 from 反馈; then the final state on its date.
    first_report = feedback + rng.integers(30, 75, m) * DAY
    final_date = np.where(
        done,
        completed,
        np.where(
            status == "NOT_DONE",
            np.minimum(np.where(has_deadline, deadline_current, first_report) + 15 * DAY, ref),
            np.minimum(first_report, ref),
        ),
    )
    final_date = np.maximum(final_date, feedback)
    initial = _frame(
        {"measure_id": measure_id, "status": np.full(m, "IN_PROGRESS"), "status_date": feedback}
    )
    later = _frame({"measure_id": measure_id, "status": status, "status_date": final_date})
    later = later.filter(pl.col("status") != "IN_PROGRESS")
    history = pl.concat([initial, later]).sort("measure_id", "status_date", maintain_order=True)
    history = history.with_columns(
        pl.int_range(1, history.height + 1, dtype=pl.Int64).alias("history_id"),
        pl.lit(1, dtype=pl.Int32).alias("batch_id"),
    )

    first_deadline = _frame(
        {
            "measure_id": measure_id,
            "deadline": deadline_original,
            "deadline_text": deadline_text,
            "effective_date": feedback,
            "reason": np.full(m, None, dtype=object),
        }
    )
    ext_rows = _frame(
        {
            "measure_id": measure_id[extend],
            "deadline": new_deadline[extend],
            "deadline_text": [f"申请延期至{_cn_date(d)}" for d in new_deadline[extend]],
            "effective_date": ext_on[extend],
            "reason": np.full(int(extend.sum()), "申请延期"),
        }
    )
    deadline_hist = pl.concat([first_deadline, ext_rows]).sort("measure_id", "effective_date")
    deadline_hist = deadline_hist.with_columns(
        pl.int_range(
            history.height + 1, history.height + 1 + deadline_hist.height, dtype=pl.Int64
        ).alias("history_id"),
        pl.lit(1, dtype=pl.Int32).alias("batch_id"),
    )
    return measures, history, deadline_hist


def _measure_text(rng: np.random.Generator, l1: np.ndarray, unit_short: np.ndarray) -> np.ndarray:
    out = np.empty(l1.size, dtype=object)
    for code, texts in demo_text.MEASURE_TEMPLATES.items():
        mask = l1 == code
        out[mask] = np.array(texts, dtype=object)[rng.integers(0, len(texts), mask.sum())]
    frame = _frame({"t": out, "u": unit_short})
    return (
        frame.select(pl.col("t").str.replace_all("{unit}", pl.col("u"), literal=True))
        .to_series()
        .to_numpy()
    )


def _pick_by_peer(
    rng: np.random.Generator, peer: np.ndarray, table: dict[str, list[str]]
) -> np.ndarray:
    out = np.empty(peer.size, dtype=object)
    for group, options in table.items():
        mask = peer == group
        out[mask] = np.array(options, dtype=object)[rng.integers(0, len(options), mask.sum())]
    return out


def _add_months(dates: np.ndarray, months: np.ndarray) -> np.ndarray:
    month = dates.astype("datetime64[M]")
    day_offset = (dates - month.astype("datetime64[D]")).astype(int)
    target = month + months.astype("timedelta64[M]")
    last = (target + np.timedelta64(1, "M")).astype("datetime64[D]") - DAY
    return np.minimum(target.astype("datetime64[D]") + day_offset * DAY, last)


def _snap(dates: np.ndarray, form: np.ndarray) -> np.ndarray:
    """Move a raw due date to what its written form means (the last day of the period)."""
    month = dates.astype("datetime64[M]")
    month_end = (month + np.timedelta64(1, "M")).astype("datetime64[D]") - DAY
    year = dates.astype("datetime64[Y]")
    year_end = (year + np.timedelta64(1, "Y")).astype("datetime64[D]") - DAY
    month_no = dates.astype("datetime64[M]").astype(int) % 12
    half_end = np.where(
        month_no < 6,
        (year.astype("datetime64[M]") + np.timedelta64(6, "M")).astype("datetime64[D]") - DAY,
        year_end,
    )
    quarter_start = year.astype("datetime64[M]") + ((month_no // 3) * 3).astype("timedelta64[M]")
    quarter_end = (quarter_start + np.timedelta64(3, "M")).astype("datetime64[D]") - DAY
    return np.select(
        [form == "month_end", form == "year_end", form == "half", form == "quarter"],
        [month_end, year_end, half_end, quarter_end],
        dates,
    )


def _cn_date(d: np.datetime64) -> str:
    day = d.astype("datetime64[D]").item()
    return f"{day.year}年{day.month}月{day.day}日"


def _deadline_text(
    kind: np.ndarray,
    form: np.ndarray,
    due: np.ndarray,
    months: np.ndarray,
    long_flag: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    out = np.empty(kind.size, dtype=object)
    immediate_words = np.array(["立行立改", "即知即改", "立即整改"], dtype=object)
    long_words = np.array(["长期坚持", "常态化", "长期坚持，常态推进"], dtype=object)
    for i in range(kind.size):
        k = kind[i]
        if k == "IMMEDIATE":
            out[i] = immediate_words[i % 3]
            continue
        if k == "LONG_TERM":
            out[i] = long_words[i % 3]
            continue
        if k == "RELATIVE":
            out[i] = f"反馈后{CN_MONTHS[months[i] - 1]}个月内" if i % 2 else f"{months[i]}个月内"
            continue
        day = due[i].astype("datetime64[D]").item()
        f = form[i]
        if f == "month_end":
            text = f"{day.year}年{day.month}月底前"
        elif f == "day":
            text = f"{day.year}年{day.month}月{day.day}日"
        elif f == "dotted":
            text = f"{day.year}.{day.month}.{day.day}"
        elif f == "year_end":
            text = f"{day.year}年底前"
        elif f == "half":
            text = f"{day.year}年{'上' if day.month <= 6 else '下'}半年"
        else:
            text = f"{day.year}年{CN_MONTHS[(day.month - 1) // 3]}季度"
        out[i] = text + ("完成，长期坚持" if long_flag[i] else "")
    return out


def _clues(
    rng: np.random.Generator, inspections: pl.DataFrame, traits: _Traits, as_of: dt.date
) -> pl.DataFrame:
    ref = np.datetime64(as_of)
    lam = 2.2 * traits.proneness[inspections["unit_id"].to_numpy() - 1]
    counts = rng.poisson(lam)
    idx = np.repeat(np.arange(inspections.height), counts)
    n = idx.size
    routing = rng.choice(["移送纪委监委", "移交组织部", "交办被巡察单位"], n, p=[0.6, 0.25, 0.15])
    disposal = rng.choice(
        ["谈话函询", "初步核实", "暂存待查", "予以了结"], n, p=[0.35, 0.35, 0.1, 0.2]
    )
    form = rng.choice(
        ["第一种形态", "第二种形态", "第三种形态", "第四种形态", ""],
        n,
        p=[0.55, 0.25, 0.07, 0.03, 0.10],
    )
    form = np.where(disposal == "予以了结", "", form)
    feedback = inspections["feedback_date"].to_numpy().astype("datetime64[D]")[idx]
    closed = feedback + rng.integers(30, 260, n) * DAY
    return _frame(
        {
            "clue_id": np.arange(1, n + 1, dtype=np.int32),
            "inspection_id": inspections["inspection_id"].to_numpy()[idx],
            "routing": routing,
            "disposal": np.where(routing == "移送纪委监委", disposal, None),
            "form": np.where(form == "", None, form),
            "persons": rng.choice([1, 1, 1, 2, 2, 3], n).astype(np.int32),
            "closed_on": np.where(closed <= ref, closed, np.datetime64("NaT")),
        }
    )


def _outcomes(
    rng: np.random.Generator, inspections: pl.DataFrame, counts: np.ndarray, as_of: dt.date
) -> pl.DataFrame:
    n = inspections.height
    feedback = inspections["feedback_date"].to_numpy().astype("datetime64[D]")
    matured = np.clip((np.datetime64(as_of) - feedback).astype(int) / 180.0, 0.1, 1.0)
    return _frame(
        {
            "inspection_id": inspections["inspection_id"].to_numpy(),
            "regulations": rng.poisson(counts * 0.35 * matured).astype(np.int32),
            "funds_wan": pl.Series(
                np.round(rng.lognormal(2.2, 1.3, n) * (rng.random(n) < 0.7) * matured, 2)
            ).cast(pl.Decimal(14, 2)),
            "persons_accountable": rng.poisson(1.2 * matured, n).astype(np.int32),
        }
    )


def last_day_of_month(year: int, month: int) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1])
