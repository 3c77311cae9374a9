"""/wechat/: the URL check, plaintext, compatible and safe mode, and every bad input (never a 500)."""

from urllib.parse import urlencode

import pytest
from django.test import Client

from events.models import Case, WeChatMessage
from events.wechat.crypto import MessageCrypto, signature

from .conftest import ACCOUNT, AES_KEY, APP_ID, TOKEN, Citizen, message_xml, post, query, reply_fields

pytestmark = pytest.mark.django_db


def test_url_check_returns_echostr_when_the_signature_matches(client):
    answer = client.get("/wechat/", query(echostr="8812345678901234567"))
    assert answer.status_code == 200 and answer.content == b"8812345678901234567"


@pytest.mark.parametrize("params", [
    query(echostr="x", token="another-token"),
    {"timestamp": "1", "nonce": "2", "echostr": "x"},
    {**query(echostr="x"), "timestamp": "1790000001"},
])
def test_url_check_with_a_bad_signature_is_403(client, params):
    answer = client.get("/wechat/", params)
    assert answer.status_code == 403 and b"x" not in answer.content


def test_an_unconfigured_account_answers_404(client, settings):
    settings.GRIDLOOP_WECHAT_TOKEN = ""
    assert client.get("/wechat/", query(echostr="x")).status_code == 404


def test_other_methods_are_405(client):
    assert client.put("/wechat/?" + urlencode(query())).status_code == 405


def test_plaintext_message_gets_a_plaintext_reply(world):
    citizen = Citizen("oWX-plain")
    response = citizen.send_xml(message_xml("oWX-plain", "event", Event="subscribe"))
    fields = reply_fields(response)
    assert fields["ToUserName"] == "oWX-plain" and fields["FromUserName"] == ACCOUNT and fields["MsgType"] == "text"
    assert "上报" in fields["Content"]
    assert WeChatMessage.objects.get().msg_type == "event"


def test_safe_mode_message_is_decrypted_and_the_reply_encrypted(world):
    citizen = Citizen("oWX-safe", safe=True)
    response = citizen.send_xml(message_xml("oWX-safe", "text", Content="上报"))
    fields = reply_fields(response)
    assert set(fields) == {"Encrypt", "MsgSignature", "TimeStamp", "Nonce"}
    assert "Step 1 of 3" in citizen.reply_of(response)  # checks MsgSignature and decrypts


def test_compatible_mode_uses_the_encrypted_copy_and_replies_encrypted(world):
    crypto = MessageCrypto(AES_KEY, APP_ID)
    inner = message_xml("oWX-compat", "text", Content="我的")
    encrypt = crypto.encrypt(inner)
    # compatible mode: the plaintext fields travel beside Encrypt; only the signed, encrypted copy is used
    body = message_xml("oWX-forged", "text", Content="上报").replace("</xml>", f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>")
    params = query(openid="oWX-compat", encrypt_type="aes")
    params["msg_signature"] = signature(TOKEN, params["timestamp"], params["nonce"], encrypt)
    response = post(Client(), body, params)
    assert "not reported anything" in Citizen("oWX-compat", safe=True).reply_of(response)
    assert list(WeChatMessage.objects.values_list("openid", flat=True)) == ["oWX-compat"]


def test_plaintext_mode_still_works_when_an_aes_key_is_configured_and_vice_versa(world, settings):
    assert "Step 1 of 3" in Citizen("oWX-a").text("上报")
    settings.GRIDLOOP_WECHAT_ENCODING_AES_KEY = ""
    response = Citizen("oWX-b", safe=True).send_xml(message_xml("oWX-b", "text", Content="上报"))
    assert response.status_code == 400 and not WeChatMessage.objects.filter(openid="oWX-b").exists()


def _nothing_stored():
    return not WeChatMessage.objects.exists() and not Case.objects.exists()


@pytest.mark.parametrize("params", [
    query(token="wrong", openid="oWX-x"),
    {"timestamp": "1790000000", "nonce": "1", "openid": "oWX-x"},
    {**query(openid="oWX-x"), "signature": "0" * 40},
])
def test_bad_signature_on_a_message_is_403_and_nothing_is_stored(world, params):
    response = post(Client(), message_xml("oWX-x", "text", Content="路灯坏了"), params)
    assert response.status_code == 403 and _nothing_stored()


def test_bad_msg_signature_in_safe_mode_is_403_and_nothing_is_stored(world):
    crypto = MessageCrypto(AES_KEY, APP_ID)
    encrypt = crypto.encrypt(message_xml("oWX-x", "text", Content="路灯坏了"))
    body = f"<xml><ToUserName>{ACCOUNT}</ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    for msg_signature in ("", signature(TOKEN, "1790000000", "12345", encrypt + "x")):
        params = query(openid="oWX-x", encrypt_type="aes", msg_signature=msg_signature)
        assert post(Client(), body, params).status_code == 403
    assert _nothing_stored()


@pytest.mark.parametrize("encrypt, expected", [
    ("", 400),
    ("bm90IGEgcmVhbCBtZXNzYWdl", 400),  # base64 of something that is not AES blocks
    (MessageCrypto(AES_KEY, "wx-someone-else").encrypt("<xml/>"), 400),
])
def test_undecryptable_safe_mode_bodies_are_400(world, encrypt, expected):
    body = f"<xml><ToUserName>{ACCOUNT}</ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    params = query(openid="oWX-x", encrypt_type="aes")
    params["msg_signature"] = signature(TOKEN, params["timestamp"], params["nonce"], encrypt)
    assert post(Client(), body, params).status_code == expected
    assert _nothing_stored()


BILLION_LAUGHS = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
                  "<xml><ToUserName>a</ToUserName><FromUserName>&lol2;</FromUserName><CreateTime>1</CreateTime>"
                  "<MsgType>text</MsgType><Content>x</Content><MsgId>1</MsgId></xml>")
EXTERNAL_ENTITY = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                   "<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>1</CreateTime>"
                   "<MsgType>text</MsgType><Content>&e;</Content><MsgId>1</MsgId></xml>")


@pytest.mark.parametrize("body", [
    "", "not xml", "<xml><unclosed></xml>", "<root><a>1</a></root>", BILLION_LAUGHS, EXTERNAL_ENTITY,
    "<xml><FromUserName>o</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType></xml>",  # no ToUserName
    "<xml><ToUserName>a</ToUserName><FromUserName>o</FromUserName><CreateTime>soon</CreateTime>"
    "<MsgType>text</MsgType></xml>",
    "<xml><ToUserName>a</ToUserName><FromUserName>" + "o" * 65 + "</FromUserName><CreateTime>1</CreateTime>"
    "<MsgType>text</MsgType></xml>",
    "<xml><ToUserName>a</ToUserName><FromUserName>o</FromUserName><CreateTime>1</CreateTime>"
    "<MsgType>text</MsgType><Content>x</Content><MsgId>12a</MsgId></xml>",
    b"\xff\xfe<xml>",
])
def test_malformed_xml_and_messages_are_400_never_500(world, body):
    response = post(Client(), body, query(openid="o"))
    assert response.status_code == 400 and _nothing_stored()


def test_an_oversized_body_is_400(world, settings):
    settings.GRIDLOOP_WECHAT_MAX_BODY_BYTES = 2048
    body = message_xml("oWX-big", "text", Content="长" * 2000)
    assert post(Client(), body, query(openid="oWX-big")).status_code == 400
    assert _nothing_stored()


@pytest.mark.parametrize("msg_type, fields", [
    ("video", {"MediaId": "v1", "ThumbMediaId": "t1"}),
    ("link", {"Title": "t", "Description": "d", "Url": "http://example.org"}),
    ("hologram", {"Data": "x"}),
])
def test_unknown_or_unsupported_message_types_get_a_polite_reply_and_are_kept(world, msg_type, fields):
    reply = Citizen("oWX-u").send(msg_type, **fields)
    assert "cannot be handled here" in reply
    assert WeChatMessage.objects.get().msg_type == msg_type and not Case.objects.exists()


def test_a_message_without_its_fields_gets_a_polite_reply(world):
    citizen = Citizen("oWX-partial")
    assert "could not be read" in citizen.send("location", Label="somewhere")
    assert "could not be read" in citizen.send("image", PicUrl="http://x")
    assert not Case.objects.exists()


def test_an_unexpected_failure_is_a_polite_reply_not_a_500(world, monkeypatch):
    def boom(message):
        raise RuntimeError("database gone")

    monkeypatch.setattr("events.wechat.views.message_receive", boom)
    assert "busy" in Citizen("oWX-boom").text("上报")


def test_unsubscribe_and_location_reports_are_acknowledged_with_success(world):
    citizen = Citizen("oWX-ack")
    assert citizen.send("event", Event="unsubscribe") == ""
    assert citizen.send("event", Event="LOCATION", Latitude=30.1, Longitude=120.1, Precision=10) == ""
    assert WeChatMessage.objects.count() == 2


# --- Replay (issue 19): plaintext mode's signature does not cover the body ----------------------------------------------
def test_a_signed_url_older_than_the_window_is_refused_and_nothing_stored(world, settings):
    import time

    old = str(int(time.time()) - settings.GRIDLOOP_WECHAT_MAX_CLOCK_SKEW_SECONDS - 5)
    answer = post(Client(), message_xml("oWX-replayer", "text", Content="路灯不亮"), query(timestamp=old))
    assert answer.status_code == 403 and b"clock" in answer.content
    assert not WeChatMessage.objects.exists()


def test_the_2019_timestamp_of_the_probe_is_refused(world):
    answer = post(Client(), message_xml("oWX-replayer", "text", Content="x"), query(timestamp="1546300800"))
    assert answer.status_code == 403


def test_a_leaked_signed_url_cannot_carry_another_message(world):
    params = query(openid="oWX-victim")
    first = post(Client(), message_xml("oWX-victim", "text", Content="你好"), params)
    assert first.status_code == 200
    forged = post(Client(), message_xml("oWX-victim", "text", Content="伪造的举报"), params)
    assert forged.status_code == 403 and b"nonce" in forged.content
    assert WeChatMessage.objects.count() == 1


def test_wechats_own_retry_of_the_same_message_is_answered(world):
    params, xml = query(openid="oWX-retry"), message_xml("oWX-retry", "text", Content="你好")
    assert post(Client(), xml, params).status_code == 200
    assert post(Client(), xml, params).status_code == 200  # same timestamp, nonce and body: WeChat retrying
    assert WeChatMessage.objects.count() == 1


def test_a_timestamp_that_is_not_a_number_is_refused(world):
    assert post(Client(), message_xml("oWX-x", "text", Content="x"), query(timestamp="soon")).status_code == 403
