"""Check training data locally, before it is uploaded and paid for.

``validate_file(path)`` reads a JSONL file line by line and reports every problem with its
line number, the field's path and a short reason (capped per kind, with a count of the
rest), and a summary of the samples: formats, roles, tool use. The formats are those of
Mistral's fine-tuning service: chat (``messages``, with ``tools`` for function calling),
``text`` lines, and classifier samples (``text`` and ``labels``).

Modules: ``_rules`` (what one sample must meet), ``_report`` (problems and counts) and
``_validate`` (the streaming file check).
"""

from __future__ import annotations

from mistral_jobs_async.datasets._report import Problem, Report
from mistral_jobs_async.datasets._validate import validate_file, validate_lines

__all__ = ["Problem", "Report", "validate_file", "validate_lines"]
