"""Delivery adapters, one per outbox channel. ``adapter_for(channel).deliver(message)`` returns on success and
raises ``DeliveryFailed`` (retry later) or ``ChannelDisabled`` (park now) otherwise.

The HTTP adapters post JSON to a base URL from settings (``GRIDLOOP_WECHAT_API_BASE``, ``GRIDLOOP_SMS_API_BASE``)
with the header ``X-Gridloop-Message-Id: <outbox id>``: a relay that dies after sending but before recording the
delivery sends the same message again, and the receiver (or the gateway in front of it) drops the repeat by that id.
"""

import json
import urllib.error
import urllib.request

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

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

    def deliver(self, message: OutboxMessage) -> None:
        base = self.base_url()
        if not base:
            raise ChannelDisabled(f"the {self.label} channel is not configured ({self.setting} is empty)")
        data = json.dumps(self.document(message), ensure_ascii=False).encode()
        request = urllib.request.Request(base + self.path, data=data, method="POST", headers={
            "Content-Type": "application/json; charset=utf-8", MESSAGE_ID_HEADER: str(message.pk),
        })
        timeout = settings.GRIDLOOP_OUTBOX_HTTP_TIMEOUT_SECONDS
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - configured URL
                body = response.read()
        except urllib.error.HTTPError as exc:
            raise DeliveryFailed(f"{self.label}: HTTP {exc.code} from {base}{self.path}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise DeliveryFailed(f"{self.label}: cannot reach {base}{self.path}: {exc}") from exc
        self.check_answer(body)


class WeChatAdapter(HttpAdapter):
    """A WeChat customer-service text message to the citizen's openid (§8 of the domain reference)."""

    setting = "GRIDLOOP_WECHAT_API_BASE"
    path = "/cgi-bin/message/custom/send"
    label = "WeChat"

    def document(self, message: OutboxMessage) -> dict:
        content = f"{message.title}\n{message.body}".strip()
        return {"touser": message.recipient_address, "msgtype": "text", "text": {"content": content}}

    def check_answer(self, body: bytes) -> None:
        try:
            answer = json.loads(body or b"{}")
        except ValueError:
            return
        if isinstance(answer, dict) and answer.get("errcode") not in (None, 0):
            raise DeliveryFailed(f"WeChat: errcode {answer.get('errcode')}: {answer.get('errmsg', '')}")


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
