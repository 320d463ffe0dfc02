"""Local users, roles and permissions, sessions and logins (DOMAIN.md §7).

Users live in `STORE_ROOT/auth/users.sqlite`, outside the versioned data the SQL sandbox is
built from. Never imports streamlit: the UI asks this package, it does not decide.
"""

from xuncha.auth.access import (
    ALL_PERMISSIONS,
    BRIEFING,
    CLUE_DETAILS,
    EDIT_CONFIG,
    EXPORT,
    EXPORT_AUDIT,
    IMPORT,
    MANAGE_USERS,
    PERMISSIONS,
    ROLE_PERMISSIONS,
    ROLES,
    SQL,
    VIEW_AUDIT,
    VIEW_PAGES,
    Access,
    AuthError,
    PermissionDenied,
)
from xuncha.auth.passwords import check_policy, generate, policy_problem
from xuncha.auth.scope import canonical_scope, scope_ids
from xuncha.auth.users import (
    SESSION_END_REASONS,
    LoginResult,
    SessionEnded,
    User,
    UserStore,
    UserStoreError,
    canonical_name,
    client_address,
    command_access,
    ensure_first_admin,
    trusted_client_header,
    trusted_header_name,
)

__all__ = [
    "ALL_PERMISSIONS",
    "BRIEFING",
    "CLUE_DETAILS",
    "EDIT_CONFIG",
    "EXPORT",
    "EXPORT_AUDIT",
    "IMPORT",
    "MANAGE_USERS",
    "PERMISSIONS",
    "ROLES",
    "ROLE_PERMISSIONS",
    "SESSION_END_REASONS",
    "SQL",
    "VIEW_AUDIT",
    "VIEW_PAGES",
    "Access",
    "AuthError",
    "LoginResult",
    "PermissionDenied",
    "SessionEnded",
    "User",
    "UserStore",
    "UserStoreError",
    "canonical_name",
    "canonical_scope",
    "check_policy",
    "client_address",
    "command_access",
    "ensure_first_admin",
    "generate",
    "policy_problem",
    "scope_ids",
    "trusted_client_header",
    "trusted_header_name",
]
