"""No code in _core/ depends on an AWS-only concept: its identifiers and string constants name none.

Docstrings are left out, as comments are: they may compare the clouds.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[4] / "plugins" / "module_utils" / "_core"

# What only AWS has, as a word of an identifier or of a string.
AWS_ONLY = {
    "ARN": re.compile(r"(^|[^a-z])arns?([^a-z]|$)|arn:aws", re.IGNORECASE),
    "listener": re.compile(r"listener", re.IGNORECASE),
    "target group": re.compile(r"target[ _-]?groups?", re.IGNORECASE),
    "launch template": re.compile(r"launch[ _-]?templates?|template[ _-]?versions?", re.IGNORECASE),
    "security group": re.compile(r"security[ _-]?groups?", re.IGNORECASE),
    "key pair": re.compile(r"key[ _-]?pairs?", re.IGNORECASE),
    "CloudWatch state": re.compile(r"^(ALARM|INSUFFICIENT_DATA)$|\bINSUFFICIENT_DATA\b|cloudwatch", re.IGNORECASE),
    "AWS tag syntax": re.compile(r"phoenix:|^aws:|\baws:"),
    "AMI": re.compile(r"(^|[^a-z])ami-|(^|[^a-z])amis?([^a-z]|$)", re.IGNORECASE),
    "EC2 default": re.compile(
        r"t3\.micro|ec2-user|(^|[^a-z])ec2([^a-z]|$)|(^|[^a-z])vpcs?(_id)?([^a-z]|$)", re.IGNORECASE
    ),
}


def _docstrings(tree):
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def _words(tree):
    """(line, kind, text) of every identifier and string constant that is not a docstring."""
    docstrings = _docstrings(tree)
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Name):
            names.append(node.id)
        elif isinstance(node, ast.Attribute):
            names.append(node.attr)
        elif isinstance(node, ast.arg):
            names.append(node.arg)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.append(node.name)
        elif isinstance(node, ast.keyword) and node.arg:
            names.append(node.arg)
        elif isinstance(node, ast.alias):
            names.append(node.asname or node.name)
        for name in names:
            yield node.lineno if hasattr(node, "lineno") else 0, "identifier", name
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node.lineno, "string", node.value


def _findings(source, filename="<source>"):
    problems = []
    for line, kind, text in _words(ast.parse(source, filename)):
        for concept, pattern in AWS_ONLY.items():
            if pattern.search(text):
                problems.append("%s:%d: %s %r names %s" % (filename, line, kind, text[:60], concept))
    return problems


def test_no_core_identifier_or_string_names_an_aws_only_concept():
    problems = []
    for path in sorted(CORE.glob("*.py")):
        problems.extend(_findings(path.read_text(encoding="utf-8"), path.name))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "source",
    [
        "listener_arn = None",
        "def create_security_group(name): pass",
        "KEY = 'phoenix:phase'",
        "x = {'state': 'INSUFFICIENT_DATA'}",
        "def f(launch_template): pass",
        "DEFAULT = 't3.micro'",
        "pattern = '^ami-[0-9a-f]+$'",
        "f(vpc_id=1)",
    ],
)
def test_the_check_finds_each_concept(source):
    assert _findings(source)


def test_docstrings_may_compare_the_clouds():
    assert not _findings('def f():\n    """An ALB listener, a URL map or a backend pool."""\n')
