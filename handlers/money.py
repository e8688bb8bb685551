"""Exact money: amounts in a currency's minor units, and a round's split that sums to the cent."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from handlers import i18n

# ISO 4217 minor units for the currencies co-ops are likely to use; others default to 2.
MINOR_UNITS = {
    "EUR": 2, "USD": 2, "GBP": 2, "CHF": 2, "CAD": 2, "AUD": 2, "NZD": 2, "SEK": 2, "NOK": 2, "DKK": 2,
    "PLN": 2, "CZK": 2, "HUF": 2, "MXN": 2, "BRL": 2, "ARS": 2, "ZAR": 2, "INR": 2, "CNY": 2, "TRY": 2,
    "JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "VND": 0, "XOF": 0, "XAF": 0, "UGX": 0,
    "BHD": 3, "KWD": 3, "JOD": 3, "OMR": 3, "TND": 3, "LYD": 3, "IQD": 3,
}
# ISO 4217 codes of the currencies in circulation (the list of 2025, less fund codes, precious
# metals and bond units, which no co-op pays surplus in): a typo such as EUO is refused.
CURRENCIES = frozenset("""
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN
    BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS
    GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW
    KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD
    NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD
    SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES
    VED VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG
""".split())
MAX_AMOUNT = Decimal("1000000000000")  # a trillion: beyond any co-op's surplus, and a typo guard
_CURRENCY = re.compile(r"[A-Z]{3}")
_PLAIN = re.compile(r"[0-9]+(\.[0-9]+)?")  # ASCII digits only: money is not guessed
_GROUPED = re.compile(r"[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?")  # 1,000,000.07


class BadAmount(ValueError):
    """Why an amount is refused (the message is a key into texts.AMOUNT_PROBLEMS)."""


def minor_units(currency: str) -> int:
    return MINOR_UNITS.get(currency, 2)


def parse_currency(text: str) -> str:
    code = text.strip().upper()
    if not _CURRENCY.fullmatch(code) or code not in CURRENCIES:
        raise BadAmount("currency")
    return code


def parse_amount(text: str, currency: str) -> int:
    """An amount as typed ("1,000,000.07", "250", "0.5") to minor units. Refuses what is not a
    plain positive number, has more decimals than the currency has, or is absurdly large."""
    text = text.strip()
    if not (_PLAIN.fullmatch(text) or _GROUPED.fullmatch(text)):
        raise BadAmount("not_a_number" if not text.startswith("-") else "negative")
    try:
        value = Decimal(text.replace(",", ""))
    except InvalidOperation:
        raise BadAmount("not_a_number") from None
    if not value.is_finite():
        raise BadAmount("not_a_number")
    if value <= 0:
        raise BadAmount("zero")
    if value > MAX_AMOUNT:
        raise BadAmount("too_large")
    units = minor_units(currency)
    scaled = value.scaleb(units)
    if scaled != scaled.to_integral_value():
        raise BadAmount("too_precise")
    return int(scaled)


def format_amount(minor: int, currency: str) -> str:
    units = minor_units(currency)
    value = Decimal(minor).scaleb(-units)
    return f"{i18n.decimal(value, units)} {currency}"  # grouped as the language of the moment writes it


@dataclass(frozen=True)
class Split:
    funds: tuple[tuple[str, int], ...]  # (fund, minor units)
    members: tuple[tuple[int, int], ...]  # (member id, minor units)

    @property
    def funds_total(self) -> int:
        return sum(amount for _, amount in self.funds)

    @property
    def members_total(self) -> int:
        return sum(amount for _, amount in self.members)


def split(total: int, movement_share: Decimal, funds: list[tuple[str, int]], members: list[tuple[int, int]]) -> Split:
    """Divide `total` minor units. The movement share goes to the funds first; the rest is split
    among members by weight (1 each for an equal split, recorded hours otherwise). Every share is
    rounded down to the smallest unit, and whatever rounding leaves over goes to the funds, so the
    round sums exactly to its amount."""
    if not funds or not members:
        raise ValueError("a round needs funds and members")
    movement = int((Decimal(total) * movement_share).to_integral_value(rounding="ROUND_FLOOR"))
    for_members = total - movement
    weight = sum(w for _, w in members)
    member_shares = [(member, for_members * w // weight) for member, w in members]
    to_funds = total - sum(share for _, share in member_shares)
    fund_weight = sum(w for _, w in funds)
    exact = [(name, to_funds * w // fund_weight, (to_funds * w) % fund_weight) for name, w in funds]
    left = to_funds - sum(amount for _, amount, _ in exact)
    # The units left after rounding go one each to the funds with the largest remainders (in
    # the charter's order when equal), so no fund is favoured by its name.
    order = sorted(range(len(exact)), key=lambda i: (-exact[i][2], i))
    bonus = {i: 1 for i in order[:left]}
    fund_shares = tuple((name, amount + bonus.get(i, 0)) for i, (name, amount, _) in enumerate(exact))
    return Split(fund_shares, tuple(member_shares))
