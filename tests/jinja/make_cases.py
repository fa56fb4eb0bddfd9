#!/usr/bin/env python3
"""Expected renderings for tests/test_jinja.c, computed by Jinja2 configured
the way Hugging Face transformers' apply_chat_template configures it
(ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols,
tojson = json.dumps(ensure_ascii=False), raise_exception, {% generation %}
rendered as its body).  Writes tests/jinja/cases.jsonl: one object per line
with "template", "vars" and "rendered".

    python3 tests/jinja/make_cases.py > tests/jinja/cases.jsonl
"""
import json
import sys

from jinja2 import nodes
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


class Generation(Extension):
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return nodes.Scope(body).set_lineno(lineno)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                      sort_keys=sort_keys)


def raise_exception(message):
    raise RuntimeError(message)


env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                    extensions=[loopcontrols, Generation])
env.filters["tojson"] = tojson
env.globals["raise_exception"] = raise_exception

V = {"s": "Hello World", "n": 7, "f": 2.5, "t": True, "z": None, "e": "",
     "l": [3, 1, 2], "w": ["b", "A", "c", "a"], "d": {"b": 1, "a": [1, 2], "c": {"x": "y"}},
     "u": "héllo wörld", "msgs": [{"role": "user", "content": "hi"},
                                  {"role": "assistant", "content": "yo", "x": 1},
                                  {"role": "user", "content": [{"type": "text", "text": "p"}]}]}

CASES = [
    # text, whitespace control, trim_blocks / lstrip_blocks, comments
    "a  {{- ' b ' -}}  c",
    "x\n  {% if t %}\n    y\n  {% endif %}\nz\n",
    "x\n  {%+ if t %}\n    y\n  {% endif +%}\nz",
    "a {# comment #} b\n{# line #}\nc",
    "a\n  {#- c -#}  \nb",
    "{{ 1 }}\n{{ 2 }}\n",
    "\t{% for i in l %}{{ i }}{% endfor %}\n\tend",
    "a\r\nb{% if t %}\r\nc{% endif %}\r\n",
    # literals and stringification
    "{{ true }} {{ True }} {{ none }} {{ None }} {{ 1.0 }} {{ 1e20 }} {{ 0.1 + 0.2 }} {{ -3 }} {{ 10 / 4 }} {{ 1_000 }}",
    "{{ [1, 'a', none, true, 2.0] }} {{ {'k': 'v', 'n': [1]} }} {{ ('a', 1) }} {{ \"it's\" }} {{ ['it\\'s'] }}",
    "{{ 'a\\tb\\n' ~ \"\\u00e9\" }} {{ ['\\n'] }}",
    "{{ z }}|{{ undefinedvar }}|{{ d }}|{{ f }}|{{ t }}",
    "{{ 'ab' 'cd' }}",
    # operators
    "{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7.5 // 2 }} {{ 2 ** 10 }} {{ 2 * 3 + 1 }} {{ 2 * (3 + 1) }}",
    "{{ 'ab' * 3 }} {{ [1] * 2 }} {{ 'a' + 'b' }} {{ [1] + [2] }} {{ 1 ~ 2 ~ none }} {{ 1 + 2.5 }} {{ true + 1 }}",
    "{{ 1 < 2 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }} {{ 1 == 1.0 }} {{ 'a' != 'a' }} {{ 2 >= 2 }} {{ 1 < 2 < 3 }}",
    "{{ 'ell' in s }} {{ 2 in l }} {{ 'a' in d }} {{ 'q' not in d }} {{ not t }} {{ t and n }} {{ e or 'dflt' }} {{ z or e }}",
    "{{ 'y' if t else 'n' }} {{ 'y' if z else 'n' }} [{{ 'y' if z }}]",
    "{{ -n }} {{ +n }} {{ -f }} {{ not not n }}",
    # attribute, subscript, slices
    "{{ d.b }} {{ d['a'][1] }} {{ d.a.0 }} {{ d.c.x }} {{ msgs[1].role }} {{ l[-1] }} {{ l[5] }}|{{ d.nope }}|{{ s[0] }}{{ u[1] }}",
    "{{ l[1:] }} {{ l[:-1] }} {{ l[::-1] }} {{ s[1:4] }} {{ s[::2] }} {{ u[1:3] }} {{ u[::-1] }} {{ l[10:] }} {{ s[-3:] }}",
    # if / elif / else
    "{% if n > 10 %}big{% elif n > 5 %}mid{% elif n > 0 %}small{% else %}neg{% endif %}",
    "{% if z %}a{% elif e %}b{% else %}c{% endif %}",
    # for loops
    "{% for x in l %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.revindex }}{{ loop.revindex0 }};{% endfor %}",
    "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}",
    "{% for k in d %}{{ k }}{% endfor %}|{% for c in 'héj' %}[{{ c }}]{% endfor %}",
    "{% for x in [] %}x{% else %}empty{% endfor %}|{% for x in undefinedvar %}x{% else %}none{% endfor %}",
    "{% for x in l if x > 1 %}{{ x }}{{ loop.index }}{{ loop.length }} {% endfor %}",
    "{% for x in l %}{% if x == 1 %}{% continue %}{% endif %}{% if x == 2 %}{% break %}{% endif %}{{ x }}{% endfor %}",
    "{% for x in l %}{{ loop.previtem }}-{{ loop.nextitem }} {% endfor %}",
    "{% for x in l %}{{ loop.cycle('odd', 'even') }} {% endfor %}",
    "{% for a in [1, 2] %}{% for b in [3, 4] %}{{ a }}{{ b }}{{ loop.index }} {% endfor %}{{ loop.index }}|{% endfor %}",
    "{% for m in msgs %}{{ m.role }}:{{ m.content if m.content is string else m.content[0].text }} {% endfor %}",
    "{% for (a, b) in [[1, 2], [3, 4]] %}{{ a + b }}{% endfor %}",
    # set, namespace, block set, scoping
    "{% set x = 1 %}{% for i in l %}{% set x = i %}{% endfor %}{{ x }}",
    "{% set ns = namespace(x=1, y='a') %}{% for i in l %}{% set ns.x = ns.x + i %}{% endfor %}{{ ns.x }}{{ ns.y }}",
    "{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set c = [1, 2] %}{{ c }}",
    "{% set block %}x{{ n }}y{% endset %}[{{ block }}]",
    "{% set ns = namespace(items=[]) %}{% for i in l %}{% set ns.items = ns.items + [i * 2] %}{% endfor %}{{ ns.items }}",
    "{% set messages = msgs[1:] %}{{ messages | length }}{{ msgs | length }}",
    # macros
    "{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('a') }} {{ greet('b', '?') }} {{ greet(punct='.', name='c') }}",
    "{% macro f(x) %}{% if x > 0 %}{{ x }}{{ f(x - 1) }}{% endif %}{% endmacro %}{{ f(3) }}",
    "{% macro outer() %}[{{ inner() }}]{% endmacro %}{% macro inner() %}in{% endmacro %}{{ outer() }}",
    "{% macro m(a, b=n) %}{{ a }}{{ b }}{{ s }}{% endmacro %}{{ m(1) }}",
    "{% macro m(x) %}{{ x is defined }}{% endmacro %}{{ m() }}",
    # generation
    "a{% generation %}b{{ n }}{% endgeneration %}c",
    # filter blocks
    "{% filter upper %}abc{{ s }}{% endfilter %}",
    # tests
    "{{ n is defined }} {{ nope is defined }} {{ nope is undefined }} {{ z is none }} {{ s is string }} {{ n is number }} {{ f is number }} {{ t is number }}",
    "{{ n is integer }} {{ f is integer }} {{ f is float }} {{ t is boolean }} {{ d is mapping }} {{ l is mapping }} {{ l is sequence }} {{ s is sequence }} {{ n is sequence }}",
    "{{ l is iterable }} {{ n is iterable }} {{ t is true }} {{ 1 is true }} {{ false is false }} {{ n is odd }} {{ n is even }} {{ 9 is divisibleby 3 }} {{ 9 is divisibleby(2) }}",
    "{{ s is not string }} {{ n is eq 7 }} {{ n is ne 7 }} {{ 1 is lt 2 }} {{ 'a' is in 'abc' }} {{ s is lower }} {{ 'ab' is lower }} {{ 'AB' is upper }} {{ '{%-' is lower }} {{ 7[::-1] }}",
    # filters
    "{{ d | tojson }} {{ 'é\"\\n' | tojson }} {{ [1, 2.5, none, true] | tojson }} {{ z | tojson }}",
    "{{ d | tojson(indent=2) }}|{{ d | tojson(sort_keys=true) }}|{{ [] | tojson(indent=2) }}|{{ {} | tojson }}",
    "{{ d | tojson(indent=0) }}|{{ d | tojson(separators=(',', ':')) }}|{{ d | tojson(indent='\\t') }}",
    "{{ l | join(', ') }} {{ w | join }} {{ msgs | join('|', attribute='role') }} {{ s | length }} {{ u | length }} {{ d | count }} {{ nope | length }}",
    "[{{ '  x y \\n' | trim }}] [{{ 'xxaxx' | trim('x') }}] {{ s | upper }} {{ s | lower }} {{ 'hELLO woRLD' | capitalize }} {{ \"they're bill's-friends (x)\" | title }}",
    "{{ s | replace('o', '0') }} {{ s | replace('l', 'L', 2) }} {{ 'ab' | replace('', '-') }}",
    "{{ nope | default('d') }} {{ z | default('d') }} {{ e | default('d') }} {{ e | default('d', true) }} {{ nope | d(1) }} [{{ nope | default }}]",
    "{{ n | string }} {{ z | string }} {{ t | string }} {{ '42' | int }} {{ '4.7' | int }} {{ 'x' | int }} {{ 'x' | int(5) }} {{ 3.9 | int }} {{ '2.5' | float }} {{ 3 | float }} {{ 'q' | float }}",
    "{{ s | list }} {{ d | list }} {{ l | first }} {{ l | last }} {{ s | first }} {{ [] | first }}| {{ d | items | list }}",
    "{{ msgs | map(attribute='role') | list }} {{ w | map('upper') | list }} {{ msgs | map(attribute='x', default=0) | list }}",
    "{{ l | select('odd') | list }} {{ l | reject('odd') | list }} {{ [0, 1, '', 'a', none] | select | list }} {{ l | select('gt', 1) | list }}",
    "{{ msgs | selectattr('role', 'eq', 'user') | map(attribute='content') | list }} {{ msgs | rejectattr('role', 'equalto', 'user') | list | length }} {{ msgs | selectattr('x') | list | length }}",
    "{{ w | unique | list }} {{ w | unique(case_sensitive=true) | list }} {{ [1, 2, 1, 3] | unique | list }}",
    "{{ l | reverse | list }} {{ s | reverse }} {{ l | sort }} {{ w | sort }} {{ w | sort(case_sensitive=true) }} {{ l | sort(reverse=true) }} {{ msgs | sort(attribute='role') | map(attribute='role') | list }}",
    "{{ 'a\\nb\\n\\nc' | indent }}|{{ 'a\\nb' | indent(2, true) }}|{{ 'a\\n\\nb\\n' | indent(width='> ', blank=true) }}|{{ 'x\\n' | indent }}",
    "{{ -3 | abs }} {{ s | safe }} {{ d | items | map('first') | list }}",
    # methods
    "{{ s.startswith('He') }} {{ s.endswith('x') }} {{ s.startswith(('x', 'H')) }} {{ s.split() }} {{ 'a,b,,c'.split(',') }} {{ 'a b c'.split(' ', 1) }} {{ '  x '.strip() }}|{{ 'xxyxx'.lstrip('x') }}|{{ 'xxyxx'.rstrip('x') }}",
    "{{ s.upper() }} {{ s.lower() }} {{ 'hello world'.title() }} {{ \"they're\".title() }} {{ s.replace('l', '') }} {{ '{} and {}'.format(1, 'b') }} {{ '{0}{0}{x}'.format('a', x='y') }} {{ 'hello'.capitalize() }}",
    "{{ d.get('b') }} {{ d.get('q') }} {{ d.get('q', 5) }} {{ d.keys() | list }} {{ d.values() | list }} {{ d.items() | list }} {{ ','.join(w) }} {{ s.find('o') }} {{ s.count('l') }}",
    "{{ '</think>x'.split('</think>')[-1] }} {{ ('a' ~ 'b').upper() }}",
    # globals
    "{{ range(3) | list }} {{ range(1, 7, 2) | list }} {{ range(3, 0, -1) | list }} {% for i in range(2) %}{{ i }}{% endfor %} {{ dict(a=1) }}",
    "{{ namespace(a=1).a }} {% set ns = namespace(d) %}{{ ns.b }}",
    # whitespace edge cases of real templates
    "{%- for m in msgs -%}\n    {{- m.role + '\\n' -}}\n{%- endfor %}\n",
    "{% for m in msgs %}\n  {% if m.role == 'user' %}\n    U\n  {% else %}\n    A\n  {% endif %}\n{% endfor %}\n",
    "{{ bos }}{%- if true %}\n  x\n{%- endif %}\n  y",
]

for t in CASES:
    out = env.from_string(t).render(**V)
    print(json.dumps({"template": t, "vars": V, "rendered": out}, ensure_ascii=False))
