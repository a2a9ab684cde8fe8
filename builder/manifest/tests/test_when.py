"""``when`` expressions: govaluate's syntax and semantics, and clear errors (ESTAFETTE.md §1.11)."""

from __future__ import annotations

import pytest

from builder.manifest.when import WhenError, evaluate_when

PARAMETERS = {"status": "succeeded", "branch": "main", "action": "deploy-canary", "trigger": "", "server": "estafette"}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("status == 'succeeded'", True),
        ("status == 'failed'", False),
        ("status != 'failed'", True),
        ("status == 'succeeded' && branch == 'main'", True),
        ("status == 'failed' || branch == 'main'", True),
        ("status == 'failed' || branch == 'master'", False),
        ("server == 'estafette'", True),
        ("!(status == 'failed')", True),
        ("branch =~ '^ma'", True),
        ("branch =~ 'ai'", True),  # a search, not a full match, as in govaluate
        ("branch !~ '^release/'", True),
        ("branch in ('main', 'master')", True),
        ("branch in ('develop')", False),
        ("action == 'deploy-canary' ? true : false", True),
        ("trigger == ''", True),
        ('status == "succeeded"', True),
        ("3 > 2", True),
        ("2 >= 2.0", True),
        ("1 + 1 == 2", True),
        ("-1 < 0", True),
        ("'a' < 'b'", True),
        ("branch == 1", False),  # different types are never equal
        ("status == 'succeeded' && (branch == 'develop' || branch == 'main')", True),
        ("true", True),
        ("[branch] == 'main'", True),
    ],
)
def test_it_evaluates_govaluate_expressions(expression: str, expected: bool) -> None:
    # given an expression and the builder's parameters
    # when it is evaluated
    # then it gives govaluate's answer
    assert evaluate_when(expression, PARAMETERS) is expected


def test_it_substitutes_estafette_variables_before_parsing() -> None:
    # given an expression that refers to environment variables
    expression = "'${ESTAFETTE_GIT_BRANCH}' == 'main' && '$ESTAFETTE_LABEL_TEAM' == 'ci' && '${HOME}' == '${HOME}'"

    # when it is evaluated with those variables set
    result = evaluate_when(expression, PARAMETERS, {"ESTAFETTE_GIT_BRANCH": "main", "ESTAFETTE_LABEL_TEAM": "ci"})

    # then ESTAFETTE_* references were replaced and others left alone
    assert result is True


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("", "When expression is empty"),
        ("   ", "When expression is empty"),
        ("status", "Result of evaluating when expression is not of type boolean: status"),
        ("1 + 1", "Result of evaluating when expression is not of type boolean: 1 + 1"),
        ("status ==", "Unexpected end of expression at position 10 in when expression: status =="),
        ("status == 'succeeded", "Unclosed string literal at position 11 in when expression: status == 'succeeded"),
        (
            "(status == 'a'",
            "Expected ')' but found end of expression at position 15 in when expression: (status == 'a'",
        ),
        ("status == 'a' 'b'", "Unexpected \"'b'\" at position 15 in when expression: status == 'a' 'b'"),
        ("status # 1", "Invalid character '#' at position 8 in when expression: status # 1"),
        ("unknown == 'x'", "No parameter 'unknown' found."),
        ("status && true", "Value 'succeeded' cannot be used with the operator '&&', it is not a bool"),
        ("status > 1", "Value 'succeeded' cannot be used with the operator '>', it is not a number"),
        ("branch =~ '('", "Unable to compile regular expression '(' for operator '=~'"),
        ("1 / 0 == 1", "Division by zero with operator '/'"),
    ],
)
def test_it_refuses_what_it_cannot_evaluate_with_a_clear_error(expression: str, message: str) -> None:
    # given a broken expression
    # when it is evaluated
    with pytest.raises(WhenError) as raised:
        evaluate_when(expression, PARAMETERS)

    # then the error says what is wrong
    assert str(raised.value) == message


def test_it_short_circuits_like_govaluate() -> None:
    # given an expression whose right-hand side would fail
    # when the left-hand side already decides
    # then the right-hand side is never evaluated
    assert evaluate_when("status == 'succeeded' || unknown == 'x'", PARAMETERS) is True
    assert evaluate_when("status == 'failed' && unknown == 'x'", PARAMETERS) is False


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        (
            "'${ESTAFETTE_SECRET}' && true",
            "A value that is not a bool is used with the operator '&&' in when expression "
            "\"'${ESTAFETTE_SECRET}' && true\" "
            "(after substituting its ESTAFETTE_* variables, whose values are not shown)",
        ),
        (
            "${ESTAFETTE_SECRET} == 'x'",
            "Unknown parameter in when expression \"${ESTAFETTE_SECRET} == 'x'\" "
            "(after substituting its ESTAFETTE_* variables, whose values are not shown)",
        ),
        (
            "'${ESTAFETTE_SECRET}'",
            "Result of evaluating when expression is not of type boolean in when expression \"'${ESTAFETTE_SECRET}'\" "
            "(after substituting its ESTAFETTE_* variables, whose values are not shown)",
        ),
    ],
)
def test_it_never_echoes_substituted_values_in_errors(expression: str, message: str) -> None:
    # given an expression that substitutes a secret
    # when it fails
    with pytest.raises(WhenError) as raised:
        evaluate_when(expression, PARAMETERS, {"ESTAFETTE_SECRET": "hunter2"})

    # then the error names the expression as written, never the value
    assert str(raised.value) == message
    assert "hunter2" not in str(raised.value)
