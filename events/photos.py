"""Photo checks: JPEG/PNG/WebP only (by content, not by file name), a size limit, and a clean copy.

Every accepted photo is stored re-encoded (``_reencoded``): decoded and written again in its format, turned upright by
its EXIF orientation, without its EXIF block and without anything appended after the image (a JPEG with HTML or a
script behind its end marker is stored as the picture alone). The GPS position and orientation read from the EXIF are
kept in the attachment's metadata for staff, not in the file a citizen or an Open311 app may download.
"""

import hashlib
import io
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from PIL import Image, ImageOps, UnidentifiedImageError

from config.errors import InvalidInput

CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
MAX_PHOTOS = 9
EXIF_ORIENTATION, EXIF_GPS_IFD = 0x0112, 0x8825
Image.MAX_IMAGE_PIXELS = 80_000_000  # refuse decompression bombs


@dataclass(frozen=True)
class Photo:
    upload: object  # the UploadedFile, rewound
    content_type: str
    size: int
    sha256: str
    metadata: dict


def _dms_to_degrees(dms, ref) -> float | None:
    try:
        degrees = float(dms[0]) + float(dms[1]) / 60 + float(dms[2]) / 3600
    except (TypeError, ValueError, IndexError, ZeroDivisionError):
        return None
    return round(-degrees if ref in ("S", "W") else degrees, 7)


def _exif(image) -> dict:
    meta = {}
    exif = image.getexif()
    if not exif:
        return meta
    if EXIF_ORIENTATION in exif:
        meta["orientation"] = int(exif[EXIF_ORIENTATION])
    gps = exif.get_ifd(EXIF_GPS_IFD)
    if gps and 2 in gps and 4 in gps:
        lat, lng = _dms_to_degrees(gps[2], gps.get(1)), _dms_to_degrees(gps[4], gps.get(3))
        if lat is not None and lng is not None:
            meta["gps"] = {"lat": lat, "lng": lng}
    return meta


SAVE_OPTIONS = {"JPEG": {"quality": 90, "optimize": True}, "PNG": {"optimize": True}, "WEBP": {"quality": 90}}


def _reencoded(upload, image_format: str) -> ContentFile:
    """The photo decoded and written again: upright, no EXIF, nothing after the image's end."""
    upload.seek(0)
    with Image.open(upload) as image:
        image = ImageOps.exif_transpose(image)
        if image_format == "JPEG" and image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        buffer = io.BytesIO()
        image.save(buffer, format=image_format, **SAVE_OPTIONS[image_format])
    upload.seek(0)
    return ContentFile(buffer.getvalue(), name=getattr(upload, "name", "photo"))


def photo_check(upload, *, field: str = "photos") -> Photo:
    """Check one uploaded photo; raise InvalidInput naming ``field`` and the file when it is not acceptable."""
    name = getattr(upload, "name", "photo")
    limit = settings.GRIDLOOP_PHOTO_MAX_BYTES
    if upload.size > limit:
        raise InvalidInput(f"{name} is {upload.size / 1e6:.1f} MB; a photo may be at most {limit / 1e6:.0f} MB",
                           field=field)
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    try:
        with Image.open(upload) as image:  # verify() must come first and leaves the image unusable …
            image_format = image.format
            image.verify()
        upload.seek(0)
        with Image.open(upload) as image:  # … so read size and EXIF from a fresh open
            width, height = image.size
            metadata = _exif(image)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, RuntimeError,
            Image.DecompressionBombError) as exc:
        raise InvalidInput(f"{name} is not a readable JPEG, PNG or WebP image", field=field) from exc
    finally:
        upload.seek(0)
    if image_format not in CONTENT_TYPES:
        raise InvalidInput(f"{name} is a {image_format} image; only JPEG, PNG and WebP are accepted", field=field)
    clean = _reencoded(upload, image_format)
    width, height = (height, width) if metadata.get("orientation") in (5, 6, 7, 8) else (width, height)
    metadata.update(width=width, height=height, original_name=name[:200], original_sha256=digest.hexdigest())
    return Photo(upload=clean, content_type=CONTENT_TYPES[image_format], size=clean.size,
                 sha256=hashlib.sha256(clean.read()).hexdigest(), metadata=metadata)


def photos_check(uploads, *, field: str = "photos", minimum: int = 0) -> list[Photo]:
    uploads = list(uploads or [])
    if len(uploads) < minimum:
        raise InvalidInput(f"at least {minimum} photo(s) needed in {field}", field=field)
    if len(uploads) > MAX_PHOTOS:
        raise InvalidInput(f"at most {MAX_PHOTOS} photos in {field}, got {len(uploads)}", field=field)
    return [photo_check(upload, field=field) for upload in uploads]
