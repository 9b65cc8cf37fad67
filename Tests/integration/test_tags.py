"""Tags: CreateFunction's Tags, TagResource, UntagResource, ListTags and GetFunction's Tags."""

import botocore.exceptions
import pytest

from helpers import expect_error, function_arn, status_of, unique_name


def test_tags_from_create_are_kept_listed_changed_and_removed(lam, functions):
    created = functions.create(Tags={"team": "warren", "cost-center": "42"})
    name, arn = created["FunctionName"], created["FunctionArn"]
    assert lam.list_tags(Resource=arn)["Tags"] == {"team": "warren", "cost-center": "42"}
    assert lam.get_function(FunctionName=name)["Tags"] == {"team": "warren", "cost-center": "42"}

    # Tagging adds and replaces; the configuration (and its RevisionId) is not a tag's business.
    revision = lam.get_function_configuration(FunctionName=name)["RevisionId"]
    assert status_of(lam.tag_resource(Resource=arn, Tags={"team": "platform", "stage": "test"})) == 204
    assert lam.list_tags(Resource=arn)["Tags"] == {"team": "platform", "cost-center": "42", "stage": "test"}
    assert lam.get_function_configuration(FunctionName=name)["RevisionId"] == revision

    # Untagging a key the function does not have is no error.
    assert status_of(lam.untag_resource(Resource=arn, TagKeys=["stage", "cost-center", "absent"])) == 204
    assert lam.list_tags(Resource=arn)["Tags"] == {"team": "platform"}

    # A version's GetFunction shows the function's tags.
    lam.publish_version(FunctionName=name)
    assert lam.get_function(FunctionName=name, Qualifier="1")["Tags"] == {"team": "platform"}

    lam.untag_resource(Resource=arn, TagKeys=["team"])
    assert lam.list_tags(Resource=arn)["Tags"] == {}
    assert "Tags" not in lam.get_function(FunctionName=name)


def test_tags_go_with_the_function(lam, functions):
    name = functions.name()
    functions.create(name=name, Tags={"old": "yes"})
    lam.delete_function(FunctionName=name)
    functions.create(name=name)
    assert lam.list_tags(Resource=function_arn(name))["Tags"] == {}


def test_tag_errors(lam, functions):
    created = functions.create()
    name, arn = created["FunctionName"], created["FunctionArn"]
    lam.publish_version(FunctionName=name)
    # Tags belong to the function, not to a version or an alias.
    for qualified in (arn + ":1", arn + ":live", arn + ":$LATEST"):
        error = expect_error("InvalidParameterValueException", 400, lam.tag_resource,
                             Resource=qualified, Tags={"k": "v"})
        assert "permitted on Lambda functions only" in error["Error"]["Message"]
    expect_error("ResourceNotFoundException", 404, lam.list_tags, Resource=function_arn(unique_name("missing")))
    expect_error("ResourceNotFoundException", 404, lam.tag_resource,
                 Resource=function_arn(unique_name("missing")), Tags={"k": "v"})
    # Reserved, too long, badly spelled: refused, and nothing is stored.
    for bad in ({"aws:owner": "me"}, {"k" * 129: "v"}, {"k": "v" * 257}, {"k": "semi;colon"}):
        expect_error("InvalidParameterValueException", 400, lam.tag_resource, Resource=arn, Tags=bad)
    many = {f"key{i}": "v" for i in range(50)}
    assert status_of(lam.tag_resource(Resource=arn, Tags=many)) == 204
    error = expect_error("InvalidParameterValueException", 400, lam.tag_resource, Resource=arn, Tags={"one": "more"})
    assert "tag limit" in error["Error"]["Message"]
    assert lam.list_tags(Resource=arn)["Tags"] == many
    # Creating with too many tags creates nothing.
    too_many = unique_name("toomany")
    expect_error("InvalidParameterValueException", 400, functions.create, name=too_many,
                 Tags={f"key{i}": "v" for i in range(51)}, wait=False)
    expect_error("ResourceNotFoundException", 404, lam.get_function, FunctionName=too_many)


def test_the_resource_must_be_a_function_arn(lam, lam_raw, functions):
    name = functions.create()["FunctionName"]
    # botocore checks the ARN pattern itself; an unvalidating client shows Warren's answer.
    expect_error("ValidationException", 400, lam_raw.list_tags, Resource=name)
    esm = "arn:aws:lambda:us-east-1:000000000000:event-source-mapping:" + "0" * 8 + "-0000-0000-0000-" + "0" * 12
    expect_error("ResourceNotFoundException", 404, lam.list_tags, Resource=esm)
