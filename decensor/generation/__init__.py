"""Generation over a model: backends (transformers, vLLM, OpenAI-compatible endpoints), batched chat
generation, and the resumable answer cache keyed by everything that changes an answer.

This package sits below both ``decensor.eval`` and ``decensor.data`` (both call
:func:`generate_answers` with a :class:`ModelSpec`) and imports neither.
"""

from decensor.generation.answers import cache_key, generate_answers, model_identity
from decensor.generation.backends import BackendUnavailable, make_backend
from decensor.generation.batched import (GenerationSettings, Messages, chat_prompt, chat_token_ids, generate,
                                         iter_generate, stop_token_ids, to_messages)
from decensor.generation.cache import AnswerCache, prompt_key
from decensor.generation.spec import BACKENDS, ModelSpec, add_backend_arguments, backend_options, slug

__all__ = ["AnswerCache", "BACKENDS", "BackendUnavailable", "GenerationSettings", "Messages", "ModelSpec",
           "add_backend_arguments", "backend_options", "cache_key", "chat_prompt", "chat_token_ids", "generate",
           "generate_answers", "iter_generate", "make_backend", "model_identity", "prompt_key", "slug",
           "stop_token_ids", "to_messages"]
