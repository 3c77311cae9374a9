"""The WeChat official account channel (公众号 服务器配置, issue 5): citizens report, ask and rate by chatting.

    crypto.py        signatures and the AES message encryption of compatible and safe mode
    protocol.py      the XML messages in and the passive replies out (hardened parser, size limit)
    conversation.py  the guided reporting conversation, queries and ratings (writes: the service layer)
    services.py      photo fetching through the media API into the photo pipeline; the sweep for expired drafts
    views.py         ``/wechat/``: GET signature check, POST messages (plaintext, compatible, safe)
    tasks.py         Celery wrappers (fetch a photo, the sweep)
"""
