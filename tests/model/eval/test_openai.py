"""The `openai` adapter and the LLM judge against a loopback stub of an OpenAI-compatible
server that the test starts: frames arrive as JPEG images, answers are scored, the judge's
score is read back, and an unreachable endpoint scores wrong without stopping the run."""

from __future__ import annotations

import base64
import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from PIL import Image
from support.shards import make_demo_shards

from longvid.eval.cli import main


class StubServer:
    """Answers chat completions; judge prompts get "Score: 4", others echo the image count."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.requests.append({"path": self.path, "body": body})
                content = body["messages"][0]["content"]
                if isinstance(content, str) and "Reference answer" in content:
                    reply = "Score: 4"
                else:
                    images = [p for p in content if p["type"] == "image_url"]
                    reply = f"I saw {len(images)} frames."
                data = json.dumps({"choices": [{"message": {"content": reply}}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


@pytest.fixture
def stub() -> Iterator[StubServer]:
    server = StubServer()
    server.thread.start()
    yield server
    server.server.shutdown()


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("shards")
    make_demo_shards(out, videos=2)  # 3 open questions per video: caption, counting, grounding
    return out


def _run(tmp_path: Path, shards: Path, base_url: str, judge_url: str | None) -> Path:
    config = {
        "output_dir": str(tmp_path / "eval"),
        "baselines": [],
        "model": {
            "name": "openai",
            "options": {"base_url": base_url, "model": "stub", "frames": 3, "retries": 0},
        },
        "data": {"root": str(shards), "splits": ["train", "val"], "workers": 1},
        "judge": {"base_url": judge_url, "model": "stub-judge", "retries": 0},
    }
    path = tmp_path / "eval.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main([str(path)]) == 0
    return tmp_path / "eval"


def test_frames_go_as_jpeg_images_and_the_judge_scores(
    tmp_path: Path, shards: Path, stub: StubServer
) -> None:
    output = _run(tmp_path, shards, stub.url, stub.url)
    model_calls = [r for r in stub.requests if r["body"]["model"] == "stub"]
    assert len(model_calls) == 6 and all(r["path"] == "/v1/chat/completions" for r in model_calls)
    for call in model_calls:
        *images, text = call["body"]["messages"][0]["content"]
        assert len(images) == 3 and text["type"] == "text"
        assert "3 frames are uniformly sampled" in text["text"]  # the prompt says what is sent
        head, data = images[0]["image_url"]["url"].split(",", 1)
        assert head == "data:image/jpeg;base64"
        assert Image.open(io.BytesIO(base64.b64decode(data))).size == (448, 252)
    records = [json.loads(line) for line in (output / "samples.jsonl").read_text().splitlines()]
    assert {r["output"] for r in records} == {"I saw 3 frames."}
    open_records = [r for r in records if r["form"] == "open"]
    assert open_records and all(r["score"] == pytest.approx(0.8) for r in open_records)
    assert all(r["judge_reply"] == "Score: 4" for r in open_records)
    results = json.loads((output / "results.json").read_text())
    assert results["open_scorer"] == "judge:stub-judge"


def test_unreachable_endpoint_scores_wrong_without_stopping(
    tmp_path: Path, shards: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = _run(tmp_path, shards, "http://127.0.0.1:9/v1", None)  # port 9: nothing listens
    records = [json.loads(line) for line in (output / "samples.jsonl").read_text().splitlines()]
    assert len(records) == 6 and all(r["output"] == "" and r["score"] == 0 for r in records)
    assert "openai:" in capsys.readouterr().err
