"""Registry traces: the IBM format of Anwar et al. (FAST '18), a synthetic generator shaped like
that study's findings, and offline cache evaluation over a trace.

    from regsim.traces import generate, write_trace, read_trace, summarize, evaluate
    trace = generate(seed=1, duration_s=600)           # a Trace of Requests
    write_trace(trace, "trace.json")                   # the IBM JSON format
    trace = read_trace("trace.json")                   # validated; errors name file, record and field
    summarize(trace)["layers_under_10MB"]
    evaluate(trace, "lru", "1GB", prefetch=True).hit_ratio

The format, the generator's parameters and the findings behind them: ``docs/traces.md``.
"""

from .evaluate import Evaluation, blob_sizes, compare_policies, evaluate
from .ibm import (KINDS, METHODS, REQUIRED, Request, Trace, TraceError, dumps_trace, format_timestamp, loads_trace,
                  parse_record, parse_timestamp, parse_uri, read_trace, to_record, write_trace)
from .stats import summarize
from .synthetic import SyntheticSpec, generate

__all__ = [
    "KINDS",
    "METHODS",
    "REQUIRED",
    "Evaluation",
    "Request",
    "SyntheticSpec",
    "Trace",
    "TraceError",
    "blob_sizes",
    "compare_policies",
    "dumps_trace",
    "evaluate",
    "format_timestamp",
    "generate",
    "loads_trace",
    "parse_record",
    "parse_timestamp",
    "parse_uri",
    "read_trace",
    "summarize",
    "to_record",
    "write_trace",
]
