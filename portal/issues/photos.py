"""Issue photos: checked by their content, re-encoded, stored without any metadata.

A phone photo carries the place it was taken (GPS), the device and often the owner's name; a file
named .jpg may be anything. So an upload is decoded by Pillow from its bytes (never its name or type
header), turned upright, flattened to RGB and written again as two plain JPEGs: 1600 px for the
detail page and 400 px for lists. The uploaded bytes are never stored or served."""
import io
import math
import os
import secrets
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from portal.errors import DomainError
from portal.extensions import db
from portal.issues.models import IssuePhoto

MAX_BYTES = 15 * 1024 * 1024
MAX_PIXELS = 40_000_000
SIZES = (1600, 400)
JPEG_QUALITY = 82

FORMATS = ["JPEG", "PNG", "WEBP"]
try:  # HEIC (iPhone photos) when the optional pillow-heif is installed
    from pillow_heif import register_heif_opener
except ImportError:  # pragma: no cover - depends on the installation
    HEIF_SUPPORTED = False
else:  # pragma: no cover
    register_heif_opener()
    FORMATS.append("HEIF")
    HEIF_SUPPORTED = True

# Pillow's own decompression-bomb guard, at our limit: it warns above MAX_IMAGE_PIXELS and refuses
# above twice that while reading the header. We check the size ourselves before decoding as well.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


@dataclass(frozen=True)
class PreparedPhoto:
    """Two re-encoded JPEGs, ready to be written; nothing of the upload itself."""

    large: bytes   # longest side ≤ 1600 px
    small: bytes   # longest side ≤ 400 px
    width: int     # of the large version
    height: int


def accepted_formats_label():
    return _l("JPEG, PNG, WebP or HEIC") if HEIF_SUPPORTED else _l("JPEG, PNG or WebP")


def _not_a_photo():
    return DomainError(_l("This file is not a photo we can read. Please send a %(formats)s picture.",
                          formats=accepted_formats_label()), "photos")


def _too_many_pixels():
    return DomainError(_l("This photo is too large (more than %(mp)d megapixels). Please send a smaller one.",
                          mp=MAX_PIXELS // 1_000_000), "photos")


def prepare(data: bytes) -> PreparedPhoto:
    """Check an uploaded file by its content and re-encode it; DomainError(…, "photos") when refused."""
    if not data:
        raise _not_a_photo()
    if len(data) > MAX_BYTES:
        raise DomainError(_l("This photo is larger than %(mb)d MB. Please send a smaller one.",
                             mb=MAX_BYTES // (1024 * 1024)), "photos")
    with _open_checked(data) as image:
        return _decode(image)


def _open(data: bytes) -> Image.Image:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # we refuse by our own count
        return Image.open(io.BytesIO(data), formats=FORMATS)


def _open_checked(data: bytes) -> Image.Image:
    """Open (header only), check format and size, verify the structure, then reopen for decoding:
    Pillow cannot decode an image after verify()."""
    try:
        image = _open(data)
    except Image.DecompressionBombError:
        raise _too_many_pixels() from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise _not_a_photo() from None
    with image:
        if image.format not in FORMATS:
            raise _not_a_photo()
        width, height = image.size
        if width < 1 or height < 1:
            raise _not_a_photo()
        if width * height > MAX_PIXELS:
            raise _too_many_pixels()
        try:
            image.verify()
        except Exception:  # verify() raises whatever the plugin trips over on damaged data
            raise _damaged() from None
    try:
        return _open(data)
    except Exception:
        raise _damaged() from None


def _damaged():
    return DomainError(_l("This photo seems damaged or incomplete. Please try sending it again."), "photos")


def _decode(image: Image.Image) -> PreparedPhoto:
    if image.format == "JPEG":
        # Let libjpeg decode at 1/2, 1/4 or 1/8 scale when the photo is much larger than we keep.
        scale = max(image.size) / SIZES[0]
        if scale > 1:
            image.draft("RGB", (math.ceil(image.width / scale), math.ceil(image.height / scale)))
    try:
        image.load()
        upright = ImageOps.exif_transpose(image)
    except Exception:  # truncated or corrupt pixel data
        raise _damaged() from None
    rgb = _to_srgb(upright, image.info.get("icc_profile"))
    large = rgb.copy()
    large.thumbnail((SIZES[0], SIZES[0]), Image.Resampling.LANCZOS)  # never enlarges
    small = large.copy()
    small.thumbnail((SIZES[1], SIZES[1]), Image.Resampling.LANCZOS)
    return PreparedPhoto(large=_jpeg(large), small=_jpeg(small), width=large.width, height=large.height)


def _to_srgb(image: Image.Image, icc_profile: bytes | None) -> Image.Image:
    """RGB with transparency flattened onto white; colours converted from the embedded profile (a
    Display P3 phone photo, a CMYK scan) to sRGB, so the profile itself can be dropped."""
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif image.mode.startswith("I"):  # 16-bit greyscale PNG: scale down rather than clip to white
        image = image.convert("I").point(lambda v: v / 256).convert("L")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        image = flat
    if icc_profile and image.mode in ("RGB", "CMYK"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
            image = ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"), outputMode="RGB")
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile: keep the colours as they are
    if image.mode != "RGB":
        image = image.convert("RGB")
    return image


def _jpeg(image: Image.Image) -> bytes:
    # A fresh image: nothing of the source's info (EXIF, XMP, comments, ICC) can travel into the file.
    clean = Image.new("RGB", image.size)
    clean.paste(image)
    out = io.BytesIO()
    clean.save(out, "JPEG", quality=JPEG_QUALITY, progressive=True, optimize=True)
    return out.getvalue()


# --- Storage ------------------------------------------------------------------------------------------

def photo_dir() -> Path:
    return Path(current_app.config["UPLOAD_DIR"]) / "issues"


def path_for(photo: IssuePhoto, size: int) -> Path:
    """Where one size of a stored photo lives: UPLOAD_DIR/issues/<key>-<size>.jpg."""
    if size not in SIZES:
        raise ValueError(f"no photo size {size}")
    return photo_dir() / f"{photo.key}-{size}.jpg"


def save(prepared: PreparedPhoto, *, issue, uploaded_by=None, event=None) -> IssuePhoto:
    """Write both sizes under a random, unguessable key and add the IssuePhoto row (the caller commits).

    Each file is written to a temporary name in the same folder and renamed into place, so a reader
    never sees half a photo. If the transaction later rolls back, the files stay as orphans without a
    row; nothing serves them, since photos are served by looking up their row."""
    folder = photo_dir()
    folder.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(24)
    photo = IssuePhoto(issue=issue, event=event, uploaded_by_id=getattr(uploaded_by, "id", None), key=key,
                       width=prepared.width, height=prepared.height)
    for size, data in ((SIZES[0], prepared.large), (SIZES[1], prepared.small)):
        _write_atomically(path_for(photo, size), data)
    db.session.add(photo)
    return photo


def _write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
