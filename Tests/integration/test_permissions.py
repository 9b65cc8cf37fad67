"""AddPermission, GetPolicy, RemovePermission: a function's resource-based policy, kept and
reported as Lambda builds it (not enforced: Warren holds one account, and every key may call
everything). Terraform's aws_lambda_permission and SAM's event sources manage these."""
import json

from helpers import expect_error, function_arn, status_of, unique_name


def test_permissions_build_lambdas_policy(server, lam, lam_raw, functions):
    name = functions.create()["FunctionName"]
    expect_error("ResourceNotFoundException", 404, lam.get_policy, FunctionName=name)

    # The policy's RevisionId is the function's: a caller that read the function changes its
    # policy on that condition, and each change gives the function a new one.
    revision = lam.get_function_configuration(FunctionName=name)["RevisionId"]
    api = "arn:aws:execute-api:us-east-1:000000000000:abc123/*/GET/hello"
    added = lam.add_permission(FunctionName=name, StatementId="apigw", Action="lambda:InvokeFunction",
                               Principal="apigateway.amazonaws.com", SourceArn=api, RevisionId=revision)
    renewed = lam.get_function_configuration(FunctionName=name)["RevisionId"]
    assert renewed != revision and lam.get_policy(FunctionName=name)["RevisionId"] == renewed
    assert status_of(added) == 201
    first = {"Sid": "apigw", "Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"},
             "Action": "lambda:InvokeFunction", "Resource": function_arn(name),
             "Condition": {"ArnLike": {"AWS:SourceArn": api}}}
    assert json.loads(added["Statement"]) == first
    assert added["Statement"].startswith('{"Sid":"apigw","Effect":"Allow","Principal":'), added["Statement"]
    second = lam.add_permission(FunctionName=name, StatementId="other-account", Action="lambda:GetFunction",
                                Principal="111122223333", SourceAccount="111122223333")
    assert json.loads(second["Statement"])["Principal"] == {"AWS": "arn:aws:iam::111122223333:root"}
    assert json.loads(second["Statement"])["Condition"] == {"StringEquals": {"AWS:SourceAccount": "111122223333"}}
    anyone = lam.add_permission(FunctionName=name, StatementId="url", Action="lambda:InvokeFunctionUrl",
                                Principal="*", FunctionUrlAuthType="NONE")
    assert json.loads(anyone["Statement"])["Principal"] == "*"

    policy = lam.get_policy(FunctionName=name)
    document = json.loads(policy["Policy"])
    assert (document["Version"], document["Id"]) == ("2012-10-17", "default")
    assert [s["Sid"] for s in document["Statement"]] == ["apigw", "other-account", "url"]
    assert document["Statement"][0] == first

    # A statement id is taken once; a stale RevisionId is refused; $LATEST has no policy of its
    # own (it names the function's); nothing changes.
    expect_error("InvalidParameterValueException", 400, lam.add_permission, FunctionName=name, Qualifier="$LATEST",
                 StatementId="latest", Action="lambda:InvokeFunction", Principal="s3.amazonaws.com")
    assert lam.get_policy(FunctionName=name, Qualifier="$LATEST")["Policy"] == policy["Policy"]
    expect_error("PreconditionFailedException", 412, lam.add_permission, FunctionName=name, StatementId="old",
                 Action="lambda:InvokeFunction", Principal="s3.amazonaws.com", RevisionId=revision)
    expect_error("ResourceConflictException", 409, lam.add_permission, FunctionName=name, StatementId="apigw",
                 Action="lambda:InvokeFunction", Principal="s3.amazonaws.com")
    expect_error("PreconditionFailedException", 412, lam.add_permission, FunctionName=name, StatementId="late",
                 Action="lambda:InvokeFunction", Principal="s3.amazonaws.com", RevisionId="0" * 8)
    expect_error("ValidationException", 400, lam_raw.add_permission, FunctionName=name, StatementId="bad action",
                 Action="invoke", Principal="s3.amazonaws.com")
    assert lam.get_policy(FunctionName=name)["RevisionId"] == policy["RevisionId"]

    assert status_of(lam.remove_permission(FunctionName=name, StatementId="other-account",
                                           RevisionId=policy["RevisionId"])) == 204
    expect_error("ResourceNotFoundException", 404, lam.remove_permission, FunctionName=name,
                 StatementId="other-account")
    lam.remove_permission(FunctionName=name, StatementId="apigw")
    # The statement id in the path is percent-decoded, as the function name is.
    lam.add_permission(FunctionName=name, StatementId="a-b", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com")
    encoded = server.request("DELETE", f"/2015-03-31/functions/{name}/policy/a%2Db")
    assert encoded.status == 204, encoded
    lam.remove_permission(FunctionName=name, StatementId="url")
    expect_error("ResourceNotFoundException", 404, lam.get_policy, FunctionName=name)
    expect_error("ResourceNotFoundException", 404, lam.get_policy, FunctionName=unique_name("missing"))


def test_a_qualifier_has_its_own_policy_which_goes_with_it(lam, functions):
    name = functions.create()["FunctionName"]
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    added = lam.add_permission(FunctionName=name, Qualifier="live", StatementId="s3", Action="lambda:InvokeFunction",
                               Principal="s3.amazonaws.com")
    assert json.loads(added["Statement"])["Resource"] == function_arn(name, "live")
    assert lam.get_policy(FunctionName=name, Qualifier="live")["RevisionId"] == \
        lam.get_alias(FunctionName=name, Name="live")["RevisionId"]
    expect_error("ResourceNotFoundException", 404, lam.get_policy, FunctionName=name)
    assert len(json.loads(lam.get_policy(FunctionName=name, Qualifier="live")["Policy"])["Statement"]) == 1
    # A qualified name says the same as the Qualifier parameter.
    assert lam.get_policy(FunctionName=f"{name}:live")["Policy"] == \
        lam.get_policy(FunctionName=name, Qualifier="live")["Policy"]
    expect_error("ResourceNotFoundException", 404, lam.add_permission, FunctionName=name, Qualifier="nope",
                 StatementId="s3", Action="lambda:InvokeFunction", Principal="s3.amazonaws.com")
    # An alias made again under the same name starts without the old one's statements.
    lam.delete_alias(FunctionName=name, Name="live")
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    expect_error("ResourceNotFoundException", 404, lam.get_policy, FunctionName=name, Qualifier="live")
