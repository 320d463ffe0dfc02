"""The 数据查询 page's sandbox, opened for this session's scope and rights."""

from __future__ import annotations

from typing import Any

import streamlit as st

from xuncha.auth import SQL
from xuncha.filters import Scope
from xuncha.ui.data import store
from xuncha.ui.session import clue_details, require


def sandbox(scope: Scope) -> Any:
    """The SQL sandbox for this scope on the current data version (built once per version
    and scope, then reused: its data are read-only copies and its configuration locked).
    Clue details only for the roles allowed them (none until login arrives: counts only)."""
    from xuncha.sandbox import Sandbox, SandboxProblem

    require(SQL)
    try:  # opened in a query process: the pool may be busy or a process fail to start
        return Sandbox.for_scope(store(), scope, clue_details=clue_details())
    except SandboxProblem as exc:
        st.error(exc.message, icon=":material/error:")
        st.stop()
        raise  # st.stop() does not return
