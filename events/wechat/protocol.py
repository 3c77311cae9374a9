"""The official account's XML: messages in (a hardened parser — no DTDs, no entities — and a size limit) and passive
replies out (a text message, wrapped with Encrypt/MsgSignature/TimeStamp/Nonce in safe mode)."""

from dataclasses import dataclass
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

KNOWN_TYPES = {"text", "image", "voice", "video", "shortvideo", "location", "link", "file", "event"}
MAX_FIELD_CHARS = 10_000


class MessageError(Exception):
    """The body is not a message of the protocol (malformed XML, missing envelope fields)."""


def xml_fields(body: bytes | str) -> dict[str, str]:
    """The child elements of ``<xml>`` as {tag: text}; raises MessageError for anything else."""
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException, ValueError, TypeError) as exc:
        raise MessageError(f"malformed XML: {exc}") from exc
    if root.tag != "xml":
        raise MessageError(f"the root element is <{root.tag}>, not <xml>")
    fields = {}
    for child in root:
        if len(child):  # nested elements (e.g. ScanCodeInfo): kept as their text parts
            text = " ".join((part.text or "").strip() for part in child.iter() if (part.text or "").strip())
        else:
            text = (child.text or "").strip()
        fields[child.tag] = text[:MAX_FIELD_CHARS]
    return fields


@dataclass(frozen=True)
class Inbound:
    """A message or event from a citizen (the fields of REFERENCE.md §8)."""

    fields: dict

    @classmethod
    def parse(cls, body: bytes | str) -> "Inbound":
        fields = xml_fields(body)
        for name in ("ToUserName", "FromUserName", "CreateTime", "MsgType"):
            if not fields.get(name):
                raise MessageError(f"{name} is missing")
        if len(fields["FromUserName"]) > 64:
            raise MessageError("FromUserName is longer than an openid can be")
        if not fields["CreateTime"].isdigit() or len(fields["CreateTime"]) > 12:
            raise MessageError("CreateTime is not a Unix time")
        if fields["MsgType"] != "event" and fields.get("MsgId") and not fields["MsgId"].isdigit():
            raise MessageError("MsgId is not a number")
        return cls(fields)

    def get(self, name: str, default: str = "") -> str:
        return self.fields.get(name) or default

    @property
    def openid(self) -> str:
        return self.fields["FromUserName"]

    @property
    def account(self) -> str:
        return self.fields["ToUserName"]

    @property
    def create_time(self) -> int:
        return int(self.fields["CreateTime"])

    @property
    def msg_type(self) -> str:
        return self.fields["MsgType"].strip().lower()

    @property
    def event(self) -> str:
        return self.get("Event").strip().lower()

    @property
    def dedupe_key(self) -> str:
        """What WeChat's retries of this message share: MsgId, or FromUserName + CreateTime for events."""
        if self.msg_type != "event" and self.get("MsgId"):
            return f"msg:{self.get('MsgId')}"
        return f"event:{self.openid}:{self.create_time}:{self.event}"

    def coordinates(self) -> tuple[float, float] | None:
        """(lat, lng) of a location message, or None when they are missing or not numbers."""
        try:
            lat, lng = float(self.get("Location_X")), float(self.get("Location_Y"))
        except ValueError:
            return None
        if not (-90 <= lat <= 90 and -180 <= lng <= 180):
            return None
        return lat, lng


def cdata(text: str) -> str:
    return "<![CDATA[" + str(text).replace("]]>", "]]]]><![CDATA[>") + "]]>"


def text_reply(*, to_user: str, from_user: str, content: str, create_time: int) -> str:
    """A passive text reply: to the citizen (``to_user`` = their openid) from the account."""
    return (f"<xml><ToUserName>{cdata(to_user)}</ToUserName><FromUserName>{cdata(from_user)}</FromUserName>"
            f"<CreateTime>{int(create_time)}</CreateTime><MsgType>{cdata('text')}</MsgType>"
            f"<Content>{cdata(content)}</Content></xml>")


def encrypted_reply(*, encrypt: str, msg_signature: str, timestamp: str, nonce: str) -> str:
    return (f"<xml><Encrypt>{cdata(encrypt)}</Encrypt><MsgSignature>{cdata(msg_signature)}</MsgSignature>"
            f"<TimeStamp>{timestamp}</TimeStamp><Nonce>{cdata(nonce)}</Nonce></xml>")
