"""The yardstick for the benchmarks: a bare Flask route returning a fixed string, and a bare upload.

    gunicorn -c gunicorn.conf.py bench.bare_app:app
"""

import shutil
import tempfile

from flask import Flask, request

app = Flask(__name__)
app.config["MAX_CONTENT_LENGTH"] = 1 << 30


@app.get("/")
def hello() -> str:
    return "Hello, festival!"


@app.post("/upload")
def upload() -> tuple[str, int]:
    """What any upload does at least: read the multipart body and keep the file (bench/upload_bench.py)."""
    with tempfile.TemporaryFile() as kept:
        shutil.copyfileobj(request.files["file"].stream, kept)
    return "", 303
