"""One PDF of several captured pages, merged with pypdf (the pages keep their text)."""

from __future__ import annotations

import io
from collections.abc import Sequence


def merge_pdfs(parts: Sequence[bytes], title: str = "") -> bytes:
    """The pages of `parts`, in order, as one PDF titled `title`."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for part in parts:
        for page in PdfReader(io.BytesIO(part)).pages:
            writer.add_page(page)
    if title:
        writer.add_metadata({"/Title": title, "/Producer": "Toucan stack"})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
