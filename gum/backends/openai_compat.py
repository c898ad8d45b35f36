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
        self.format_style = "json_schema"

    def _response_format(self, schema: dict) -> dict:
        if self.format_style == "json_schema":
            return {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema, "strict": True}}
        return {"type": "json_object", "schema": schema}

    def _post(self, body: dict, headers: dict):
        import httpx

        try:
            return httpx.post(f"{self.base_url}/chat/completions", json=body, headers=headers, timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise ModelError(f"cannot reach the model server at {self.base_url}: {exc}") from exc

    def complete_json(
        self, system: str, user: str, schema: dict, *, max_tokens: int = 256, temperature: float = 0.2
    ) -> tuple[str, Usage]:
        body = {
            "model": self.model,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
            "max_tokens": max_tokens,
            "temperature": temperature,
            "response_format": self._response_format(schema),
        }
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        start = time.perf_counter()
        resp = self._post(body, headers)
        refused_format = resp.status_code in (400, 422) or (
            resp.status_code >= 400 and ("response_format" in resp.text or "json_schema" in resp.text))
        if refused_format and self.format_style == "json_schema":
            # OpenAI's json_schema format is not understood everywhere (llama-cpp-python's own server wants
            # {"type": "json_object", "schema": ...}); switch once and remember.
            self.format_style = "json_object"
            body["response_format"] = self._response_format(schema)
            resp = self._post(body, headers)
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
