"""Planted secrets for the redaction corpus test (tests/test_redaction_corpus.py), and a clean corpus.

Every secret is generated from a fixed seed, so the corpus is the same on every run but no value is a real
credential. Each `Planted` has the line it is written in (as a user would see it on screen) and the values that
must not survive redaction. `CLEAN` is ordinary text with the things a redactor is tempted by (dates, phone
numbers, prices, order numbers, versions, "password reset"): every placeholder in it is a false redaction.
"""

from __future__ import annotations

import base64
import random
import string
from dataclasses import dataclass

ALNUM = string.ascii_letters + string.digits
B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


@dataclass
class Planted:
    """One secret written into a line of text."""

    kind: str  # the format, e.g. "aws_secret_env"
    line: str  # what is on screen
    values: list[str]  # the secret parts: none may survive


def _luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    for check in string.digits:
        total, alt = 0, True
        for ch in reversed(body + check):
            d = int(ch)
            if not alt:
                d *= 2
                d = d - 9 if d > 9 else d
            total += d
            alt = not alt
        if total % 10 == 0:
            return body + check
    raise AssertionError("unreachable")


def _iban(country: str, bban: str) -> str:
    moved = bban + country + "00"
    n = int("".join(str(int(c, 36)) for c in moved))
    return f"{country}{98 - n % 97:02d}{bban}"


def _groups(s: str, sep: str = " ", n: int = 4) -> str:
    return sep.join(s[i:i + n] for i in range(0, len(s), n))


def _rand(rng, n, alphabet=ALNUM):
    return "".join(rng.choice(alphabet) for _ in range(n))


def planted(seed: int = 15) -> list[Planted]:
    """At least 100 secrets in at least 30 formats (three instances of most formats)."""
    rng = random.Random(seed)
    out: list[Planted] = []

    def add(kind, line, *values):
        out.append(Planted(kind, line, list(values)))

    hexd = "0123456789abcdef"
    for i in range(3):
        def visa():
            return _luhn_complete("4", 16, rng)

        def mc():
            return _luhn_complete("5" + str(rng.randint(1, 5)), 16, rng)

        amex = _luhn_complete("3" + rng.choice("47"), 15, rng)
        cvv, exp = f"{rng.randint(100, 999)}", f"{rng.randint(1, 12):02d}/{rng.randint(27, 31)}"
        add("card_spaced", f"Card number {_groups(v := visa())} on file", v)
        add("card_double_space", f"Pay with {_groups(v := mc(), '  ')} today", v)
        add("card_dashed", f"Billing card: {_groups(v := mc(), '-')} (work)", v)
        add("card_amex", f"Amex {amex[:4]} {amex[4:10]} {amex[10:]} ending soon", amex)
        add("card_with_cvv_expiry", f"Visa {_groups(v := visa())} exp {exp} CVV {cvv}", v, exp, cvv)
        add("card_wrapped", f"card {_groups((v := visa())[:12])}\n{v[12:]} was charged", v)

        de = _iban("DE", "".join(rng.choice(string.digits) for _ in range(18)))
        gb = _iban("GB", "NWBK" + "".join(rng.choice(string.digits) for _ in range(14)))
        add("iban_spaced", f"IBAN {_groups(de)} for the rent", de)
        add("iban_lowercase_dashed", f"send to {_groups(gb, '-').lower()} please", gb.lower())

        ssn = f"{rng.randint(100, 665)}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}"
        add("ssn", f"SSN {ssn} on the W-2 form", ssn.replace("-", ""))
        otp = f"{rng.randint(100000, 999999)}"
        add("one_time_code", f"Your verification code is {otp}. It expires in 10 minutes.", otp)

        user, pw = _rand(rng, 6, string.ascii_lowercase), _rand(rng, 14)
        add("url_credentials", f"DATABASE_URL postgres://{user}:{pw}@db.internal:5432/app", pw)
        basic = base64.b64encode(f"{user}:{_rand(rng, 12)}".encode()).decode()
        add("authorization_basic", f"Authorization: Basic {basic}", basic)
        bearer = _rand(rng, 40)
        add("bearer", f"curl -H 'Authorization: Bearer {bearer}' https://api.example.com", bearer)

        aws_secret = _rand(rng, 40, ALNUM + "/+")
        add("aws_secret_env", f"aws_secret_access_key = {aws_secret}", aws_secret)
        akia = "AKIA" + _rand(rng, 16, string.ascii_uppercase + string.digits)
        add("aws_access_key", f"aws_access_key_id={akia}", akia)
        db_pw = _rand(rng, 12)
        add("db_password_env", f"DB_PASSWORD={db_pw}", db_pw)
        sk = "sk-proj-" + _rand(rng, 40, ALNUM + "_-")
        add("openai_env", f"OPENAI_API_KEY={sk}", sk)
        word_pw = _rand(rng, 6, string.ascii_lowercase) + str(rng.randint(10, 99))
        add("password_no_separator", f"Password {word_pw}", word_pw)
        tab_pw = _rand(rng, 10)
        add("password_tab", f"password\t{tab_pw}", tab_pw)
        fw_pw = _rand(rng, 10)
        add("password_fullwidth_colon", f"パスワード password：{fw_pw}", fw_pw)
        words = " ".join(rng.choice(["correct", "horse", "battery", "staple", "orbit", "velvet", "maple"])
                         for _ in range(4))
        add("password_quoted_phrase", f'wifi passphrase: "{words} {i}"', words)

        xapp = (f"xapp-1-A{_rand(rng, 10, string.ascii_uppercase + string.digits)}-{rng.randint(10**12, 10**13)}-"
                f"{_rand(rng, 64, hexd)}")
        add("slack_app_token", f"SLACK_APP_TOKEN={xapp}", xapp[5:])
        hook = f"T{_rand(rng, 8, string.ascii_uppercase + string.digits)}/B{_rand(rng, 10, string.ascii_uppercase)}/" \
               f"{_rand(rng, 24)}"
        add("slack_webhook", f"webhook https://hooks.slack.com/services/{hook}", hook)
        npm = "npm_" + _rand(rng, 36)
        add("npm_token", f"//registry.npmjs.org/:_authToken={npm}", npm)
        pypi = "pypi-AgEIcHlwaS5vcmc" + _rand(rng, 60, ALNUM + "_-")
        add("pypi_token", f"password = {pypi}" if i == 0 else f"twine upload with {pypi}", pypi)
        whsec = "whsec_" + _rand(rng, 32)
        add("stripe_webhook_secret", f"signing secret {whsec}", whsec)
        ya = "ya29." + _rand(rng, 60, ALNUM + "_-")
        add("google_oauth", f"access token {ya} (expires in 3599)", ya)
        sg = f"SG.{_rand(rng, 22, ALNUM + '_-')}.{_rand(rng, 43, ALNUM + '_-')}"
        add("sendgrid", f"SENDGRID_KEY {sg}", sg)
        shp = "shpat_" + _rand(rng, 32, hexd)
        add("shopify", f"X-Shopify-Access-Token: {shp}", shp)
        dop = "dop_v1_" + _rand(rng, 64, hexd)
        add("digitalocean", f"doctl auth init -t {dop}", dop)
        acct = base64.b64encode(bytes(rng.randrange(256) for _ in range(64))).decode()
        add("azure_account_key", f"DefaultEndpointsProtocol=https;AccountName=store{i};AccountKey={acct};", acct)
        age = "AGE-SECRET-KEY-1" + _rand(rng, 58, string.ascii_uppercase + string.digits)
        add("age_key", f"# created: 2026-01-0{i + 1}\n{age}", age)
        xprv = "xprv9s21ZrQH143K" + _rand(rng, 95, B58)
        add("bip32_xprv", f"master key {xprv}", xprv)
        gum = "gum_" + _rand(rng, 43, ALNUM + "_-")
        add("gum_token", f"$ gum token create editor\n{gum}", gum)
        tray = "gum_tray_" + _rand(rng, 43, ALNUM + "_-")
        add("gum_tray_token", f"Settings > Tokens: new token {tray} (shown once)", tray)
        ghp = "ghp_" + _rand(rng, 36)
        add("github_pat", f"git clone https://{ghp}@github.com/acme/app.git", ghp)
        jwt = "eyJhbGciOiJIUzI1NiJ9.eyJ" + _rand(rng, 30, ALNUM + "_-") + "." + _rand(rng, 43, ALNUM + "_-")
        add("jwt", f"session={jwt}", jwt)
        stripe = "sk_live_" + _rand(rng, 24)
        add("stripe_key", f"stripe.api_key = '{stripe}'", stripe)
        xoxb = f"xoxb-{rng.randint(10**11, 10**12)}-{rng.randint(10**12, 10**13)}-{_rand(rng, 24)}"
        add("slack_bot_token", f"SLACK_BOT_TOKEN: {xoxb}", xoxb)
        glpat = "glpat-" + _rand(rng, 20, ALNUM + "_-")
        add("gitlab_pat", f"PRIVATE-TOKEN: {glpat}", glpat)
        pin = str(rng.randint(1000, 9999))
        add("pin", f"Your new card PIN: {pin}", pin)
    for i in range(2):
        body = "\n".join(_rand(rng, 64, ALNUM + "+/") for _ in range(4))
        add("pgp_private_block", f"-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n{body}\n=ab12\n"
            "-----END PGP PRIVATE KEY BLOCK-----", *body.split("\n"))
        body = "\n".join(_rand(rng, 64, ALNUM + "+/") for _ in range(3))
        add("ssh_key_dashes_lost", f"BEGIN OPENSSH PRIVATE KEY\n{body}\nEND OPENSSH PRIVATE KEY",
            *body.split("\n"))
    return out


FILLER = [
    "Meeting notes from the Tuesday planning session with the design team.",
    "Remember to buy tomatoes, basil and 2 kg of flour on the way home.",
    "The quarterly report is due on 14 March 2026 at 17:00.",
    "Call Marta back about the apartment viewing at 10:30.",
]

# Ordinary text a redactor must leave alone (every placeholder here is a false redaction).
CLEAN = [
    "Invoice 2026-0412 for 3 hours of consulting, total EUR 1,240.50, due 2026-05-01.",
    "Call me at +1 415 555 0132 or (020) 7946 0958 after 6 pm.",
    "Order #100234981 shipped on 12/03/2026; tracking 1Z 999 AA1 0123 4567 84.",
    "Forgot your password? Click password reset to choose a new one.",
    "The secret garden opens at 9; the password manager extension was updated to 2.4.1.",
    "Our API key rotation policy: keys expire every 90 days.",
    "Python 3.11.7, numpy 1.26.4, tesseract 5.3.0 on Debian 12.",
    "git commit 9c6d337 keys: one decoder for a stored key, from the key file or the keyring",
    "The meeting code of conduct is on page 4 of the handbook.",
    "Room 4021, building 7, floor 3; parking spot 118.",
    "ISBN 978-0-13-468599-1 and ISBN 978 1 4919 5017 6 are on the reading list.",
    "Temperature 21.5 C, humidity 48%, wind 12 km/h from the north-west.",
    "Please pin this message so the team sees it tomorrow.",
    "The token count was 4096 prompt plus 512 completion tokens.",
    "Flight LH 400 departs at 13:40 from gate B44, seat 23C.",
    "Timestamp 1767225600 is the first of January 2026 UTC.",
    "Coordinates 52.5200 N, 13.4050 E are in the centre of Berlin.",
    "Scores this week: 12 14 9 11 13 15 10 8 12 14 16 7 9 11 for the fourteen days.",
    "Access the shared drive from the office network only.",
    "The passcode screen appears when you wake the laptop.",
    "Secret Santa draw is on Friday; budget is 20 euros.",
    "UUID 3f2504e0-4f89-11d3-9a0c-0305e82c3301 identifies the record.",
    "Zip code 94103 is in San Francisco; area code 415.",
    "Error code 503 means the service is unavailable, try again in 30 s.",
    "The build ran 1,283 tests in 4 minutes and 12 seconds.",
    "Chapter 4 references: Smith 2019, pp. 112-118; Lee 2021, pp. 45-60.",
    "Bank holiday on 25 December; the office reopens on 2 January.",
    "Set PORT=8080 and HOST=127.0.0.1 in the .env file.",
    "Authorization is handled by the platform team, see the wiki.",
    "basic understanding of linear algebra is enough for this course.",
    "It redacts Authorization headers, 30-odd token formats and more.",
    "A kept screenshot whose text held a secret is not kept.",
    'curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:8765/v1/query?q=x"',
]


def document(items: list[Planted], rng_seed: int = 7) -> str:
    """The planted lines mixed into ordinary text (a filler line between every two secrets)."""
    rng = random.Random(rng_seed)
    lines: list[str] = []
    for n, item in enumerate(items):
        if n % 2 == 0:
            lines.append(rng.choice(FILLER))
        lines.append(item.line)
    return "\n".join(lines)
