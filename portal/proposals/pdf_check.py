"""Checks one uploaded PDF and writes a clean copy, in a process of its own.

Run by portal.proposals.attachments as `python -I pdf_check.py`, the PDF on stdin, never imported by the
app. pypdf is pure Python: a 10 MB file built to keep it busy (an array of millions of numbers, an object
stream that inflates to 75 MB of them) takes it minutes, and a malformed one may find a loop. Here such a
file meets a CPU and memory limit and the app only waits so long, instead of a web worker being stuck.
The process gets no environment from the app (no database address, no secret key) and imports nothing of it.

Exit status: 0 with the rewritten PDF on stdout; ENCRYPTED, ACTIVE (scripts, actions, embedded files),
DAMAGED (not a PDF pypdf can read, or no pages) or TOO_COMPLEX (more objects than any real document)."""
import io
import logging
import resource
import sys

ENCRYPTED, ACTIVE, DAMAGED, TOO_COMPLEX = 3, 4, 5, 6
CPU_SECONDS = 10
MEMORY_BYTES = 1024 * 1024 * 1024
# Dictionaries, arrays and names visited; a real document of 10 MB has a few hundred thousand.
MAX_NODES = 1_000_000

# Dictionary keys that start something when the document is opened or touched, or that carry files.
UNSAFE_KEYS = frozenset({
    "/JavaScript", "/JS", "/AA", "/Launch", "/EmbeddedFiles", "/EF", "/RichMedia", "/RichMediaContent",
    "/XFA",
})
# Action types, annotation subtypes and object types with the same powers, wherever they appear as a value.
UNSAFE_NAMES = frozenset({
    "/JavaScript", "/Launch", "/SubmitForm", "/ImportData", "/GoToE", "/GoToR", "/Rendition", "/EmbeddedFile",
    "/FileAttachment", "/RichMedia", "/Movie", "/Sound",
})


class TooComplex(Exception):
    pass


def has_active_content(reader) -> bool:
    """Walk every object reachable from the trailer (the ones a viewer, and the rewrite, would use)."""
    from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject
    root = reader.trailer.get("/Root")
    open_action = root.get_object().get("/OpenAction") if root is not None else None
    if open_action is not None and not isinstance(open_action.get_object(), ArrayObject):
        return True  # an action dictionary rather than a plain "show this page" destination
    seen, nodes = set(), 0
    stack = [reader.trailer]
    while stack:
        obj = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise TooComplex()
        if isinstance(obj, IndirectObject):
            ref = (obj.idnum, obj.generation)
            if ref in seen:
                continue
            seen.add(ref)
            obj = obj.get_object()
        if isinstance(obj, DictionaryObject):
            for key, value in obj.items():
                if key in UNSAFE_KEYS:
                    return True
                stack.append(value)
        elif isinstance(obj, ArrayObject):
            stack.extend(obj)
        elif isinstance(obj, NameObject) and obj in UNSAFE_NAMES:
            return True
    return False


def rewrite(data: bytes) -> tuple[int, bytes]:
    """(exit status, the clean copy when the status is 0)."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import NameObject
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            return ENCRYPTED, b""
        if has_active_content(reader):
            return ACTIVE, b""
        if len(reader.pages) < 1:
            return DAMAGED, b""
        writer = PdfWriter(clone_from=reader)
        # An opening view (go to page 1, fit the width) is harmless but has no reason to travel with
        # the copy; an opening *action* was refused above.
        writer.root_object.pop(NameObject("/OpenAction"), None)
        writer.metadata = None  # author, software, dates: like a photo's EXIF
        writer.xmp_metadata = None
        out = io.BytesIO()
        writer.write(out)
    except (TooComplex, MemoryError, RecursionError):
        return TOO_COMPLEX, b""
    except Exception:  # pypdf raises whatever the broken structure trips it over
        return DAMAGED, b""
    return 0, out.getvalue()


def main() -> int:
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    logging.getLogger("pypdf").setLevel(logging.CRITICAL)  # its notes on repairs are the uploader's problem
    status, clean = rewrite(sys.stdin.buffer.read())
    sys.stdout.buffer.write(clean)
    return status


if __name__ == "__main__":
    sys.exit(main())
