"""OCR runs tesseract on one thread without holding the model, in the same process, to one thread too."""

import os

import pytest
from helpers import have, render_text_image

from gum.ocr import ocr_file


@pytest.mark.skipif(not have("tesseract"), reason="tesseract is installed by packaging/install.sh")
def test_tesseract_gets_one_thread_and_the_process_environment_stays_as_it_was(tmp_path, monkeypatch):
    monkeypatch.delenv("OMP_THREAD_LIMIT", raising=False)
    image = render_text_image(tmp_path / "screen.png", ["Quarterly estimated tax payment", "IRS Direct Pay"])
    assert "IRS Direct Pay" in ocr_file(image)
    import pytesseract

    assert pytesseract.pytesseract.environ["OMP_THREAD_LIMIT"] == "1", "what tesseract is started with"
    assert "OMP_THREAD_LIMIT" not in os.environ, "llama.cpp in this process would read it and use one thread"
