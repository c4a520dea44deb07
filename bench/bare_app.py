"""The yardstick for bench/overview_throughput.py: a bare Flask route returning a fixed string.

    gunicorn -c gunicorn.conf.py bench.bare_app:app
"""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello() -> str:
    return "Hello, festival!"
