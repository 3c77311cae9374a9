"""Who is acting: a staff user, the system, a citizen (by channel identity hash) or a sensor."""

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .models import ActorKind

if TYPE_CHECKING:
    from grids.models import User


def citizen_key(*, phone: str = "", openid: str = "", email: str = "") -> str:
    """A stable hash of a citizen's channel identity (phone, WeChat openid or email), never the raw value."""
    if openid:
        raw = f"wechat:{openid}"
    elif phone:
        raw = "phone:" + "".join(ch for ch in phone if ch.isdigit() or ch == "+")
    elif email:
        raw = f"email:{email.strip().lower()}"
    else:
        return ""
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class Actor:
    kind: str
    user: "User | None" = None
    ref: str = ""

    @classmethod
    def staff(cls, user) -> "Actor":
        return cls(ActorKind.USER, user=user)

    @classmethod
    def system(cls, ref: str = "") -> "Actor":
        return cls(ActorKind.SYSTEM, ref=ref)

    @classmethod
    def citizen(cls, key: str) -> "Actor":
        return cls(ActorKind.CITIZEN, ref=key)
