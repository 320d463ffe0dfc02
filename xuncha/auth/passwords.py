"""Passwords: the policy, generated passwords, and Argon2id hashing (argon2-cffi)."""

from __future__ import annotations

import secrets
import unicodedata

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from xuncha.auth.access import AuthError

MIN_LENGTH = 10
MAX_LENGTH = 256  # longer input is refused rather than hashed (no work for nothing)
MIN_CLASSES = 3
GENERATED_LENGTH = 16
# Letters and digits that cannot be mistaken for one another when read off a screen.
_LOWER = "abcdefghijkmnpqrstuvwxyz"
_UPPER = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_DIGITS = "23456789"


def default_hasher() -> PasswordHasher:
    """Argon2id with the RFC 9106 low-memory profile (argon2-cffi's default: t=3, 64 MiB)."""
    return PasswordHasher()


def character_classes(password: str) -> int:
    lower = any(c.islower() for c in password)
    upper = any(c.isupper() for c in password)
    digit = any(c.isdigit() for c in password)
    other = any(not (c.islower() or c.isupper() or c.isdigit()) for c in password)
    return sum((lower, upper, digit, other))


def policy_problem(password: str, user: str = "") -> str | None:
    """Why a password is refused (Chinese), or None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return f"密码至少 {MIN_LENGTH} 个字符"
    if len(password) > MAX_LENGTH:
        return f"密码不能超过 {MAX_LENGTH} 个字符"
    if any(unicodedata.category(c) in ("Cc", "Cf") for c in password):
        return "密码不能包含控制字符"
    if character_classes(password) < MIN_CLASSES:
        return "密码须包含小写字母、大写字母、数字、其他符号中的至少 3 类"
    if user and _fold(password) == _fold(user):
        return "密码不能与用户名相同"
    return None


def check_policy(password: str, user: str = "") -> None:
    problem = policy_problem(password, user)
    if problem:
        raise AuthError(problem)


def generate(length: int = GENERATED_LENGTH) -> str:
    """A random password that meets the policy: letters and digits, each class present."""
    if length < MIN_LENGTH:
        raise ValueError("generated passwords must meet the minimum length")
    alphabet = _LOWER + _UPPER + _DIGITS
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(length))
        if all(any(c in cls for c in candidate) for cls in (_LOWER, _UPPER, _DIGITS)):
            return candidate


def verify(hasher: PasswordHasher, stored: str, password: str) -> bool:
    """True when `password` matches the stored hash; False for a mismatch or a bad hash."""
    try:
        return bool(hasher.verify(stored, password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().casefold()


__all__ = [
    "GENERATED_LENGTH",
    "MAX_LENGTH",
    "MIN_LENGTH",
    "check_policy",
    "default_hasher",
    "generate",
    "policy_problem",
    "verify",
]
