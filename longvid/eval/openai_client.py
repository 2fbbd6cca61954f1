"""A minimal client for OpenAI-compatible chat endpoints (vLLM, llama.cpp, TGI, OpenAI).

Why not the `openai` package: one POST with JSON is all the evaluator needs (the `openai`
adapter and the LLM judge), and the standard library keeps it dependency-free and easy
to point at a loopback server.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from typing import Any


class EndpointError(RuntimeError):
    """The endpoint failed every attempt (message says how)."""


def chat(
    base_url: str,
    model: str,
    messages: list[dict[str, Any]],
    *,
    api_key_env: str | None = None,
    max_tokens: int = 32,
    timeout_s: float = 60.0,
    retries: int = 2,
) -> str:
    """The assistant text of one greedy chat completion.

    Retries connection errors and 5xx/429 answers with a doubling backoff.

    Raises:
        EndpointError: after the last attempt, or at once for other 4xx answers.
    """
    body = json.dumps(
        {"model": model, "messages": messages, "max_tokens": max_tokens, "temperature": 0.0}
    ).encode()
    headers = {"Content-Type": "application/json"}
    key = os.environ.get(api_key_env) if api_key_env else None
    if key:
        headers["Authorization"] = f"Bearer {key}"
    url = base_url.rstrip("/") + "/chat/completions"
    last = ""
    for attempt in range(retries + 1):
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                reply = json.loads(response.read())
            return str(reply["choices"][0]["message"]["content"] or "")
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code} from {url}"
            if exc.code < 500 and exc.code != 429:
                raise EndpointError(last) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            last = f"{url}: {exc}"
        except (KeyError, IndexError, ValueError) as exc:
            raise EndpointError(f"{url}: unexpected reply ({exc})") from None
        if attempt < retries:
            time.sleep(0.5 * 2**attempt)
    raise EndpointError(last)
