"""Delivery adapters, one per outbox channel. ``adapter_for(channel).deliver(message)`` returns on success and
raises ``DeliveryFailed`` (retry later) or ``ChannelDisabled`` (park now) otherwise.

The HTTP adapters post JSON to a base URL from settings (``GRIDLOOP_WECHAT_API_BASE``, ``GRIDLOOP_SMS_API_BASE``)
with the header ``X-Gridloop-Message-Id: <outbox id>``: a relay that dies after sending but before recording the
delivery sends the same message again, and the receiver (or the gateway in front of it) drops the repeat by that id.
"""

import json
import urllib.error
import urllib.parse
import urllib.request

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from events.models import EventKind, WeChatAccessToken

from .models import InboxItem, OutboxChannel, OutboxMessage

MESSAGE_ID_HEADER = "X-Gridloop-Message-Id"


class DeliveryFailed(Exception):
    """This attempt failed; the relay tries again later."""


class ChannelDisabled(DeliveryFailed):
    """The channel is not configured: retrying cannot help, so the message is parked."""


class InboxAdapter:
    """Puts the message into the staff user's in-app inbox; a second delivery of the same outbox row is a no-op."""

    def deliver(self, message: OutboxMessage) -> None:
        try:
            with transaction.atomic():
                InboxItem.objects.get_or_create(outbox=message, defaults={
                    "user_id": message.recipient_user_id, "title": message.title, "body": message.body,
                    "case_id": message.case_id, "created_at": timezone.now(),
                })
        except IntegrityError:  # a concurrent delivery of the same row won the race: it is there
            if not InboxItem.objects.filter(outbox=message).exists():
                raise


class HttpAdapter:
    """POSTs one JSON document per message to ``<base><path>``; any non-2xx answer or network error is a failure."""

    setting = ""
    path = ""
    label = ""

    def base_url(self) -> str:
        return (getattr(settings, self.setting, "") or "").rstrip("/")

    def document(self, message: OutboxMessage) -> dict:
        raise NotImplementedError

    def check_answer(self, body: bytes) -> None:
        """Raise DeliveryFailed when a 2xx answer still reports an error."""

    def configured_base(self) -> str:
        base = self.base_url()
        if not base:
            raise ChannelDisabled(f"the {self.label} channel is not configured ({self.setting} is empty)")
        return base

    def post(self, url: str, data: bytes, message: OutboxMessage, *, shown: str) -> bytes:
        """POST ``data`` for ``message``; the answer's body, or DeliveryFailed naming ``shown`` (the URL without
        secrets) on a non-2xx answer or a network error."""
        request = urllib.request.Request(url, data=data, method="POST", headers={
            "Content-Type": "application/json; charset=utf-8", MESSAGE_ID_HEADER: str(message.pk),
        })
        timeout = settings.GRIDLOOP_OUTBOX_HTTP_TIMEOUT_SECONDS
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - configured URL
                return response.read()
        except urllib.error.HTTPError as exc:
            raise DeliveryFailed(f"{self.label}: HTTP {exc.code} from {shown}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise DeliveryFailed(f"{self.label}: cannot reach {shown}: {exc}") from exc

    def deliver(self, message: OutboxMessage) -> None:
        base = self.configured_base()
        data = json.dumps(self.document(message), ensure_ascii=False).encode()
        self.check_answer(self.post(base + self.path, data, message, shown=base + self.path))


class MediaUnavailable(DeliveryFailed):
    """WeChat no longer has (or never had) this media: fetching it again cannot help."""


TOKEN_ERRORS = {40001, 40014, 42001}  # invalid, malformed or expired access token: fetch a new one and try once more
MEDIA_GONE_ERRORS = {40007}  # invalid media_id (WeChat keeps media for 3 days)
TOKEN_MARGIN_SECONDS = 300  # refresh this long before WeChat's expires_in runs out


class WeChatAdapter(HttpAdapter):
    """The official account's server APIs (§8 of the domain reference), at ``GRIDLOOP_WECHAT_API_BASE``:
    customer-service text messages to a citizen's openid (the outbox channel) and media downloads by MediaId.

    Both need the access token (``GET /cgi-bin/token?grant_type=client_credential&appid=&secret=``). It is kept in
    one database row for every process (``events.models.WeChatAccessToken``) until ``TOKEN_MARGIN_SECONDS`` before
    it expires, fetched under that row's lock (so processes do not invalidate each other's tokens), and fetched anew
    at once when WeChat answers 40001/40014/42001. Without AppID/AppSecret the base URL is taken to be a gateway that
    adds the token itself (a 中控 token server) and no token is sent."""

    setting = "GRIDLOOP_WECHAT_API_BASE"
    path = "/cgi-bin/message/custom/send"
    label = "WeChat"

    def document(self, message: OutboxMessage) -> dict:
        from django.utils import translation
        from django.utils.translation import gettext as _

        content = f"{message.title}\n{message.body}".strip()
        if message.kind == EventKind.VERIFY:  # the request to rate: the citizen answers by replying a number
            with translation.override(getattr(settings, "GRIDLOOP_WECHAT_LANGUAGE", "zh-hans")):
                content += "\n" + _("Reply with a number from 1 to 5 to rate the result (5 = very satisfied).")
        return {"touser": message.recipient_address, "msgtype": "text", "text": {"content": content}}

    # --- access token ------------------------------------------------------------------------------------------------
    def credentials(self) -> tuple[str, str]:
        return (getattr(settings, "GRIDLOOP_WECHAT_APP_ID", "") or "",
                getattr(settings, "GRIDLOOP_WECHAT_APP_SECRET", "") or "")

    def _get_json(self, url: str) -> dict:
        timeout = settings.GRIDLOOP_OUTBOX_HTTP_TIMEOUT_SECONDS
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - configured URL
                body = response.read(65536)
        except urllib.error.HTTPError as exc:
            raise DeliveryFailed(f"{self.label}: HTTP {exc.code} from {self._redact(url)}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise DeliveryFailed(f"{self.label}: cannot reach {self._redact(url)}: {exc}") from exc
        try:
            answer = json.loads(body)
        except ValueError as exc:
            raise DeliveryFailed(f"{self.label}: not JSON from {self._redact(url)}") from exc
        if not isinstance(answer, dict):
            raise DeliveryFailed(f"{self.label}: unexpected answer from {self._redact(url)}")
        return answer

    @staticmethod
    def _redact(url: str) -> str:
        return url.split("?", 1)[0]  # never log the secret or the token

    def access_token(self, *, stale: str = "") -> str:
        """A valid access token ("" without credentials). ``stale``: a token WeChat just refused — get a new one
        unless another process already did."""
        from datetime import timedelta

        app_id, secret = self.credentials()
        if not (app_id and secret):
            return ""
        now = timezone.now()
        row = WeChatAccessToken.objects.filter(app_id=app_id).first()
        if row is not None and row.token and row.token != stale and row.expires_at > now:
            return row.token
        with transaction.atomic():
            row, _ = WeChatAccessToken.objects.select_for_update().get_or_create(
                app_id=app_id, defaults={"token": "", "expires_at": now, "fetched_at": now})
            if row.token and row.token != stale and row.expires_at > now:
                return row.token  # refreshed by another process while this one waited for the lock
            query = urllib.parse.urlencode({"grant_type": "client_credential", "appid": app_id, "secret": secret})
            answer = self._get_json(f"{self.base_url()}/cgi-bin/token?{query}")
            token, expires_in = answer.get("access_token"), answer.get("expires_in")
            if not token or not isinstance(expires_in, int):
                raise DeliveryFailed(f"{self.label}: no access token: errcode {answer.get('errcode')}: "
                                     f"{answer.get('errmsg', '')}")
            margin = min(TOKEN_MARGIN_SECONDS, expires_in // 10)
            row.token, row.fetched_at = token, now
            row.expires_at = now + timedelta(seconds=max(expires_in - margin, 0))
            row.save()
        return token

    def _with_token(self, url: str, token: str) -> str:
        if not token:
            return url
        return url + ("&" if "?" in url else "?") + urllib.parse.urlencode({"access_token": token})

    # --- customer-service messages (the outbox channel) ---------------------------------------------------------------
    def deliver(self, message: OutboxMessage) -> None:
        base = self.configured_base()
        data = json.dumps(self.document(message), ensure_ascii=False).encode()
        token = self.access_token()
        for attempt in (1, 2):
            body = self.post(self._with_token(base + self.path, token), data, message, shown=base + self.path)
            errcode = self._errcode(body)
            if errcode in TOKEN_ERRORS and token and attempt == 1:
                token = self.access_token(stale=token)
                continue
            if errcode not in (None, 0):
                answer = self._answer(body)
                raise DeliveryFailed(f"WeChat: errcode {errcode}: {answer.get('errmsg', '')}")
            return

    @staticmethod
    def _answer(body: bytes) -> dict:
        try:
            answer = json.loads(body or b"{}")
        except ValueError:
            return {}
        return answer if isinstance(answer, dict) else {}

    def _errcode(self, body: bytes):
        return self._answer(body).get("errcode")

    def check_answer(self, body: bytes) -> None:
        errcode = self._errcode(body)
        if errcode not in (None, 0):
            raise DeliveryFailed(f"WeChat: errcode {errcode}: {self._answer(body).get('errmsg', '')}")

    # --- media (photos citizens sent) ---------------------------------------------------------------------------------
    def media_get(self, media_id: str, *, max_bytes: int) -> tuple[bytes, str]:
        """Download a temporary media file: (content, content type). Raises DeliveryFailed (try again later),
        MediaUnavailable (WeChat has no such media) or ChannelDisabled (not configured)."""
        base = self.configured_base()
        url = f"{base}/cgi-bin/media/get?" + urllib.parse.urlencode({"media_id": media_id})
        token = self.access_token()
        timeout = settings.GRIDLOOP_OUTBOX_HTTP_TIMEOUT_SECONDS
        for attempt in (1, 2):
            try:
                with urllib.request.urlopen(self._with_token(url, token), timeout=timeout) as response:  # noqa: S310
                    content_type = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
                    content = response.read(max_bytes + 1)
            except urllib.error.HTTPError as exc:
                raise DeliveryFailed(f"{self.label}: HTTP {exc.code} from {base}/cgi-bin/media/get") from exc
            except (urllib.error.URLError, OSError) as exc:
                raise DeliveryFailed(f"{self.label}: cannot reach {base}/cgi-bin/media/get: {exc}") from exc
            if "json" in content_type or "text/plain" in content_type or content[:1] == b"{":
                answer = self._answer(content)
                errcode = answer.get("errcode")
                if errcode in TOKEN_ERRORS and token and attempt == 1:
                    token = self.access_token(stale=token)
                    continue
                if errcode in MEDIA_GONE_ERRORS:
                    raise MediaUnavailable(f"WeChat: errcode {errcode}: {answer.get('errmsg', '')}")
                raise DeliveryFailed(f"WeChat: errcode {errcode}: {answer.get('errmsg', '')}")
            if len(content) > max_bytes:
                raise MediaUnavailable(f"WeChat: the media is larger than {max_bytes} bytes")
            return content, content_type
        raise DeliveryFailed("WeChat: the access token was refused twice")


class SmsAdapter(HttpAdapter):
    setting = "GRIDLOOP_SMS_API_BASE"
    path = "/send"
    label = "SMS"

    def document(self, message: OutboxMessage) -> dict:
        return {"phone": message.recipient_address, "text": f"{message.title} {message.body}".strip(),
                "message_id": str(message.pk)}


ADAPTERS = {OutboxChannel.INBOX: InboxAdapter(), OutboxChannel.WECHAT: WeChatAdapter(),
            OutboxChannel.SMS: SmsAdapter()}


def adapter_for(channel: str):
    return ADAPTERS[channel]
