"""What a sandbox query can end in besides rows: refused, timed out, out of memory, or failed."""

from __future__ import annotations


class SandboxProblem(Exception):
    """A query that gave no rows. `message` is one line of Chinese fit to show a user (no file
    paths); `reason` is a short code for the audit trail; `detail` is the engine's own text,
    with paths removed, for a page that wants to show where in the SQL it went wrong."""

    outcome = "error"

    def __init__(self, message: str, *, reason: str, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.detail = detail


class SandboxRefused(SandboxProblem):
    """Refused before it ran: not a single query, too long, or it reached for something the
    sandbox does not allow (files, settings, writes)."""

    outcome = "refused"


class SandboxTimeout(SandboxProblem):
    """Stopped at the time limit."""

    outcome = "timeout"


class SandboxError(SandboxProblem):
    """Ran and failed (syntax, unknown column, …), or the sandbox itself failed."""

    outcome = "error"


class SandboxOutOfMemory(SandboxError):
    """Stopped at the memory limit: the engine's own (DuckDB's memory_limit), the query
    process's address space (the operating system refused it memory), or the kernel killed it."""

    outcome = "out_of_memory"
