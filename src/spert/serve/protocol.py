"""The HTTP protocol of ``spert serve``: request and response bodies, and checking a request.

A request body is read as JSON by :func:`read_json` (which rejects what the model could
not take: invalid JSON, nesting deeper than :data:`MAX_DEPTH`, strings with lone
surrogates), validated strictly against a pydantic model (:func:`validate_body`, which the
Label Studio backend's bodies go through too) and turned into checked
:class:`~spert.data.records.Input` items by :func:`extract_inputs` or
:func:`relation_inputs`. Every problem raises :class:`ClientError`, whose JSON body
(:class:`ErrorBody`) names the field (``texts[3]``, ``documents[0].entities[2].type``)
and, for a limit, the limit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from spert.errors import DataError
from spert.data.records import Input, parse_input
from spert.serve.settings import ServeSettings

MAX_DEPTH = 32  # deepest JSON nesting accepted (records are 4 deep; extra fields may nest a little)
_SURROGATE = re.compile("[\ud800-\udfff]")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INPUT_KEYS = ("text", "texts", "tokens", "documents")
Body = TypeVar("Body", bound=BaseModel)


class ClientError(Exception):
    """A request the server will not answer with results; becomes a 4xx (or 503) JSON response."""

    def __init__(self, status: int, code: str, message: str, *, field: str | None = None,
                 limit: float | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field, self.limit = status, code, message, field, limit
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        text = self.message if self.field is None else f"field '{self.field}': {self.message}"
        return ErrorBody(status=self.status, error=self.code, message=text, field=self.field,
                         limit=self.limit).model_dump()


def invalid(field: str | None, message: str, limit: float | None = None) -> ClientError:
    return ClientError(422, "invalid", message, field=field, limit=limit)


# -- bodies ----------------------------------------------------------------------------


class ErrorBody(BaseModel):
    """Every error response: what went wrong, in which field, against which limit."""

    status: int = Field(..., description="the HTTP status, repeated")
    error: str = Field(..., description="short code: bad_json, invalid, too_large, unauthorized, not_found, "
                                        "method_not_allowed, busy, timeout, not_ready, internal")
    message: str = Field(..., description="one line for a person, naming the field and the limit")
    field: str | None = Field(None, description="the offending field, e.g. texts[3] or body")
    limit: int | float | None = Field(None, description="the limit that was exceeded, if any")


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    rel_filter_threshold: float | None = Field(None, ge=0, le=1, allow_inf_nan=False,
                                               description="relation threshold (default: the model's)")


class ExtractRequest(_Options):
    """Documents to extract from: exactly one of ``text``, ``texts``, ``tokens``, ``documents``."""

    text: str | None = Field(None, description="one raw-text document (split into sentences and words)")
    texts: list[str] | None = Field(None, description="raw-text documents")
    tokens: list[str] | None = Field(None, description="one pre-tokenized sentence (words)")
    documents: list[Any] | None = Field(None, description="documents as the Python API takes them: a string, "
                                                          "a list of words, or a SpERT record {\"tokens\": [...]} "
                                                          "or {\"text\": ...}; other record fields are passed "
                                                          "through")
    no_overlap: bool = Field(False, description="remove overlapping entities (ADE setting)")

    @model_validator(mode="after")
    def _one_input(self) -> ExtractRequest:
        given = [k for k in _INPUT_KEYS if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of " + ", ".join(_INPUT_KEYS) + (f" (got {', '.join(given)})"
                                                                                if given else ""))
        return self


class RelationsRequest(_Options):
    """Records with the entities to relate: word spans next to ``tokens`` or character spans next to ``text``."""

    documents: list[Any] = Field(..., description="records {\"tokens\": [...], \"entities\": [{\"type\", \"start\", "
                                                  "\"end\"}]} or {\"text\": ..., \"entities\": [{\"type\", "
                                                  "\"char_start\", \"char_end\"}]}")


class ExtractResponse(BaseModel):
    documents: list[dict[str, Any]] = Field(..., description="one record per input document, in order, exactly "
                                                             "as spert predict writes it")


# -- reading a request -----------------------------------------------------------------


def read_json(body: bytes) -> Any:
    """The request body as JSON, checked for what would break later steps."""
    try:
        obj = json.loads(body, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:
        raise ClientError(400, "bad_json", f"nested deeper than {MAX_DEPTH} levels", field="body",
                          limit=MAX_DEPTH) from None
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError, too many digits
        raise ClientError(400, "bad_json", f"not valid JSON: {str(e).splitlines()[0][:200]}",
                          field="body") from None
    _check_values(obj)
    return obj


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    x = float(text)
    if x in (float("inf"), float("-inf")):
        raise ValueError(f"{text[:40]} is too large for a number")
    return x


def _check_values(obj: Any) -> None:
    """Reject nesting deeper than MAX_DEPTH and lone surrogates (not Unicode; the tokenizers fail on them)."""
    stack: list[tuple[Any, str, int]] = [(obj, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ClientError(422, "invalid", f"nested deeper than {MAX_DEPTH} levels", field=path or "body",
                              limit=MAX_DEPTH)
        if isinstance(value, str):
            m = _SURROGATE.search(value)
            if m:
                raise invalid(path or "body", f"contains a lone surrogate (U+{ord(m.group()):04X}) at "
                                              f"character {m.start()}, which is not Unicode text")
        elif isinstance(value, dict):
            for k, v in value.items():
                if _SURROGATE.search(k):
                    raise invalid(path or "body", "a key contains a lone surrogate, which is not Unicode text")
                stack.append((v, _member(path, k), depth + 1))
        elif isinstance(value, list):
            stack.extend((v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value))


def validate_body(model: type[Body], obj: Any) -> Body:
    """``obj`` (a request's JSON) checked against ``model``; a wrong field is a 422 naming it
    (``documents[0].text``), an unknown one lists the fields."""
    if not isinstance(obj, dict):
        raise invalid("body", f"must be a JSON object, got {_json_type(obj)}")
    try:
        return model.model_validate(obj)
    except ValidationError as e:
        err = e.errors(include_url=False)[0]
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            allowed = ", ".join(model.model_fields)
            msg = f"unknown field; the fields are {allowed}"
        raise invalid(_field_path(err["loc"]) or "body", msg) from None


def _field_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        out = f"{out}[{part}]" if isinstance(part, int) else _member(out, str(part))
    return out


def _member(path: str, key: str) -> str:
    """``path.key``, or ``path["key"]`` for a key that is not a plain name (messages stay one line)."""
    if _NAME.fullmatch(key) and len(key) <= 40:
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key[:40], ensure_ascii=False)}]"


def _json_type(obj: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "a number",
            float: "a number", type(None): "null"}.get(type(obj), type(obj).__name__)


def _check_count(field: str, n: int, limit: int, what: str) -> None:
    if n > limit:
        raise ClientError(422, "too_large", f"{n} {what}; at most {limit} per request (--max-texts)",
                          field=field, limit=limit)


def _check_size(field: str, inp: Input, settings: ServeSettings) -> None:
    n = len(inp.text) if inp.text is not None else len(inp.tokenized.text)  # type: ignore[union-attr]
    if n > settings.max_chars:
        raise ClientError(422, "too_large", f"{n} characters; at most {settings.max_chars} per document "
                                            "(--max-chars)", field=field, limit=settings.max_chars)
    if inp.entities is not None and len(inp.entities) > settings.max_entities:
        raise ClientError(422, "too_large", f"{len(inp.entities)} entities; at most {settings.max_entities} per "
                                            "document (--max-entities)", field=f"{field}.entities",
                          limit=settings.max_entities)


def _parse_all(items: list[Any], field: Callable[[int], str], settings: ServeSettings,
               given_entities: bool = False) -> list[Input]:
    out = []
    for i, item in enumerate(items):
        try:
            inp = parse_input(item, given_entities=given_entities, doc=i)
        except DataError as e:
            if isinstance(item, list) and e.field and e.field.startswith("tokens["):  # the item is the word list
                raise invalid(field(i) + e.field.removeprefix("tokens"), e.problem) from None
            raise data_error(e, field) from None
        _check_size(field(i), inp, settings)
        out.append(inp)
    return out


def data_error(e: DataError, field: Callable[[int], str]) -> ClientError:
    """A DataError about input ``e.doc`` of a request as a 422 naming the request's field."""
    where = field(e.doc or 0)
    return invalid(f"{where}.{e.field}" if e.field else where, e.problem)


def extract_inputs(obj: Any, settings: ServeSettings) -> tuple[list[Input], ExtractRequest]:
    """Checked inputs of a POST /v1/extract body, and the request's options."""
    if isinstance(obj, dict):
        for key in ("texts", "documents"):
            if isinstance(obj.get(key), list):
                _check_count(key, len(obj[key]), settings.max_texts, "documents")
    req: ExtractRequest = validate_body(ExtractRequest, obj)
    if req.text is not None:
        return _parse_all([req.text], lambda i: "text", settings), req
    if req.tokens is not None:
        return _parse_all([req.tokens], lambda i: "tokens", settings), req
    key = "texts" if req.texts is not None else "documents"
    return _parse_all(getattr(req, key), lambda i: f"{key}[{i}]", settings), req


def relation_inputs(obj: Any, settings: ServeSettings) -> tuple[list[Input], RelationsRequest]:
    """Checked inputs of a POST /v1/relations body (records with their entities), and the options."""
    if isinstance(obj, dict) and isinstance(obj.get("documents"), list):
        _check_count("documents", len(obj["documents"]), settings.max_texts, "documents")
    req: RelationsRequest = validate_body(RelationsRequest, obj)
    return _parse_all(req.documents, lambda i: f"documents[{i}]", settings, given_entities=True), req
