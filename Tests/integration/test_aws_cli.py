"""The aws CLI against `warren serve`, as the README shows it: create-function,
invoke, list-functions, delete-function, with the key in the environment."""

import base64
import json
import os
import shutil
import subprocess
import sys

import pytest

from helpers import ACCESS_KEY, REGION, SECRET_KEY, ROLE, function_arn, python_zip, unique_name

# `make test` pip-installs awscli; if its `aws` script is not on PATH, the same
# package runs as a module. Missing altogether, the tests fail: they never skip.
AWS = [shutil.which("aws")] if shutil.which("aws") else [sys.executable, "-m", "awscli"]


@pytest.fixture
def aws(server, tmp_path):
    """Runs `aws --endpoint-url <server> …` in tmp_path with only the README's environment."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_PAGER": "",
    }

    def run(*args, check=True):
        result = subprocess.run([*AWS, "--endpoint-url", server.endpoint, *args], cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=300)
        if check:
            assert result.returncode == 0, f"aws {' '.join(args)} → {result.returncode}\n{result.stderr}"
        return result
    return run


def test_readme_flow(aws, tmp_path):
    name = unique_name("cli")
    (tmp_path / "function.zip").write_bytes(python_zip("from-the-cli"))
    (tmp_path / "event.json").write_text('{"name": "warren"}')
    try:
        created = aws("lambda", "create-function", "--function-name", name, "--runtime", "python3.11",
                      "--handler", "lambda_function.handler", "--role", ROLE, "--zip-file", "fileb://function.zip")
        created = json.loads(created.stdout)
        assert created["FunctionName"] == name
        assert created["FunctionArn"] == function_arn(name)

        aws("lambda", "wait", "function-active-v2", "--function-name", name)

        invoked = aws("lambda", "invoke", "--function-name", name, "--payload", "fileb://event.json", "out.json")
        assert json.loads(invoked.stdout) == {"StatusCode": 200, "ExecutedVersion": "$LATEST"}
        out = json.loads((tmp_path / "out.json").read_text())
        assert out["event"] == {"name": "warren"}
        assert out["marker"] == "from-the-cli"

        tail = aws("lambda", "invoke", "--function-name", name, "--payload", "fileb://event.json",
                   "--log-type", "Tail", "--query", "LogResult", "--output", "text", "tail.json")
        log = base64.b64decode(tail.stdout.strip()).decode()
        assert "START RequestId:" in log and "REPORT RequestId:" in log

        listed = json.loads(aws("lambda", "list-functions").stdout)
        assert name in [f["FunctionName"] for f in listed["Functions"]]
        text = aws("lambda", "list-functions", "--query", "Functions[].FunctionName", "--output", "text").stdout
        assert name in text.split()

        got = json.loads(aws("lambda", "get-function", "--function-name", name).stdout)
        assert got["Configuration"]["Runtime"] == "python3.11"

        deleted = aws("lambda", "delete-function", "--function-name", name)
        # botocore's model gives DeleteFunction a StatusCode output, which aws CLI v1 prints.
        assert deleted.stdout.strip() in ("", '{\n    "StatusCode": 204\n}'), deleted.stdout
        missing = aws("lambda", "get-function", "--function-name", name, check=False)
        assert missing.returncode in (254, 255), missing
        assert "ResourceNotFoundException" in missing.stderr
    finally:
        aws("lambda", "delete-function", "--function-name", name, check=False)


def test_function_error_and_bad_key(aws, server, tmp_path):
    name = unique_name("clierr")
    (tmp_path / "function.zip").write_bytes(python_zip())
    (tmp_path / "boom.json").write_text('{"action": "raise", "message": "cli boom"}')
    try:
        aws("lambda", "create-function", "--function-name", name, "--runtime", "python3.11",
            "--handler", "lambda_function.handler", "--role", ROLE, "--zip-file", "fileb://function.zip")
        aws("lambda", "wait", "function-active-v2", "--function-name", name)
        result = aws("lambda", "invoke", "--function-name", name, "--payload", "fileb://boom.json", "out.json")
        assert json.loads(result.stdout)["FunctionError"] == "Unhandled"
        assert json.loads((tmp_path / "out.json").read_text())["errorMessage"] == "cli boom"

        wrong = subprocess.run(
            [*AWS, "--endpoint-url", server.endpoint, "lambda", "list-functions"], cwd=tmp_path, capture_output=True,
            text=True, timeout=120,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
                 "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": "wrong", "AWS_DEFAULT_REGION": REGION,
                 "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
                 "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"), "AWS_MAX_ATTEMPTS": "1"})
        assert wrong.returncode in (254, 255), wrong
        assert "InvalidSignatureException" in wrong.stderr
    finally:
        aws("lambda", "delete-function", "--function-name", name, check=False)


def test_tags_through_the_cli(aws, tmp_path):
    name = unique_name("clitag")
    (tmp_path / "function.zip").write_bytes(python_zip())
    try:
        aws("lambda", "create-function", "--function-name", name, "--runtime", "python3.11",
            "--handler", "lambda_function.handler", "--role", ROLE, "--zip-file", "fileb://function.zip",
            "--tags", "team=warren")
        arn = function_arn(name)
        aws("lambda", "tag-resource", "--resource", arn, "--tags", "stage=test")
        assert json.loads(aws("lambda", "list-tags", "--resource", arn).stdout)["Tags"] == {
            "team": "warren", "stage": "test"}
        aws("lambda", "untag-resource", "--resource", arn, "--tag-keys", "team")
        got = json.loads(aws("lambda", "get-function", "--function-name", name).stdout)
        assert got["Tags"] == {"stage": "test"}
        refused = aws("lambda", "tag-resource", "--resource", arn + ":1", "--tags", "k=v", check=False)
        assert refused.returncode in (254, 255) and "InvalidParameterValueException" in refused.stderr
    finally:
        aws("lambda", "delete-function", "--function-name", name, check=False)
