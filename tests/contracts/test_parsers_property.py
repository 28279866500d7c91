"""Hypothesis properties of every parser that reads a client's text (phones, login codes,
voucher codes and QR strings, dates, ids, JSON bodies, tokens, baseline CSVs): whatever the
input, the answer is a value that obeys the rule or the documented refusal, never another
exception (which the API would turn into a 500)."""

from __future__ import annotations

import asyncio
import re
import string
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from service.auth import TokenVerifier
from service.domain.codes import ALPHABET, CODE_LENGTH, code_from_input, new_code, qr_string
from service.errors import DomainError
from service.http import _check_tree, parse_path_id
from service.schemas.auth import OtpRequest, ResidentLogin
from service.schemas.common import Day, QueryInt, When, text_problem
from service.schemas.merchants import MerchantPatch
from service.schemas.stats import read_baselines
from service.settings import Settings
from service.vocabulary import LAST_DAY
from tests.conftest import TEST_SECRET

KEY = b"k" * 32
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Text that looks like what attackers send: digits of every script, controls, surrogates.
TRICKY = st.text(
    st.sampled_from(
        [
            *"0123456789１２３٢٣²³-.: T+Z\n\r\t\x00\x1b\x7f\x85\u2028",
            *("\ud800", "\udfff", "ﬀ", "İ", "K"),
            *ALPHABET,
            *"abcdefghjk",
        ]
    ),
    max_size=40,
)
ANY_TEXT = st.one_of(TRICKY, st.text(max_size=40))


def parsed(field: Any, raw: str) -> Any:
    """What a field reads from `raw`, or None when it refuses it (the only other outcome)."""
    try:
        return field.deserialize(raw)
    except ValidationError:
        return None


def loads_or_refuses(schema: Any, data: dict[str, Any]) -> dict[str, Any] | None:
    try:
        return schema.load(data)
    except ValidationError:
        return None


@PROPERTY
@given(ANY_TEXT)
@example("13900001111\n")
@example("١٣٩٠٠٠٠١١١١")
def test_a_phone_is_eleven_ascii_digits_or_refused(phone: str) -> None:
    loaded = loads_or_refuses(OtpRequest(), {"phone": phone})
    if loaded is not None:
        assert re.fullmatch(r"1[3-9][0-9]{9}", phone, re.ASCII)
        assert loaded["phone"] == phone


@PROPERTY
@given(ANY_TEXT, ANY_TEXT)
def test_a_login_code_is_six_ascii_digits_or_refused(phone: str, code: str) -> None:
    loaded = loads_or_refuses(ResidentLogin(), {"phone": phone, "code": code})
    if loaded is not None:
        assert re.fullmatch(r"[0-9]{6}", code, re.ASCII)


@PROPERTY
@given(ANY_TEXT)
def test_text_fields_hold_no_control_characters_or_surrogates(text: str) -> None:
    loaded = loads_or_refuses(MerchantPatch(), {"address": text})
    if loaded is not None:
        assert text_problem(loaded["address"]) is None
        assert loaded["address"].encode("utf-8")  # never raises: no lone surrogate
        assert "\x00" not in loaded["address"]


@PROPERTY
@given(ANY_TEXT)
@example("HYV1.ABCDEFGHJKMNP.ééé")
def test_a_typed_code_or_qr_string_is_canonical_or_none(value: str) -> None:
    code = code_from_input(KEY, value)
    if code is not None:
        assert len(code) == CODE_LENGTH and all(ch in ALPHABET for ch in code)


@PROPERTY
@given(st.data())
def test_only_the_genuine_qr_of_a_code_is_read(data: st.DataObject) -> None:
    code = new_code()
    genuine = qr_string(KEY, code)
    assert code_from_input(KEY, genuine) == code
    signature = genuine.rsplit(".", 1)[1]
    forged = data.draw(ANY_TEXT.filter(lambda s: s != signature))
    assert code_from_input(KEY, f"HYV1.{code}.{forged}") is None


@PROPERTY
@given(st.one_of(ANY_TEXT, st.dates().map(date.isoformat)))
@example("0001-01-01")
@example("9999-12-31")
def test_a_day_is_in_2000_to_2099_or_refused(raw: str) -> None:
    day = parsed(Day(), raw)
    assert day is None or date(2000, 1, 1) <= day <= LAST_DAY


@PROPERTY
@given(st.one_of(ANY_TEXT, st.datetimes(timezones=st.timezones()).map(datetime.isoformat)))
@example("9999-12-31T23:59:59-08:00")
@example("0001-01-01T00:00:00+08:00")
def test_an_instant_is_aware_and_in_range_or_refused(raw: str) -> None:
    when = parsed(When(), raw)
    if when is not None:
        assert when.tzinfo is not None
        assert 2000 <= when.astimezone(ZoneInfo("UTC")).year <= 2099


@PROPERTY
@given(st.one_of(ANY_TEXT, st.integers().map(str)))
@example("١٢")
@example("²")
@example("0")
def test_a_path_id_is_positive_ascii_digits_or_none(raw: str) -> None:
    value = parse_path_id(raw)
    if value is not None:
        assert raw.isascii() and raw == str(int(raw)).rjust(len(raw), "0")
        assert 0 < value < 2**63


@PROPERTY
@given(st.one_of(ANY_TEXT, st.integers().map(str)))
def test_a_query_integer_is_ascii_or_refused(raw: str) -> None:
    value = parsed(QueryInt(minimum=1, maximum=500), raw)
    assert value is None or (1 <= value <= 500 and raw.isascii() and raw.strip() == raw)


JSON_ISH = st.text(st.sampled_from('{}[]",:0123456789.eE-+ truefalsn\\u00d8\x00'), max_size=200)


@PROPERTY
@given(st.one_of(JSON_ISH, st.binary(max_size=100).map(lambda b: b.decode("latin-1"))))
@example("[" * 2000 + "]" * 2000)
@example('{"a":"\\ud800"}')
@example('{"\\u0000":1}')
def test_a_json_body_is_data_or_a_400(raw: str) -> None:
    from service.http import read_json

    class _Request:
        async def read(self) -> bytes:
            return raw.encode("utf-8", "surrogatepass")

    try:
        data = asyncio.run(read_json(_Request()))  # type: ignore[arg-type]
    except DomainError as err:
        assert err.code == "invalid_request"
        return
    _check_tree(data)  # what came through holds no NUL or lone surrogate


VERIFIER = TokenVerifier(
    Settings(database_url=None, data_dir=".", jwt_secret=TEST_SECRET, tz=ZoneInfo("UTC"))  # type: ignore[arg-type]
)


@PROPERTY
@given(st.one_of(ANY_TEXT, st.text(string.ascii_letters + string.digits + "-_.", max_size=300)))
@example("e30.e30.")
@example("eyJhbGciOiJIUzI1NiJ9.e30.x")
def test_a_token_verifies_or_is_unauthorized(token: str) -> None:
    try:
        VERIFIER.verify(token)
    except DomainError as err:
        assert err.code == "unauthorized"


@PROPERTY
@given(st.lists(st.tuples(ANY_TEXT, ANY_TEXT, ANY_TEXT), max_size=5))
@example([("2020-05-01", "dining", "1\r0")])  # a lone CR used to be a csv.Error (500)
@example([("2020-05-01\x00", "dining", "100")])
def test_a_baseline_csv_is_rows_or_a_400(cells: list[tuple[str, str, str]]) -> None:
    text = "date,category,sales_fen\n" + "\n".join(",".join(row) for row in cells)
    try:
        rows = read_baselines(text)
    except DomainError as err:
        assert err.code == "invalid_request"
        return
    for day, category, sales in rows:
        assert date(2000, 1, 1) <= day <= LAST_DAY
        assert category in ("shopping", "dining", "culture_tourism", "auto")
        assert isinstance(sales, int) and sales >= 0
