"""WeChat channel tests: a configured account, and a citizen who talks to /wechat/ like WeChat's servers do.

    account   the settings (Token, EncodingAESKey, AppID) and English replies (the zh-hans catalog is filled later)
    Citizen   sends messages in plaintext or safe mode and reads the replies back
"""

import hashlib
import itertools
import time
import xml.etree.ElementTree as ET

import pytest
from django.test import Client

from events.wechat.crypto import MessageCrypto, signature
from tests.events.conftest import world  # noqa: F401  (the shared case-test world)

TOKEN = "gridloop-test-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APP_ID = "wx-test-app"
ACCOUNT = "gh_gridloop"
_ids = itertools.count(6054768590064713728)
_clock = itertools.count(1_790_000_000)


@pytest.fixture(autouse=True)
def account(settings):
    settings.GRIDLOOP_WECHAT_TOKEN = TOKEN
    settings.GRIDLOOP_WECHAT_ENCODING_AES_KEY = AES_KEY
    settings.GRIDLOOP_WECHAT_APP_ID = APP_ID
    settings.GRIDLOOP_WECHAT_APP_SECRET = ""
    settings.GRIDLOOP_WECHAT_API_BASE = ""
    settings.GRIDLOOP_WECHAT_INTAKE_REGION = ""
    settings.GRIDLOOP_WECHAT_LANGUAGE = "en"
    return settings


def message_xml(openid: str, msg_type: str, *, create_time: int | None = None, msg_id: int | None = None,
                **fields) -> str:
    parts = [f"<ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>", f"<FromUserName><![CDATA[{openid}]]></FromUserName>",
             f"<CreateTime>{create_time or next(_clock)}</CreateTime>", f"<MsgType><![CDATA[{msg_type}]]></MsgType>"]
    for name, value in fields.items():
        parts.append(f"<{name}><![CDATA[{value}]]></{name}>" if isinstance(value, str) else f"<{name}>{value}</{name}>")
    if msg_type != "event":
        parts.append(f"<MsgId>{msg_id or next(_ids)}</MsgId>")
    return "<xml>" + "".join(parts) + "</xml>"


_nonces = itertools.count(10_000)


def query(timestamp=None, nonce=None, token=TOKEN, **extra) -> dict:
    """Signed query parameters as WeChat sends them: the current time (tests may travel) and a fresh nonce."""
    timestamp = str(int(time.time())) if timestamp is None else timestamp
    nonce = str(next(_nonces)) if nonce is None else nonce
    return {"signature": signature(token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce, **extra}


def post(client: Client, body: str | bytes, params: dict):
    from urllib.parse import urlencode

    return client.generic("POST", "/wechat/?" + urlencode(params), body, content_type="text/xml")


def reply_fields(response) -> dict:
    assert response.status_code == 200, response.content
    root = ET.fromstring(response.content)
    return {child.tag: (child.text or "") for child in root}


class Citizen:
    """A WeChat user talking to the account; ``safe=True`` sends and reads AES-encrypted messages."""

    def __init__(self, openid: str, *, safe: bool = False):
        self.openid, self.safe, self.client = openid, safe, Client()
        self.crypto = MessageCrypto(AES_KEY, APP_ID)

    def send_xml(self, xml: str):
        if not self.safe:
            return post(self.client, xml, query(openid=self.openid))
        encrypt = self.crypto.encrypt(xml)
        params = query(openid=self.openid, encrypt_type="aes")
        params["msg_signature"] = signature(TOKEN, params["timestamp"], params["nonce"], encrypt)
        body = f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
        return post(self.client, body, params)

    def reply_of(self, response) -> str:
        """The text the citizen sees ("" for an acknowledgement without a message)."""
        assert response.status_code == 200, response.content
        if response.content == b"success":
            return ""
        fields = reply_fields(response)
        if self.safe:
            assert fields["MsgSignature"] == signature(TOKEN, fields["TimeStamp"], fields["Nonce"], fields["Encrypt"])
            fields = {child.tag: (child.text or "") for child in ET.fromstring(self.crypto.decrypt(fields["Encrypt"]))}
        assert fields["ToUserName"] == self.openid and fields["FromUserName"] == ACCOUNT
        assert fields["MsgType"] == "text"
        return fields["Content"]

    def send(self, msg_type: str, **fields) -> str:
        return self.reply_of(self.send_xml(message_xml(self.openid, msg_type, **fields)))

    def text(self, content: str, **kw) -> str:
        return self.send("text", Content=content, **kw)

    def location(self, lat: float, lng: float, label: str = "") -> str:
        return self.send("location", Location_X=lat, Location_Y=lng, Scale=15, Label=label)

    def image(self, media_id: str) -> str:
        return self.send("image", PicUrl=f"http://mmbiz.example/{media_id}", MediaId=media_id)

    def click(self, key: str) -> str:
        return self.send("event", Event="CLICK", EventKey=key)


@pytest.fixture
def citizen():
    return Citizen("oWX-citizen-" + hashlib.sha1(b"a").hexdigest()[:10])

