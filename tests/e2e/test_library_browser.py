"""The public information library in a real browser: axe in four languages at both widths, no cookie,
and the printed handout's QR code decodes to the page's public address."""

from __future__ import annotations

import io
import shutil
import subprocess  # nosec B404: pdftoppm with a fixed argument list
import tempfile
import unicodedata
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

PAGE = "/info/{lang}/pain-info/what-is-long-term-pain"
# The page's own text and frame only: interface strings the catalogue lacks fall back to English,
# which axe cannot see, so Persian is included although its interface catalogue comes separately.
LANGS = ["sv", "en", "ar", "fa"]


@pytest.mark.parametrize("lang", LANGS)
def test_the_public_page_passes_axe_at_both_widths_and_sets_no_cookie(page, live_server, axe, lang):
    for width, height in ((1280, 800), (360, 740)):
        page.set_viewport_size({"width": width, "height": height})
        response = page.goto(live_server.url + PAGE.format(lang=lang))
        assert response.status == 200
        assert "set-cookie" not in {k.lower() for k in response.all_headers()}
        assert page.locator("html").get_attribute("dir") == ("rtl" if lang in ("ar", "fa") else "ltr")
        axe(page, f"{PAGE.format(lang=lang)} at {width}px")
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"the page scrolls sideways at {width}px in {lang}"
    assert page.context.cookies() == []
    # The switcher goes to the same page in another language.
    other = "sv" if lang != "sv" else "ar"
    page.locator(f'.language-list a[lang="{other}"]').click()
    page.wait_for_url(f"**{PAGE.format(lang=other)}")


def _gray_pixels_from_pdf(pdf: bytes) -> tuple[bytes, int, int]:
    """The first page as 8-bit grey pixels: pdftoppm if it is installed, else the largest image in the PDF."""
    if shutil.which("pdftoppm"):
        with tempfile.TemporaryDirectory() as folder:
            source = Path(folder) / "handout.pdf"
            source.write_bytes(pdf)
            subprocess.run(["pdftoppm", "-gray", "-r", "150", "-f", "1", "-l", "1", str(source),  # nosec B603 B607
                            str(Path(folder) / "p")], check=True)
            return _read_pgm(next(Path(folder).glob("p*.pgm")).read_bytes())
    from pypdf import PdfReader

    images = []
    for obj in PdfReader(io.BytesIO(pdf)).pages[0]["/Resources"]["/XObject"].values():
        obj = obj.get_object()
        if obj.get("/Subtype") == "/Image":
            images.append(obj)
    image = max(images, key=lambda o: o["/Width"] * o["/Height"])
    width, height, data = image["/Width"], image["/Height"], image.get_data()
    channels = len(data) // (width * height)
    # Grey or RGB, 8 bits: keep one channel (the code is black on white).
    return bytes(data[::channels]), width, height


def _read_pgm(data: bytes) -> tuple[bytes, int, int]:
    fields, position = [], 0
    while len(fields) < 4:
        while data[position:position + 1].isspace():
            position += 1
        end = position
        while not data[end:end + 1].isspace():
            end += 1
        fields.append(data[position:end])
        position = end
    width, height = int(fields[1]), int(fields[2])
    pixels = data[position + 1:]
    return pixels[:width * height], width, height


def test_the_printed_handout_has_a_qr_code_to_the_public_page(page, live_server):
    import zxingcpp
    from pypdf import PdfReader

    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(live_server.url + PAGE.format(lang="ar") + "/handout")
    page.emulate_media(media="print")
    pdf = page.pdf(format="A4", print_background=True)
    # PDF text holds Arabic in its presentation forms; NFKC gives the letters back.
    text = unicodedata.normalize("NFKC", "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages))
    assert "الألم" in text and "Print" not in text  # the print button is not printed
    pixels, width, height = _gray_pixels_from_pdf(pdf)
    view = zxingcpp.ImageView(memoryview(pixels).cast("B", (height, width)), width, height, zxingcpp.ImageFormat.Lum)
    codes = zxingcpp.read_barcodes(view, formats=zxingcpp.BarcodeFormat.QRCode)
    assert [c.text for c in codes] == [live_server.url + PAGE.format(lang="ar")]
