"""Schema-constrained generation, checked by an independent validator.

For every schema below, 200 seeded generations at temperature 1.0 on the
demo model and on tiny-a (random weights) must each stop by EOS with a JSON
text that Debian's python3-jsonschema accepts (formats checked too); and
200 tool-call generations (tool_choice "required") must give calls that
parse, name a listed tool, and whose arguments validate against that tool's
parameter schema.  Exits 77 (meson: skipped) when jsonschema is missing.
"""
import json
import os
import sys

try:
    import jsonschema
except ImportError:
    print("SKIP: python3-jsonschema is not installed (apt-get install python3-jsonschema)")
    sys.exit(77)

import lfm2moe

SOURCE = os.environ["LFM2MOE_SOURCE_DIR"]
MODELS = [os.path.join(SOURCE, "models", "lfm2moe-demo-f32.gguf"),
          os.path.join(SOURCE, "tests", "golden", "tiny-a-f32.gguf")]
SEEDS = range(200)

SCHEMAS = [
    {"type": "object",
     "properties": {
         "name": {"type": "string", "minLength": 1, "maxLength": 12},
         "age": {"type": "integer"},
         "email": {"type": ["string", "null"], "maxLength": 8},
         "role": {"enum": ["admin", "user", 7, None]},
         "born": {"type": "string", "format": "date"},
         "id": {"type": "string", "format": "uuid"},
         "tags": {"type": "array", "items": {"type": "string", "maxLength": 4}, "maxItems": 3},
         "score": {"type": "number"},
         "ok": {"type": "boolean"},
         "kind": {"const": "person"}},
     "required": ["name", "age", "role", "kind"]},
    {"$defs": {"item": {"type": "object",
                        "properties": {"sku": {"type": "string", "pattern": "^[A-Z]{2}-\\d{2,4}$"},
                                       "qty": {"type": "integer"},
                                       "at": {"type": "string", "format": "date-time"}},
                        "required": ["sku", "qty"]}},
     "type": "object",
     "properties": {"items": {"type": "array", "items": {"$ref": "#/$defs/item"},
                              "minItems": 1, "maxItems": 3},
                    "note": {"anyOf": [{"type": "string", "maxLength": 6}, {"type": "null"}]},
                    "when": {"type": "string", "format": "time"}},
     "required": ["items"]},
    # oneOf is compiled as anyOf (lfm2moe.h): these branches are mutually
    # exclusive (types; objects without the other's required property), so
    # every output must validate under oneOf, which the validator checks
    # (an output matching two branches would fail it).
    {"type": "array", "items": {"oneOf": [{"type": "integer"}, {"type": "boolean"},
                                          {"type": "string", "maxLength": 3}]},
     "minItems": 2, "maxItems": 5},
    {"oneOf": [{"type": "object", "properties": {"circle": {"type": "number"}},
                "required": ["circle"]},
               {"type": "object", "properties": {"square": {"type": "integer"},
                                                 "label": {"type": "string", "maxLength": 4}},
                "required": ["square"]},
               {"const": "none"}]},
]

TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Weather forecast",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "maxLength": 10},
            "days": {"type": "integer"},
            "metric": {"type": "boolean"},
            "units": {"enum": ["c", "f"]}}, "required": ["city"]}}},
    {"name": "db.now", "parameters": {"type": "object", "properties": {}}},
    {"name": "send-mail", "parameters": {"type": "object", "properties": {
        "to": {"type": "array", "items": {"type": "string", "maxLength": 6},
               "minItems": 1, "maxItems": 2},
        "cc": {"type": ["string", "null"], "maxLength": 5}}, "required": ["to"]}},
]


def tool_schema(name):
    for t in TOOLS:
        f = t.get("function", t)
        if f["name"] == name:
            return f["parameters"]
    return None


def main():
    # the formats of draft 2020-12 ("time" with its offset, as RFC 3339 says)
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    failures = 0
    # The validator enforces oneOf's exclusivity, so an output matching two
    # branches of a SCHEMAS entry would be caught (the grammar, as anyOf,
    # allows it for overlapping branches: 1 is an integer and a number).
    overlap = {"oneOf": [{"type": "integer"}, {"type": "number"}]}
    if jsonschema.Draft202012Validator(overlap).is_valid(1):
        print("FAIL: the validator does not enforce oneOf")
        return 1
    for path in MODELS:
        with lfm2moe.Model(path) as model, lfm2moe.Session(model, n_ctx=2048, threads=1) as s:
            prompt = model.apply_chat_template(
                [{"role": "user", "content": "Give me the data as JSON."}])
            for k, schema in enumerate(SCHEMAS):
                grammar = lfm2moe.Grammar.from_json_schema(model, schema)
                for seed in SEEDS:
                    s.reset()
                    gen = s.generate(prompt, grammar=grammar, temperature=1.0, min_p=0.0,
                                     seed=seed, max_tokens=1500)
                    text = gen.text()
                    try:
                        if gen.result.stop_reason != "eos":
                            raise ValueError("stopped by %s" % gen.result.stop_reason)
                        jsonschema.Draft202012Validator(schema, format_checker=checker).validate(json.loads(text))
                    except Exception as e:  # noqa: BLE001 - report every kind
                        failures += 1
                        print("FAIL %s schema %d seed %d: %s\n  %r" % (path, k, seed, e, text))
                grammar.close()
            grammar = lfm2moe.Grammar.from_tools(model, TOOLS, "required")
            for seed in SEEDS:
                s.reset()
                gen = s.generate(prompt, grammar=grammar, temperature=1.0, min_p=0.0,
                                 seed=seed, max_tokens=1500)
                text = gen.text()
                try:
                    calls = lfm2moe.parse_tool_calls(text)
                    if not calls:
                        raise ValueError("no calls")
                    for c in calls:
                        schema = tool_schema(c["name"])
                        if schema is None:
                            raise ValueError("unknown tool %r" % c["name"])
                        jsonschema.Draft202012Validator(schema, format_checker=checker).validate(
                            c["arguments"])
                except Exception as e:  # noqa: BLE001
                    failures += 1
                    print("FAIL %s tools seed %d: %s\n  %r" % (path, seed, e, text))
            grammar.close()
            print("%s: %d schemas x %d seeds and %d tool-call seeds checked"
                  % (os.path.basename(path), len(SCHEMAS), len(SEEDS), len(SEEDS)))
    if failures:
        print("%d invalid outputs" % failures)
        sys.exit(1)
    print("all outputs valid")


if __name__ == "__main__":
    main()
