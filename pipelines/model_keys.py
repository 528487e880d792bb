"""The deterministic part of model identity, mirrored from dbt_project/macros/normalize_model_key.sql.

dbt applies the macro in the warehouse; this copy lets tests and seed maintenance compute the same alias
without a warehouse. The two are checked against each other in tests/test_model_keys.py.
"""

import re

# (pattern, replacement) applied in order to the lower-cased, trimmed key; keep in step with the macro.
STEPS: tuple[tuple[str, str], ...] = (
    (r"^.*/", ""),                                   # routing prefixes: together_ai/meta-llama/..., azure/eu/...
    (r"-v[0-9]+:0$", ""),                              # Bedrock API versions: ...-v1:0 (claude-v2:1 keeps v2)
    (r":[a-z0-9._-]*$", ""),                         # variant suffixes: :free, :beta, :thinking
    (r"^(us|eu|apac|global|jp|au|ca)\.", ""),        # Bedrock cross-region inference prefixes
    (r"^(anthropic|meta|amazon|mistral|cohere|ai21|deepseek|openai|qwen|writer|moonshotai|google|xai)\.", ""),
    (r"[-@]20[0-9]{2}-?[0-9]{2}-?[0-9]{2}$", ""),    # date suffixes: -2024-05-13, -20240620, @20240620
    (r"-(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])$", ""),  # month-day snapshot suffixes: gpt-4-0613
)


def normalize_model_key(source_model_key: str) -> str:
    """Strip routing/vendor prefixes and version/date suffixes from a source's model key."""
    key = source_model_key.strip().lower()
    for pattern, replacement in STEPS:
        key = re.sub(pattern, replacement, key, count=1)
    return key
