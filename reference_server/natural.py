"""Natural prompts: a prompt that names an offered tool gets a call of it, its input filled from the prompt."""

from __future__ import annotations

import re
from typing import Any

from .schema_instance import instance

_LEAD = re.compile(r"^\W*(?:tool\b\W*)?(?:(?:in\s+order\s+)?to\s+[A-Za-z]+(?:\s+up)?\s+)?", re.IGNORECASE)
_OBJECT = re.compile(r"^(?:the|a|an)?\s*[A-Za-z]+\s+(?:in|for|of|on|at|about|from|to)\s+(?P<rest>.+)$", re.IGNORECASE)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def named_tool(text: str, tools: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The first offered tool (by position in `text`) whose name appears in `text` as a whole word, in its case."""
    found = []
    for tool in tools:
        name = tool.get("name")
        if isinstance(name, str) and name and (match := _mention(name).search(text)):
            found.append((match.start(), tool))
    return min(found, key=lambda item: item[0])[1] if found else None


def _mention(name: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w-]){re.escape(name)}(?![\w-])")


def fill(tool: dict[str, Any], text: str) -> dict[str, Any]:
    """An input for `tool`, valid against its input_schema, with values taken from `text` where it can be."""
    schema = tool.get("input_schema") if isinstance(tool.get("input_schema"), dict) else {}
    base = instance(schema)
    base = base if isinstance(base, dict) else {}
    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    filled = dict(base)
    strings = [n for n, p in properties.items() if isinstance(p, dict) and _plain(p, "string")]
    if len(strings) == 1:
        value = _labelled(strings[0], text) or _subject(str(tool.get("name")), text)
        if value:
            filled[strings[0]] = value
    else:
        for name in strings:
            if value := _labelled(name, text):
                filled[name] = value
    numbers = iter(_NUMBER.findall(text))
    for name, prop in properties.items():
        if isinstance(prop, dict) and (_plain(prop, "number") or _plain(prop, "integer")):
            labelled = _labelled(name, text)
            raw = labelled if labelled and _NUMBER.fullmatch(labelled) else next(numbers, None)
            if raw is not None:
                filled[name] = int(float(raw)) if _plain(prop, "integer") else float(raw)
    return filled if _valid(schema, filled) else base


def _plain(prop: dict[str, Any], kind: str) -> bool:
    """A property of one simple type, free of constraints a guessed value could break."""
    constrained = {"enum", "const", "pattern", "format", "minLength", "maxLength", "minimum", "maximum",
                   "exclusiveMinimum", "exclusiveMaximum", "multipleOf"}
    return prop.get("type") == kind and not constrained & prop.keys()


def _labelled(name: str, text: str) -> str | None:
    """A value written after the property's name ("city: Paris", "city=Paris", "expression `2+2`")."""
    label = re.escape(name).replace("_", "[ _]")
    match = re.search(rf"\b{label}\s*(?:[:=]|\bis\b)\s*[`\"']?(?P<v>[^`\"'\n,;]+)", text, re.IGNORECASE)
    return match.group("v").strip().rstrip(".!?") if match else None


def _subject(tool_name: str, text: str) -> str | None:
    """What the prompt asks the tool to work on: the words after "the NAME tool to VERB"."""
    match = _mention(tool_name).search(text)
    if match is None:
        return None
    rest = _LEAD.sub("", text[match.end():].split("\n")[0]).strip()
    if (object_match := _OBJECT.match(rest)) is not None:
        rest = object_match.group("rest")
    rest = rest.strip().rstrip(".!?").strip().strip("`\"'")
    return rest or None


def _valid(schema: dict[str, Any], value: dict[str, Any]) -> bool:
    if not schema:
        return True
    try:
        import jsonschema

        return jsonschema.Draft202012Validator(schema).is_valid(value)
    except Exception:  # an unusable schema: the plain instance is the safe answer
        return False
