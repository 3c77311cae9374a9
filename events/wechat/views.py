"""``/wechat/``: the official account's server URL (公众号 服务器配置, REFERENCE.md §8).

GET  ?signature&timestamp&nonce&echostr          → echostr when signature = SHA-1(sorted token, timestamp, nonce)
POST ?signature&timestamp&nonce&openid            → a plaintext message; the reply in plaintext
POST …&encrypt_type=aes&msg_signature             → compatible or safe mode: the Encrypt element is checked against
                                                    msg_signature, decrypted and handled; the reply is encrypted
A bad signature is a 403 and nothing is stored, and so is a replay: a timestamp outside the clock-skew window, or a
(timestamp, nonce) already used with another body; a body that is too large, not XML or not a message is a 400; a
message the bot cannot use gets a polite reply. The reply comes at once: slow work (photos) runs in Celery.
"""

import hashlib
import logging
import secrets
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from .conversation import message_receive
from .crypto import CryptoError, MessageCrypto, signature, signature_ok
from .protocol import Inbound, MessageError, encrypted_reply, text_reply, xml_fields

log = logging.getLogger(__name__)
TEXT = "text/plain; charset=utf-8"


def _refuse(status: int, reason: str) -> HttpResponse:
    return HttpResponse(reason, status=status, content_type=TEXT)


def _read_body(request) -> bytes | None:
    """The body, or None when it is larger than GRIDLOOP_WECHAT_MAX_BODY_BYTES."""
    limit = settings.GRIDLOOP_WECHAT_MAX_BODY_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return None
    body = request.read(limit + 1)
    return None if len(body) > limit else body


def _replay_problem(timestamp: str, nonce: str, body: bytes) -> str:
    """Why a signed POST is a replay, or "": its timestamp must be within GRIDLOOP_WECHAT_MAX_CLOCK_SKEW_SECONDS of
    now, and a (timestamp, nonce) seen before may only carry the same body again (WeChat's own retries of a slow
    answer do; the message itself is then deduplicated by its MsgId)."""
    window = settings.GRIDLOOP_WECHAT_MAX_CLOCK_SKEW_SECONDS
    try:
        skew = abs(time.time() - int(timestamp))
    except ValueError:
        return "the timestamp must be whole seconds since 1970"
    if skew > window:
        return f"the timestamp is {int(skew)} s from the server's clock (at most {window} s)"
    digest = hashlib.sha256(body).hexdigest()
    key = f"gridloop:wechat-nonce:{timestamp}:{nonce}"
    if not cache.add(key, digest, timeout=2 * window) and cache.get(key) != digest:
        return "this timestamp and nonce were already used with another message"
    return ""


@csrf_exempt
@require_http_methods(["GET", "POST"])
def wechat_endpoint(request):
    token = settings.GRIDLOOP_WECHAT_TOKEN
    if not token:
        return _refuse(404, "the WeChat channel is not configured (GRIDLOOP_WECHAT_TOKEN is empty)")
    timestamp, nonce = request.GET.get("timestamp", ""), request.GET.get("nonce", "")
    if not signature_ok(signature(token, timestamp, nonce), request.GET.get("signature")):
        return _refuse(403, "bad signature")
    if request.method == "GET":
        return HttpResponse(request.GET.get("echostr", ""), content_type=TEXT)

    body = _read_body(request)
    if body is None:
        return _refuse(400, f"the body is larger than {settings.GRIDLOOP_WECHAT_MAX_BODY_BYTES} bytes")
    replay = _replay_problem(timestamp, nonce, body)
    if replay:
        log.warning("wechat: refused a signed request: %s", replay)
        return _refuse(403, replay)
    crypto = None
    if request.GET.get("encrypt_type", "").lower() == "aes":
        try:
            crypto = MessageCrypto(settings.GRIDLOOP_WECHAT_ENCODING_AES_KEY, settings.GRIDLOOP_WECHAT_APP_ID)
        except CryptoError as exc:
            log.error("wechat: an encrypted message came but the EncodingAESKey is not usable: %s", exc)
            return _refuse(400, "encrypted messages are not configured here")
        try:
            encrypt = xml_fields(body).get("Encrypt", "")
        except MessageError as exc:
            return _refuse(400, str(exc))
        if not encrypt:
            return _refuse(400, "encrypt_type=aes but the body has no Encrypt element")
        if not signature_ok(signature(token, timestamp, nonce, encrypt), request.GET.get("msg_signature")):
            return _refuse(403, "bad msg_signature")
        try:
            body = crypto.decrypt(encrypt).encode()
        except CryptoError as exc:
            return _refuse(400, f"cannot decrypt the message: {exc}")
    try:
        message = Inbound.parse(body)
    except MessageError as exc:
        return _refuse(400, str(exc))

    with translation.override(settings.GRIDLOOP_WECHAT_LANGUAGE):
        try:
            reply = message_receive(message)
        except Exception:  # never a 500 to WeChat: the citizen is asked to send it again (nothing was kept)
            log.exception("wechat: message %s from %s failed", message.dedupe_key, message.openid)
            reply = _("Sorry, the system is busy; please send that again in a moment.")
    if not reply:
        return HttpResponse("success", content_type=TEXT)
    xml = text_reply(to_user=message.openid, from_user=message.account, content=reply, create_time=int(time.time()))
    if crypto is None:
        return HttpResponse(xml, content_type="application/xml; charset=utf-8")
    stamp, reply_nonce = str(int(time.time())), str(secrets.randbelow(10**10))
    encrypted = crypto.encrypt(xml)
    return HttpResponse(encrypted_reply(encrypt=encrypted, msg_signature=signature(token, stamp, reply_nonce, encrypted),
                                        timestamp=stamp, nonce=reply_nonce),
                        content_type="application/xml; charset=utf-8")
