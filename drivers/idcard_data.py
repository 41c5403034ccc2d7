"""The data block of a resident ID card and the rules its fields must follow.

The base-message answer carries `text length (2) | photo length (2) | text | photo`; the text is
256 bytes of UCS-2 little-endian, space padded, in fixed-width fields. The 18-character ID number
ends in an ISO 7064 MOD 11-2 check character (GB 11643), embeds the birth date, and its 17th digit
(the end of the sequence code) is odd for a man and even for a woman.
"""

from __future__ import annotations

from datetime import date

from drivers.card_reader import IdCard

TEXT_BYTES = 256
PHOTO_BYTES = 1024
FIELDS = (  # name, width in bytes
    ("name", 30), ("sex", 2), ("nation", 4), ("birth_date", 16), ("address", 70), ("id_number", 36),
    ("authority", 30), ("valid_from", 16), ("valid_until", 16), ("reserved", 36),
)
SEXES = {"0": "未知", "1": "男", "2": "女", "9": "未说明"}
NATIONS = dict(enumerate((
    "汉", "蒙古", "回", "藏", "维吾尔", "苗", "彝", "壮", "布依", "朝鲜", "满", "侗", "瑶", "白", "土家", "哈尼",
    "哈萨克", "傣", "黎", "傈僳", "佤", "畲", "高山", "拉祜", "水", "东乡", "纳西", "景颇", "柯尔克孜", "土",
    "达斡尔", "仫佬", "羌", "布朗", "撒拉", "毛南", "仡佬", "锡伯", "阿昌", "普米", "塔吉克", "怒", "乌孜别克",
    "俄罗斯", "鄂温克", "德昂", "保安", "裕固", "京", "塔塔尔", "独龙", "鄂伦春", "赫哲", "门巴", "珞巴", "基诺",
), start=1))
NATIONS.update({97: "其他", 98: "外国血统中国籍人士"})
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
DIGITS = frozenset("0123456789")
CHECK_CHARACTERS = "10X98765432"


class CardDataError(Exception):
    """A data block that is not a valid card; the message never contains the card's data."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def check_character(first17: str) -> str:
    return CHECK_CHARACTERS[sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True)) % 11]


def _digits(text: str) -> bool:
    """ASCII digits only: str.isdigit() would also accept '²' or '٣' from a hostile card."""
    return bool(text) and set(text) <= DIGITS


def _parse_date(text: str) -> date | None:
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8])) if len(text) == 8 and _digits(text) else None
    except ValueError:
        return None


def validate_id_number(number: str, birth_date: str) -> None:
    """Raise `CardDataError` unless `number` is a well-formed ID number for that birth date."""
    if len(number) != 18 or not _digits(number[:17]) or number[17] not in "0123456789X":
        raise CardDataError("id_format", "ID number is not 17 digits and a check character")
    if check_character(number[:17]) != number[17]:
        raise CardDataError("id_checksum", "ID number check character does not match (ISO 7064 MOD 11-2)")
    if _parse_date(number[6:14]) is None:
        raise CardDataError("id_birth_date", "ID number does not contain a valid birth date")
    if number[6:14] != birth_date:
        raise CardDataError("id_birth_date", "birth date in the ID number differs from the card's birth date")


def check_sex_digit(number: str, sex: str) -> None:
    """Raise `CardDataError` when a well-formed ID number's sex digit (the 17th: odd for a man, even for a
    woman) disagrees with the card's sex field; 未知 and 未说明 claim neither, so they are not compared."""
    if sex in ("男", "女") and (int(number[16]) % 2 == 1) != (sex == "男"):
        raise CardDataError("id_sex", "sex digit of the ID number (17th: odd man, even woman) disagrees with "
                                      "the card's sex field")


def decode_base_message(data: bytes) -> IdCard:
    """The data of a READ_BASE answer → `IdCard`, or `CardDataError`."""
    if len(data) < 4:
        raise CardDataError("short", f"base message of {len(data)} bytes has no length fields")
    text_len, photo_len = int.from_bytes(data[:2], "big"), int.from_bytes(data[2:4], "big")
    if text_len != TEXT_BYTES or len(data) < 4 + text_len + photo_len:
        raise CardDataError("lengths", f"base message announces text {text_len} and photo {photo_len} bytes, "
                                       f"carries {len(data) - 4}")
    text = data[4 : 4 + TEXT_BYTES]
    fields: dict[str, str] = {}
    offset = 0
    for name, width in FIELDS:
        try:
            fields[name] = text[offset : offset + width].decode("utf-16-le").strip(" \x00")
        except UnicodeDecodeError:
            raise CardDataError("encoding", f"field {name} is not UCS-2 text") from None
        offset += width
    sex = SEXES.get(fields["sex"])
    if sex is None:
        raise CardDataError("sex", "unknown sex code")
    nation = NATIONS.get(int(fields["nation"])) if _digits(fields["nation"]) else None
    if nation is None:
        raise CardDataError("nation", "unknown nation code")
    if _parse_date(fields["birth_date"]) is None or _parse_date(fields["valid_from"]) is None:
        raise CardDataError("date", "birth date or start of validity is not a date")
    if fields["valid_until"] != "长期" and _parse_date(fields["valid_until"]) is None:
        raise CardDataError("date", "end of validity is neither a date nor 长期")
    if not fields["name"]:
        raise CardDataError("name", "name is empty")
    validate_id_number(fields["id_number"], fields["birth_date"])
    check_sex_digit(fields["id_number"], sex)
    return IdCard(
        name=fields["name"], sex=sex, nation=nation, birth_date=fields["birth_date"], address=fields["address"],
        id_number=fields["id_number"], authority=fields["authority"], valid_from=fields["valid_from"],
        valid_until=fields["valid_until"],
    )


def encode_base_message(card: IdCard, photo: bytes = b"") -> bytes:
    """The inverse, for the simulator: card → base-message data with the codes a reader sends."""
    sex_code = next(code for code, name in SEXES.items() if name == card.sex)
    nation_code = f"{next(code for code, name in NATIONS.items() if name == card.nation):02d}"
    values = {
        "name": card.name, "sex": sex_code, "nation": nation_code, "birth_date": card.birth_date,
        "address": card.address, "id_number": card.id_number, "authority": card.authority,
        "valid_from": card.valid_from, "valid_until": card.valid_until, "reserved": "",
    }
    text = b"".join(values[name].ljust(width // 2)[: width // 2].encode("utf-16-le") for name, width in FIELDS)
    photo = photo.ljust(PHOTO_BYTES, b"\x00")[:PHOTO_BYTES]
    return TEXT_BYTES.to_bytes(2, "big") + PHOTO_BYTES.to_bytes(2, "big") + text + photo
