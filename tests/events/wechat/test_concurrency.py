"""On PostgreSQL: WeChat's retries arriving while the first delivery is still being handled file exactly one report."""

import threading

import pytest
from django.db import connection
from django.utils import translation

from events.models import Case, InboundReport, WeChatMessage
from events.wechat.conversation import message_receive
from events.wechat.protocol import Inbound

from .conftest import Citizen, message_xml


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_simultaneous_copies_of_a_message_file_one_report(world):
    citizen = Citizen("oWX-race")
    citizen.text("上报")
    citizen.location(*world.point)
    citizen.text("无")
    messages = [Inbound.parse(message_xml(f"oWX-race-{n}", "text", msg_id=880000 + n, Content=f"垃圾满溢 {n}"))
                for n in range(4)]
    final = Inbound.parse(message_xml("oWX-race", "text", msg_id=889999, Content="井盖丢了"))
    barrier, replies, errors = threading.Barrier(8), [], []

    def deliver(message):
        try:
            barrier.wait()
            with translation.override("en"):
                replies.append((message.openid, message_receive(message)))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver, args=(m,)) for m in [final] * 4 + messages]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len({reply for openid, reply in replies if openid == "oWX-race"}) == 1
    assert Case.objects.count() == 5 and InboundReport.objects.count() == 5
    assert WeChatMessage.objects.filter(payload__MsgId="889999").count() == 1
