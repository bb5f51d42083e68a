"""``python -m mistral_jobs_async``: the ``mistral-jobs`` command."""

import sys

from mistral_jobs_async._cli import main

sys.exit(main())
