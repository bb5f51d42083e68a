"""Exact token counts with Mistral's own tokenizers (``mistral-common``, the ``data`` extra).

``mistral-common`` is the library Mistral publishes for its request formats and tokenizers;
it ships the tokenizer files, which are loaded offline from the package (``from_file``) in
fine-tuning validation mode, so the count is the service's and its structure checks are
Mistral's. Without the extra, counts are estimates (about four characters a token) and say so.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from mistral_jobs_async.datasets._rules import Finding

__all__ = ["MODEL_TOKENIZERS", "TokenCounter", "tokenizer_for"]


@dataclass(frozen=True)
class TokenizerInfo:
    """A shipped tokenizer file and the context length of the models that use it."""

    file: str
    context: int


#: The service's fine-tunable model names (a prefix matches) and the tokenizer each uses, as
#: ``mistral-common``'s own table pairs them. The first entry is the fallback for a model
#: name not listed: the newest text tokenizer shipped.
MODEL_TOKENIZERS: dict[str, TokenizerInfo] = {
    "open-mistral-nemo": TokenizerInfo("tekken_240718.json", 131_072),
    "mistral-small": TokenizerInfo("tekken_240718.json", 131_072),
    "ministral-8b": TokenizerInfo("tekken_240718.json", 131_072),
    "ministral-3b": TokenizerInfo("tekken_240718.json", 131_072),
    "mistral-large": TokenizerInfo("mistral_instruct_tokenizer_241114.model.v7", 131_072),
    "open-mistral-7b": TokenizerInfo("mistral_instruct_tokenizer_240323.model.v3", 32_768),
    "codestral": TokenizerInfo("mistral_instruct_tokenizer_240323.model.v3", 32_768),
    "open-mixtral-8x22b": TokenizerInfo("mistral_instruct_tokenizer_240323.model.v3", 65_536),
    "open-mixtral-8x7b": TokenizerInfo("mistral_instruct_tokenizer_240216.model.v2", 32_768),
}
_FALLBACK = "open-mistral-nemo"


def tokenizer_for(model: str | None) -> tuple[TokenizerInfo, bool]:
    """The tokenizer of ``model`` (the longest listed prefix), and whether it was known."""
    if model:
        matches = [name for name in MODEL_TOKENIZERS if model.startswith(name)]
        if matches:
            return MODEL_TOKENIZERS[max(matches, key=len)], True
    return MODEL_TOKENIZERS[_FALLBACK], model is None


class TokenCounter:
    """Counts a sample's tokens (exactly with ``mistral-common``, else an estimate)."""

    def __init__(self, model: str | None) -> None:
        self.info, self.known_model = tokenizer_for(model)
        self.exact = False
        self._tokenizer: Any = None
        self._classes: tuple[Any, Any] | None = None
        try:
            from mistral_common.protocol.instruct.validator import (  # noqa: PLC0415 (extra)
                ValidationMode,
            )
            from mistral_common.tokens.tokenizers.mistral import (  # noqa: PLC0415
                MistralTokenizer,
            )
        except ModuleNotFoundError:
            return
        # The file is loaded on the first count: a counter made only for its facts (which
        # tokenizer, which context) costs no load.
        self._classes = (MistralTokenizer, ValidationMode)
        self.exact = True

    def count(self, sample: dict[str, Any], kind: str) -> tuple[int, list[Finding]]:
        """The sample's tokens, and what Mistral's own validation refused in it."""
        if self._classes is None:
            return _estimate(sample), []
        if self._tokenizer is None:
            self._tokenizer = _load(self.info.file, *self._classes)
        if kind == "chat":
            return self._chat(sample)
        raw = self._tokenizer.instruct_tokenizer.tokenizer
        return len(raw.encode(sample["text"], bos=True, eos=True)), []

    def _chat(self, sample: dict[str, Any]) -> tuple[int, list[Finding]]:
        from mistral_common.exceptions import MistralCommonException  # noqa: PLC0415
        from mistral_common.protocol.instruct.messages import FinetuningMessage  # noqa: PLC0415
        from mistral_common.protocol.instruct.request import (  # noqa: PLC0415
            ChatCompletionRequest,
        )
        from pydantic import ValidationError  # noqa: PLC0415 (mistral-common's own dependency)

        fields = {k: v for k, v in sample.items() if k in ("messages", "tools")}
        try:
            request = ChatCompletionRequest[FinetuningMessage](**fields)
            tokens = self._tokenizer.encode_chat_completion(request).tokens
        except (MistralCommonException, ValidationError, ValueError) as exc:
            reason = str(exc).splitlines()[0][:200]
            return 0, [Finding("$", f"Mistral's validation: {reason}", "mistral_common")]
        return len(tokens), []


@functools.cache
def _load(file: str, tokenizer_class: Any, modes: Any) -> Any:
    """A shipped tokenizer in fine-tuning mode, loaded once per process.

    Loading a Tekken file takes most of a second: every report of the process shares it.
    """
    import mistral_common  # noqa: PLC0415 (the data extra)

    data = Path(mistral_common.__file__).parent / "data" / file
    # mistral-common's enum members are typed as their auto() values: the cast says what
    # they are.
    mode = cast("Any", modes.finetuning)
    return tokenizer_class.from_file(str(data), mode=mode)


def _estimate(sample: dict[str, Any]) -> int:
    """About four characters a token, over the sample's text (an estimate, said as such)."""
    return max(1, len(json.dumps(sample, ensure_ascii=False)) // 4)
