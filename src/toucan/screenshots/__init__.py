"""Stories leave the screen: the warm browser of a worker process (browser.py), one capture
of one page as PNG or PDF (capture.py), the merge of a PDF's pages (pdf.py), the pages a
capture may show (pages.py) and exports as jobs with expiring download links (exports.py).
The capture tokens the browser authenticates with are in auth/capture_tokens.py."""
