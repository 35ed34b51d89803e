"""Assertions the client tests share."""


def assert_error(exc_info, code, status=400):
    """The ClientError carries AWS's error code, HTTP status, a message and a request id (also
    in the x-amzn-RequestId header)."""
    err = exc_info.value.response
    assert err["Error"]["Code"] == code, err
    assert err["ResponseMetadata"]["HTTPStatusCode"] == status, err
    if code != "InvalidCiphertextException":  # AWS sends that one without a message
        assert err["Error"].get("Message"), err
    assert err["ResponseMetadata"].get("RequestId"), err
    assert err["ResponseMetadata"]["HTTPHeaders"].get("x-amzn-requestid") == err["ResponseMetadata"]["RequestId"], err
