import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
)
from botocore.parsers import ResponseParserError

from ansible_collections.phoenix.immutable.plugins.module_utils._aws.errors import is_transient, to_phoenix


def client_error(code, status=400, message="boom"):
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}, "DescribeImages"
    )


@pytest.mark.parametrize(
    "error, retry_not_found, transient",
    [
        (client_error("RequestLimitExceeded", 503), False, True),
        (client_error("Throttling"), False, True),
        (client_error("InternalError", 500), False, True),
        (client_error("Whatever", 502), False, True),
        (client_error("InvalidAMIID.NotFound"), False, False),
        (client_error("InvalidAMIID.NotFound"), True, True),
        (client_error("UnauthorizedOperation", 403), True, False),
        (client_error("InvalidParameterValue"), False, False),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), False, True),
        (ConnectTimeoutError(endpoint_url="http://127.0.0.1:1"), False, True),
        (ReadTimeoutError(endpoint_url="http://127.0.0.1:1"), False, True),
        (ResponseParserError("Unable to parse response (syntax error: line 1, column 0)"), False, True),
        (NoCredentialsError(), False, False),
        (ValueError("not botocore"), False, False),
    ],
)
def test_what_is_worth_another_try(error, retry_not_found, transient):
    assert is_transient(error, retry_not_found=retry_not_found) is transient


def test_a_client_error_names_operation_resource_region_and_code():
    error = to_phoenix(
        client_error("InvalidAMIID.NotFound", message="The image id '[ami-1]' does not exist"),
        "DescribeImages",
        "eu-west-1",
        "ami-1",
    )
    assert str(error) == (
        "AWS DescribeImages failed for ami-1 in eu-west-1: "
        "The image id '[ami-1]' does not exist [InvalidAMIID.NotFound] "
        "Check that ami-1 exists in this region and account."
    )
    assert (error.code, error.cloud, error.resource) == ("InvalidAMIID.NotFound", "aws", "ami-1")


def test_missing_credentials_say_where_credentials_come_from():
    error = to_phoenix(NoCredentialsError(), "DescribeImages", "us-east-1")
    assert error.code == "NoCredentials" and "AWS_ACCESS_KEY_ID" in error.hint


def test_other_botocore_errors_keep_their_type_as_code():
    error = to_phoenix(ParamValidationError(report="bad"), "CreateImage", "us-east-1")
    assert error.code == "ParamValidationError"


def test_non_botocore_errors_are_not_translated():
    assert to_phoenix(ValueError("x"), "CreateImage", "us-east-1") is None


@pytest.mark.parametrize(
    "error, words",
    [
        (client_error("RequestLimitExceeded", 503), ["throttling", "run the task again"]),
        (client_error("InternalError", 500), ["server error", "HTTP 500"]),
        (client_error("UnauthorizedOperation", 403), ["IAM policy"]),
        (client_error("InvalidParameterValue"), ["API reference", "InvalidParameterValue"]),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), ["endpoint_url", "connect_timeout"]),
        (ReadTimeoutError(endpoint_url="http://127.0.0.1:1"), ["read_timeout"]),
        (ParamValidationError(report="bad"), ["options"]),
    ],
)
def test_every_translated_error_names_operation_and_resource_and_carries_a_hint(error, words):
    translated = to_phoenix(error, "DescribeImages", "eu-west-1", "ami-1")
    assert "DescribeImages" in str(translated) and "ami-1 in eu-west-1" in str(translated)
    assert translated.hint and all(word in translated.hint for word in words), translated.hint


def test_an_unparseable_answer_reads_as_such_without_the_body():
    raw = ResponseParserError(
        "Unable to parse response (syntax error: line 1, column 0), invalid XML received. "
        "Further retries may succeed:\nb'<!DOCTYPE html><html>...</html>'"
    )
    error = to_phoenix(raw, "DescribeInstances", "us-east-1", "i-1")
    assert error.code == "UnparseableResponse" and error.resource == "i-1"
    assert "DescribeInstances" in str(error) and "proxy" in error.hint
    assert "Unable to parse" not in str(error) and "html" not in str(error).lower()


@pytest.mark.parametrize(
    "response",
    [
        {"ResponseMetadata": {"HTTPStatusCode": 502}},  # an HTML page botocore read as XML: no Error at all
        {"Error": {"Code": "502", "Message": "Bad Gateway"}, "ResponseMetadata": {"HTTPStatusCode": 502}},
    ],
)
def test_a_client_error_without_an_aws_error_is_an_unparseable_answer(response):
    raw = ClientError(response, "DescribeImages")
    assert is_transient(raw)
    error = to_phoenix(raw, "DescribeImages", "us-east-1")
    assert error.code == "UnparseableResponse" and "HTTP 502" in str(error) and error.hint
