"""Privacy-preserving computation between institutions: each party computes on its own data and learns only what
the protocol's output reveals.

Each protocol is a per-role state machine that consumes and produces authenticated, sequenced, size-limited
messages over one transport interface; the leakage of each is stated in ``docs/PRIVACY.md``.
"""
