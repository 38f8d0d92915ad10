"""Login: codes sent to a phone, two-step verification by real SRP, and bot tokens.

The fake answers what Telegram answers, so ferryman's login meets the same errors: a
code belongs to one ``phone_code_hash`` and expires; an account with a password gets
``SESSION_PASSWORD_NEEDED`` and must then prove the password by SRP-6a, which the fake
verifies from the password verifier alone (https://core.telegram.org/api/srp). The KDF
and the proof are computed here independently of Telethon's client side, so a mistake
on either side fails the login instead of cancelling out.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from telethon.tl import functions, types

from faketg.sender import RpcFault
from faketg.state import Account
from faketg.tl import user_tl

if TYPE_CHECKING:
    from faketg.server import Call, FakeTelegram

# Telegram's 2048-bit safe prime for SRP, with generator 3 (help.getConfig era constant).
PRIME = int(
    "C71CAEB9C6B1C9048E6C522F70F13F73980D40238E3E21C14934D037563D930F"
    "48198A0AA7C14058229493D22530F4DBFA336F6E0AC925139543AED44CCE7C37"
    "20FD51F69458705AC68CD4FE6B6B13ABDC9746512969328454F18FAF8C595F64"
    "2477FE96BB2A941D5BCD1D4AC8CC49880708FA9B378E3C4F3A9060BEE67CF9A4"
    "A4A695811051907E162753B56B0F6B410DBA74D8A84B2A14B3144E0EF1284754"
    "FD17ED950D5965B4B9DD46582DB1178D169C6BC465B0D6FF9CA3928FEF5B9AE4"
    "E418FC15E83EBEA0F87FA9FF5EED70050DED2849F47BF959D956850CE929851F"
    "0D8115F635B105EE2E4E15D04B2454BF6F4FADF034B10403119CD8E3B92FCC5B",
    16,
)
GENERATOR = 3
_SIZE = 256  # SRP numbers are hashed as 256-byte big-endian strings


@dataclass(slots=True)
class SentLoginCode:
    """A code 'delivered' to the account's other devices, known by its hash."""

    phone: str  # digits only
    account_id: int
    code: str
    sent_at: float


@dataclass(slots=True)
class Verifier:
    """What Telegram keeps instead of the password: salts and v = g^x mod p."""

    password: str  # what v was made from (a test may change the account's password)
    salt1: bytes
    salt2: bytes
    v: int


@dataclass(slots=True)
class Challenge:
    """One ``account.getPassword`` answer: the server's secret b and public B."""

    account_id: int
    b: int
    big_b: bytes


@dataclass(slots=True)
class AuthState:
    """One fake server's login bookkeeping; ``code_ttl`` is how long a code stays valid."""

    code_ttl: float = 300.0
    codes: dict[str, SentLoginCode] = field(default_factory=dict)  # phone_code_hash ->
    pending: dict[int, int] = field(default_factory=dict)  # auth key -> account owing 2FA
    challenges: dict[int, Challenge] = field(default_factory=dict)  # srp_id ->
    verifiers: dict[int, Verifier] = field(default_factory=dict)  # account id ->


def auth_state(server: FakeTelegram) -> AuthState:
    """The server's login bookkeeping, made on first use (tests may set ``code_ttl``)."""
    state: AuthState | None = getattr(server, "_auth_state", None)
    if state is None:
        state = AuthState()
        server._auth_state = state  # type: ignore[attr-defined]
    return state


# ------------------------------------------------------------------ helpers


def _digits(phone: str) -> str:
    return "".join(ch for ch in phone if ch.isdigit())


def _same(secret: str, given: str) -> bool:
    """A constant-time comparison, as for any secret a client sends."""
    return hmac.compare_digest(secret.encode(), given.encode())


def _check_api(server: FakeTelegram, api_id: int, api_hash: str) -> None:
    known = server.api_ids.get(api_id)
    if known is None or not _same(known, api_hash):
        raise RpcFault(400, "API_ID_INVALID")


def _key(call: Call) -> int:
    key = call.sender.auth_key.key_id
    if key is None:
        raise RpcFault(401, "AUTH_KEY_UNREGISTERED")
    return int(key)


def _logged_in(server: FakeTelegram, call: Call, account: Account) -> Any:
    """Bind this connection's auth key to the account: the key is now its session."""
    key = _key(call)
    server.authorize(key, account)
    auth_state(server).pending.pop(key, None)
    return types.auth.Authorization(user=user_tl(account, account))


def _sha256(*parts: bytes) -> bytes:
    h = hashlib.sha256()
    for part in parts:
        h.update(part)
    return h.digest()


def _num(value: int) -> bytes:
    return value.to_bytes(_SIZE, "big")


def _padded(data: bytes) -> bytes:
    return bytes(_SIZE - len(data)) + data


def _algo(salt1: bytes, salt2: bytes) -> Any:
    return types.PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow(
        salt1=salt1, salt2=salt2, g=GENERATOR, p=_num(PRIME)
    )


def password_hash(password: str, salt1: bytes, salt2: bytes) -> bytes:
    """x for SRP: SH(PBKDF2(SH(SH(password, salt1), salt2), salt1, 100000), salt2)."""

    def salted(data: bytes, salt: bytes) -> bytes:
        return _sha256(salt, data, salt)

    inner = salted(salted(password.encode("utf-8"), salt1), salt2)
    return salted(hashlib.pbkdf2_hmac("sha512", inner, salt1, 100_000), salt2)


def _verifier(server: FakeTelegram, account: Account) -> Verifier:
    """The account's verifier, made once per password (PBKDF2 is deliberately slow)."""
    assert account.password is not None
    state = auth_state(server)
    found = state.verifiers.get(account.id)
    if found is None or found.password != account.password:
        salt1 = server.rng.randbytes(40)
        salt2 = server.rng.randbytes(16)
        x = int.from_bytes(password_hash(account.password, salt1, salt2), "big")
        found = Verifier(account.password, salt1, salt2, pow(GENERATOR, x, PRIME))
        state.verifiers[account.id] = found
    return found


def _good_mod_exp(value: int) -> bool:
    """The range checks both sides make on g^a and g^b (at least 1984 bits, below p)."""
    least = 2048 - 64
    return 0 < value < PRIME and min(value, PRIME - value).bit_length() >= least


_K = int.from_bytes(_sha256(_num(PRIME), _num(GENERATOR)), "big")  # SRP's k = H(p, g)


def _challenge(server: FakeTelegram, account: Account, verifier: Verifier) -> tuple[int, bytes]:
    """A fresh b and B = k*v + g^b mod p, remembered under a new srp_id."""
    while True:
        b = int.from_bytes(server.rng.randbytes(_SIZE), "big")
        g_b = pow(GENERATOR, b, PRIME)
        big_b = (_K * verifier.v + g_b) % PRIME
        if _good_mod_exp(g_b) and _good_mod_exp(big_b):
            break
    srp_id = server.rng.getrandbits(63)
    auth_state(server).challenges[srp_id] = Challenge(account.id, b, _num(big_b))
    return srp_id, _num(big_b)


def _proof_ok(verifier: Verifier, challenge: Challenge, a_bytes: bytes, m1: bytes) -> bool:
    """Recompute the client's M1 from A, b and v; equal only if it knew the password."""
    a_for_hash = _padded(a_bytes)
    a = int.from_bytes(a_for_hash, "big")
    if len(a_bytes) > _SIZE or not _good_mod_exp(a):
        return False
    u = int.from_bytes(_sha256(a_for_hash, challenge.big_b), "big")
    if u == 0:
        return False
    s = pow(a * pow(verifier.v, u, PRIME) % PRIME, challenge.b, PRIME)
    k = _sha256(_num(s))
    h_p, h_g = _sha256(_num(PRIME)), _sha256(_num(GENERATOR))
    expected = _sha256(
        bytes(x ^ y for x, y in zip(h_p, h_g, strict=True)),
        _sha256(verifier.salt1),
        _sha256(verifier.salt2),
        a_for_hash,
        challenge.big_b,
        k,
    )
    return hmac.compare_digest(expected, m1)


# ----------------------------------------------------------------- handlers


async def send_code(server: FakeTelegram, call: Call, req: Any) -> Any:
    _check_api(server, req.api_id, req.api_hash)
    phone = _digits(req.phone_number)
    account = next(
        (a for a in server.accounts.values() if a.phone and _digits(a.phone) == phone), None
    )
    if not phone or account is None:
        raise RpcFault(400, "PHONE_NUMBER_INVALID")
    if account.banned:
        raise RpcFault(400, "PHONE_NUMBER_BANNED")
    code_hash = f"{server.rng.getrandbits(64):016x}"
    auth_state(server).codes[code_hash] = SentLoginCode(
        phone, account.id, account.login_code, server.clock()
    )
    return types.auth.SentCode(
        type=types.auth.SentCodeTypeApp(length=len(account.login_code)),
        phone_code_hash=code_hash,
    )


async def sign_in(server: FakeTelegram, call: Call, req: Any) -> Any:
    state = auth_state(server)
    sent = state.codes.get(req.phone_code_hash)
    if sent is None or server.clock() - sent.sent_at > state.code_ttl:
        state.codes.pop(req.phone_code_hash, None)
        raise RpcFault(400, "PHONE_CODE_EXPIRED")
    if _digits(req.phone_number) != sent.phone:
        raise RpcFault(400, "PHONE_NUMBER_INVALID")
    if not req.phone_code:
        raise RpcFault(400, "PHONE_CODE_EMPTY")
    if not _same(sent.code, req.phone_code):
        raise RpcFault(400, "PHONE_CODE_INVALID")
    del state.codes[req.phone_code_hash]
    account = server.accounts[sent.account_id]
    if account.banned:
        raise RpcFault(400, "PHONE_NUMBER_BANNED")
    if account.password is not None:
        state.pending[_key(call)] = account.id
        raise RpcFault(401, "SESSION_PASSWORD_NEEDED")
    return _logged_in(server, call, account)


def _password_owner(server: FakeTelegram, call: Call) -> Account:
    """The logged-in account, or the one this key proved a code for and owes a password."""
    if call.account is not None:
        return call.account
    owner = auth_state(server).pending.get(_key(call))
    if owner is None:
        raise RpcFault(401, "AUTH_KEY_UNREGISTERED")
    return server.accounts[owner]


async def get_password(server: FakeTelegram, call: Call, req: Any) -> Any:
    account = _password_owner(server, call)
    common: dict[str, Any] = {
        "new_algo": _algo(server.rng.randbytes(8), server.rng.randbytes(16)),
        "new_secure_algo": types.SecurePasswordKdfAlgoUnknown(),
        "secure_random": server.rng.randbytes(_SIZE),
    }
    if account.password is None:
        return types.account.Password(has_password=False, **common)
    verifier = _verifier(server, account)
    srp_id, big_b = _challenge(server, account, verifier)
    return types.account.Password(
        has_password=True,
        current_algo=_algo(verifier.salt1, verifier.salt2),
        srp_B=big_b,
        srp_id=srp_id,
        **common,
    )


async def check_password(server: FakeTelegram, call: Call, req: Any) -> Any:
    account = _password_owner(server, call)
    check = req.password
    if not isinstance(check, types.InputCheckPasswordSRP) or account.password is None:
        raise RpcFault(400, "PASSWORD_HASH_INVALID")
    challenge = auth_state(server).challenges.pop(check.srp_id, None)  # one try per srp_id
    if challenge is None or challenge.account_id != account.id:
        raise RpcFault(400, "SRP_ID_INVALID")
    if not _proof_ok(_verifier(server, account), challenge, check.A, check.M1):
        raise RpcFault(400, "PASSWORD_HASH_INVALID")
    return _logged_in(server, call, account)


async def import_bot_authorization(server: FakeTelegram, call: Call, req: Any) -> Any:
    _check_api(server, req.api_id, req.api_hash)
    token = req.bot_auth_token
    account = next(
        (
            a
            for a in server.accounts.values()
            if a.bot_token is not None and _same(a.bot_token, token)
        ),
        None,
    )
    if account is None:
        raise RpcFault(400, "ACCESS_TOKEN_INVALID")
    if account.banned:
        raise RpcFault(401, "USER_DEACTIVATED_BAN")
    return _logged_in(server, call, account)


HANDLERS: dict[type, Any] = {
    functions.auth.SendCodeRequest: send_code,
    functions.auth.SignInRequest: sign_in,
    functions.account.GetPasswordRequest: get_password,
    functions.auth.CheckPasswordRequest: check_password,
    functions.auth.ImportBotAuthorizationRequest: import_bot_authorization,
}
