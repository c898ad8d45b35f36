"""Any OpenAI-compatible chat server (llama-server, vLLM, Ollama): base URL plus model name."""

from __future__ import annotations

import time

from ..errors import ModelError
from ..records import Usage


class OpenAICompatModel:
    """A model behind /chat/completions, asked for JSON with a schema (json_schema response format)."""

    def __init__(self, base_url: str, model: str = "default", *, api_key: str = "", timeout: float = 300.0):
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = f"{model}@{self.base_url}"
        self.api_key = api_key
        self.timeout = timeout

    def complete_json(
        self, system: str, user: str, schema: dict, *, max_tokens: int = 256, temperature: float = 0.2
    ) -> tuple[str, Usage]:
        import httpx

        body = {
            "model": self.model,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
            "max_tokens": max_tokens,
            "temperature": temperature,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": schema, "strict": True},
            },
        }
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        start = time.perf_counter()
        try:
            resp = httpx.post(f"{self.base_url}/chat/completions", json=body, headers=headers, timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise ModelError(f"cannot reach the model server at {self.base_url}: {exc}") from exc
        if resp.status_code != 200:
            raise ModelError(f"model server answered {resp.status_code}: {resp.text[:300]}")
        try:
            data = resp.json()
            content = data["choices"][0]["message"]["content"] or ""
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise ModelError(f"model server sent an answer gum cannot read: {resp.text[:300]}") from exc
        usage = data.get("usage") or {}
        return content, Usage(
            prompt_tokens=usage.get("prompt_tokens", 0),
            completion_tokens=usage.get("completion_tokens", 0),
            seconds=time.perf_counter() - start,
        )
