"""When and how long to wait before trying again (pure; the sleeping is the caller's)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from .errors import CommonsHelperError


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6  # total tries, the first included
    base: float = 1.0  # seconds before the 2nd try
    cap: float = 60.0  # never wait longer than this between tries
    min_maxlag_wait: float = 5.0  # Wikimedia asks for at least 5 s after maxlag

    def delay(self, attempt: int, error: CommonsHelperError, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed try number ``attempt`` (1-based).

        Capped exponential backoff with full jitter; a server's Retry-After
        (maxlag, 503, ratelimited) is a floor, never shortened by jitter.
        """
        r = rng or random
        exp = min(self.cap, self.base * (2 ** (attempt - 1)))
        wait = r.uniform(exp / 2, exp)
        retry_after = getattr(error, "retry_after", None)
        if error.code == "maxlag":
            retry_after = max(retry_after or 0.0, self.min_maxlag_wait)
        if retry_after is not None:
            wait = max(wait, min(float(retry_after), self.cap * 5))
        return wait

    def should_retry(self, attempt: int, error: CommonsHelperError) -> bool:
        return error.retryable and attempt < self.attempts


#: For tests and benchmarks against a local wiki: same logic, short waits.
FAST = RetryPolicy(attempts=6, base=0.05, cap=0.5, min_maxlag_wait=0.0)
