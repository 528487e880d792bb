"""Compiled Jinja templates kept from one dbt process to the next.

Every dbt process compiles the templates it renders (macros, models, tests, configs) again: about 800 in a
one-day build, about 1.3 s of CPU. The Python code Jinja makes from a template depends only on the template's text,
its name and how the Jinja environment is configured (its class, lexer, extensions, filters and tests), so
`margins-dbt` keeps that code in one file beside dbt's manifest and the next dbt process loads it instead of
compiling. A template not found there is compiled by Jinja as usual and added when the process exits.

The key is a hash of the template's text and of everything in the environment that Jinja's parser and code
generator read; the file is named for this Python's bytecode and Jinja's version. When anything cannot be read or
written the cache is skipped, never the build: it only saves time.
"""

from __future__ import annotations

import atexit
import hashlib
import marshal
import os
from importlib.util import MAGIC_NUMBER
from pathlib import Path
from types import CodeType
from typing import Any

import jinja2

MAX_ENTRIES = 20_000   # well above a build's ~800 templates; beyond it the file starts over
_KEY_ATTRIBUTE = "_margins_code_key"


def cache_file(target_dir: Path) -> Path:
    return target_dir / f"jinja_code-{MAGIC_NUMBER.hex()}-{jinja2.__version__}.marshal"


def install(target_dir: Path) -> None:
    """Serve ``jinja2.Environment.compile`` from the cache file in ``target_dir`` and save new templates at exit."""
    path = cache_file(target_dir)
    known = _load(path)
    added: dict[bytes, CodeType] = {}
    compile_template = jinja2.Environment.compile

    def compile(self: jinja2.Environment, source: Any, name: str | None = None, filename: str | None = None,
                raw: bool = False, defer_init: bool = False) -> Any:
        key = _key(self, source, name, filename, defer_init) if isinstance(source, str) and not raw else None
        code = None if key is None else known.get(key)
        if code is None:
            code = compile_template(self, source, name, filename, raw, defer_init)
            if key is not None:
                known[key] = added[key] = code
        return code

    jinja2.Environment.compile = compile  # type: ignore[method-assign]
    atexit.register(lambda: added and _save(path, added))


def _key(environment: jinja2.Environment, source: str, name: str | None, filename: str | None,
         defer_init: bool) -> bytes | None:
    configuration = _configuration(environment)
    if configuration is None:
        return None
    text = repr((name, filename, defer_init)).encode() + b"\0" + source.encode("utf-8", "surrogatepass")
    return hashlib.blake2b(configuration + b"\0" + text, digest_size=20).digest()


def _configuration(environment: jinja2.Environment) -> bytes | None:
    """What Jinja's lexer, parser and code generator read from ``environment`` (None: not cacheable). Computed once
    per environment; dbt configures an environment completely before it compiles with it."""
    cached = environment.__dict__.get(_KEY_ATTRIBUTE)
    if cached is not None:
        return cached or None
    autoescape, finalize = environment.autoescape, environment.finalize
    if callable(autoescape) or os.environ.get("DBT_MACRO_DEBUGGING"):  # code that differs by template or run
        environment.__dict__[_KEY_ATTRIBUTE] = b""
        return None
    parts = (
        _qualified(type(environment)), _qualified(environment.code_generator_class), environment.is_async,
        environment.optimized, environment.sandboxed, sorted(getattr(environment, "intercepted_binops", ())),
        sorted(getattr(environment, "intercepted_unops", ())), autoescape,
        None if finalize is None else _passed(finalize),
        _lexer_configuration(environment),
        [(extension, _qualified(type(instance)), instance.priority)
         for extension, instance in sorted(environment.extensions.items())],
        _callables(environment.filters), _callables(environment.tests),
    )
    configuration = repr(parts).encode()
    environment.__dict__[_KEY_ATTRIBUTE] = configuration
    return configuration


def _lexer_configuration(environment: jinja2.Environment) -> tuple:
    return (environment.block_start_string, environment.block_end_string, environment.variable_start_string,
            environment.variable_end_string, environment.comment_start_string, environment.comment_end_string,
            environment.line_statement_prefix, environment.line_comment_prefix, environment.trim_blocks,
            environment.lstrip_blocks, environment.newline_sequence, environment.keep_trailing_newline)


def _callables(functions: dict[str, Any]) -> list[tuple[str, str]]:
    """Filter or test names with what each is passed (context, environment, ...): the generated call depends on it."""
    return [(name, _passed(function)) for name, function in sorted(functions.items())]


def _passed(function: Any) -> str:
    """What Jinja passes ``function`` first (``@pass_context`` and friends mark it so)."""
    return repr(getattr(function, "jinja_pass_arg", None))


def _qualified(kind: type) -> str:
    return f"{kind.__module__}.{kind.__qualname__}"


def _load(path: Path) -> dict[bytes, CodeType]:
    try:
        with open(path, "rb") as handle:
            entries = marshal.load(handle)
    except (OSError, EOFError, ValueError, TypeError):
        return {}
    return entries if isinstance(entries, dict) else {}


def _save(path: Path, added: dict[bytes, CodeType]) -> None:
    """Merge ``added`` into the file (another dbt process may have saved since this one loaded), atomically."""
    entries = _load(path)
    if len(entries) + len(added) > MAX_ENTRIES:
        entries = {}
    entries.update(added)
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as handle:
            marshal.dump(entries, handle)
        os.replace(temporary, path)
    except (OSError, ValueError):
        temporary.unlink(missing_ok=True)
