import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, ParamValidationError

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
        "The image id '[ami-1]' does not exist [InvalidAMIID.NotFound]"
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
