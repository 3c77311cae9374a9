"""Template context for every page: the signed-in person's homes (the header's switcher) and the text size."""
from .homes import homes_of

TEXT_SIZE_COOKIE = "gridloop_text"
TEXT_SIZES = ("normal", "large")


def text_size(request) -> str:
    value = request.COOKIES.get(TEXT_SIZE_COOKIE, "normal")
    return value if value in TEXT_SIZES else "normal"


def shell(request) -> dict:
    user = getattr(request, "user", None)
    homes = homes_of(user) if user is not None and user.is_authenticated else []
    return {"shell_homes": homes, "text_size": text_size(request)}
