"""Password rules and hashes: the PRD's policy, argon2id, and the upgrade path from bcrypt.

Policy (PRD, HIPAA section): at least 12 characters with an upper-case letter, a lower-case letter, a digit
and a special character, and not one of the common passwords in data/common_passwords.txt (which says where
its entries come from and how a password is compared with them).

Hashes are argon2id with the parameters OWASP's Password Storage Cheat Sheet gives as its first choice
(m = 19 MiB, t = 2, p = 1): 40-50 ms a check on the 2-core CI machine, so guessing is slow and a sign-in page is
not. Hashes written before argon2 (bcrypt, "$2b$...") still verify; `verify` says when a hash should be
replaced, and the sign-in replaces it with argon2id (also when these parameters are raised later).
"""

from __future__ import annotations

import contextlib
import functools
import re
from pathlib import Path

import bcrypt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from operational_api.errors import PlatformError

MIN_LENGTH = 12
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, hash_len=32, salt_len=16)
COMMON_PASSWORDS_FILE = Path(__file__).with_name("data") / "common_passwords.txt"
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
# Checked when there is no hash to check (unknown address, locked account), so every refusal costs the same.
_DUMMY_HASH = HASHER.hash("not a password anyone has")


class PasswordPolicyError(PlatformError):
    """A new password that breaks the policy; the message lists every rule it breaks."""


@functools.cache
def common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS_FILE.read_text().splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def policy_problems(password: str) -> list[str]:
    """What is wrong with a new password, in words fit to show; empty when it is acceptable."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"at least {MIN_LENGTH} characters (this one has {len(password)})")
    if not re.search(r"[A-Z]", password):
        problems.append("an upper-case letter")
    if not re.search(r"[a-z]", password):
        problems.append("a lower-case letter")
    if not re.search(r"[0-9]", password):
        problems.append("a digit")
    if not re.search(r"[^A-Za-z0-9]", password):
        problems.append("a special character (such as ! - # or a space)")
    if common_word(password):
        problems.append(
            "nothing from the common-password list (also not a common word with digits or symbols added)"
        )
    return problems


def common_word(password: str) -> bool:
    """Whether the password is a listed one, or a listed word dressed up with digits, symbols and leetspeak."""
    lowered = password.lower()
    letters = re.sub(r"[^a-z]", "", lowered)  # Welcome2024!! -> welcome
    # Leetspeak only inside the word: digits and symbols around it are padding (P@ssw0rd2024! -> password).
    core = re.sub(r"^[^a-z@$]+|[^a-z@$]+$", "", lowered)
    unleet = re.sub(r"[^a-z]", "", core.translate(_LEET))
    return bool({lowered, letters, unleet} & common_passwords())


def check_policy(password: str) -> None:
    problems = policy_problems(password)
    if problems:
        raise PasswordPolicyError("the password must have " + "; ".join(problems))


def hash_password(password: str) -> str:
    """The argon2id hash of a password that meets the policy (PasswordPolicyError otherwise)."""
    check_policy(password)
    return HASHER.hash(password)


def verify(stored_hash: str | None, password: str) -> tuple[bool, bool]:
    """(whether the password matches, whether the stored hash should be replaced by a fresh argon2id one)."""
    if not stored_hash:
        burn_time(password)
        return False, False
    if stored_hash.startswith(("$2a$", "$2b$", "$2y$")):
        try:
            ok = bcrypt.checkpw(password.encode(), stored_hash.encode())
        except ValueError:
            return False, False
        return ok, ok
    try:
        HASHER.verify(stored_hash, password)
    except VerifyMismatchError:
        return False, False
    except (VerificationError, InvalidHashError):
        return False, False
    return True, HASHER.check_needs_rehash(stored_hash)


def burn_time(password: str) -> None:
    """Spend what a real check costs, so a refusal without a hash to check takes as long as one with."""
    with contextlib.suppress(VerificationError):
        HASHER.verify(_DUMMY_HASH, password)
